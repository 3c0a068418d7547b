//! Filled shapes rasterised as PIL's `ImageDraw` does on an 8-bit image, which is
//! how labelme turns its shapes into masks (`shape_to_mask`: `polygon`,
//! `rectangle` and `ellipse` with outline and fill of one colour, which PIL
//! draws as the fill alone, and `line` of width 10). Coordinates are truncated
//! to integers first, as PIL does; a pixel is covered by its centre, with
//! PIL's scanline rules at edges and corners, so masks agree with labelme's.

use ndarray::Array2;

/// A mask and the label shapes are painted with.
pub struct Canvas<'a> {
    mask: &'a mut Array2<u8>,
    ink: u8,
}

/// PIL's rounding of a half away from zero (`ROUND_UP`), in the precision the
/// value was computed in; `ROUND_DOWN` rounds a half towards zero.
fn round_up32(f: f32) -> i64 {
    if f >= 0.0 {
        (f + 0.5).floor() as i64
    } else {
        -((f.abs() + 0.5).floor() as i64)
    }
}

fn round_down32(f: f32) -> i64 {
    if f >= 0.0 {
        (f - 0.5).ceil() as i64
    } else {
        -((f.abs() - 0.5).ceil() as i64)
    }
}

fn round_up64(f: f64) -> i64 {
    if f >= 0.0 {
        (f + 0.5).floor() as i64
    } else {
        -((f.abs() + 0.5).floor() as i64)
    }
}

fn round_down64(f: f64) -> i64 {
    if f >= 0.0 {
        (f - 0.5).ceil() as i64
    } else {
        -((f.abs() - 0.5).ceil() as i64)
    }
}

/// One polygon edge between integer vertices, as the scanline fill keeps it.
#[derive(Debug, Clone, Copy)]
struct Edge {
    x0: i64,
    y0: i64,
    xmin: i64,
    xmax: i64,
    ymin: i64,
    ymax: i64,
    /// x per unit of y (0 for a horizontal edge), in single precision as PIL has it.
    dx: f32,
}

impl Edge {
    fn new(x0: i64, y0: i64, x1: i64, y1: i64) -> Self {
        let dx = if y0 == y1 {
            0.0
        } else {
            (x1 - x0) as f32 / (y1 - y0) as f32
        };
        Self {
            x0,
            y0,
            xmin: x0.min(x1),
            xmax: x0.max(x1),
            ymin: y0.min(y1),
            ymax: y0.max(y1),
            dx,
        }
    }

    /// The edge's x on row `y` (extended past its ends).
    fn x_at(&self, y: i64) -> f32 {
        (y - self.y0) as f32 * self.dx + self.x0 as f32
    }

    fn touches(&self, y: i64) -> bool {
        y == self.ymin || y == self.ymax
    }
}

impl<'a> Canvas<'a> {
    pub fn new(mask: &'a mut Array2<u8>, ink: u8) -> Self {
        Self { mask, ink }
    }

    fn size(&self) -> (i64, i64) {
        let (h, w) = self.mask.dim();
        (w as i64, h as i64)
    }

    /// Pixels `x0..=x1` of row `y`, clipped to the mask.
    fn hline(&mut self, x0: i64, y: i64, x1: i64) {
        let (w, h) = self.size();
        if y < 0 || y >= h || x1 < 0 || x0 >= w {
            return;
        }
        let (x0, x1) = (x0.max(0), x1.min(w - 1));
        for x in x0..=x1 {
            self.mask[[y as usize, x as usize]] = self.ink;
        }
    }

    fn point(&mut self, x: i64, y: i64) {
        self.hline(x, y, x);
    }

    /// One pixel, if it is in the mask.
    pub fn dot(&mut self, x: i64, y: i64) {
        self.point(x, y);
    }

    /// A filled polygon through `points` (closed), as `ImageDraw.polygon`.
    pub fn polygon(&mut self, points: &[[f64; 2]]) {
        let xy: Vec<(i64, i64)> = points.iter().map(|p| (p[0] as i64, p[1] as i64)).collect();
        let mut edges: Vec<Edge> = Vec::with_capacity(xy.len());
        for i in 0..xy.len() - 1 {
            let ((x0, y0), (x1, y1)) = (xy[i], xy[i + 1]);
            // A horizontal edge continuing a horizontal edge the same way extends it.
            if i > 0 && y0 == y1 && y0 == xy[i - 1].1 {
                let before = xy[i - 1].0;
                let last = edges.last_mut().expect("an edge before");
                if x1 > x0 && x0 > before {
                    last.xmax = x1;
                    continue;
                }
                if x1 < x0 && x0 < before {
                    last.xmin = x1;
                    continue;
                }
            }
            edges.push(Edge::new(x0, y0, x1, y1));
        }
        let (first, last) = (xy[0], xy[xy.len() - 1]);
        if last != first {
            edges.push(Edge::new(last.0, last.1, first.0, first.1));
        }
        self.fill_edges(&edges);
    }

    /// The scanline fill of PIL's `polygon_generic`.
    fn fill_edges(&mut self, all: &[Edge]) {
        let (_, height) = self.size();
        let mut ymin = height - 1;
        let mut ymax = 0;
        let mut edges = Vec::with_capacity(all.len());
        for e in all {
            ymin = ymin.min(e.ymin);
            ymax = ymax.max(e.ymax);
            if e.ymin == e.ymax {
                self.hline(e.xmin, e.ymin, e.xmax);
            } else {
                edges.push(*e);
            }
        }
        let (ymin, ymax) = (ymin.max(0), ymax.min(height));
        let mut xx: Vec<f32> = Vec::with_capacity(edges.len() * 2);
        for y in ymin..=ymax {
            xx.clear();
            for (i, current) in edges.iter().enumerate() {
                if y < current.ymin || y > current.ymax {
                    continue;
                }
                xx.push(current.x_at(y));
                if y == current.ymax && y < ymax {
                    // The edge's end counts twice, so a vertex joining two edges
                    // keeps the spans either side consistent.
                    xx.push(*xx.last().expect("just pushed"));
                } else if current.touches(y) && current.dx != 0.0 {
                    let x = xx.last_mut().expect("just pushed");
                    connect_corner(x, current, &edges[..i], y);
                }
            }
            xx.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            for pair in xx.chunks_exact(2) {
                self.hline(round_up32(pair[0]), y, round_down32(pair[1]));
            }
        }
    }

    /// A filled rectangle with corners `a` and `b`, as `ImageDraw.rectangle`
    /// (corners in either order: labelme's own drawing refuses reversed ones).
    pub fn rectangle(&mut self, a: [f64; 2], b: [f64; 2]) {
        let (x0, x1) = (a[0].min(b[0]) as i64, a[0].max(b[0]) as i64);
        let (y0, y1) = (a[1].min(b[1]) as i64, a[1].max(b[1]) as i64);
        let (_, height) = self.size();
        if y0 >= height || y1 < 0 {
            return;
        }
        for y in y0.max(0)..=y1.min(height) {
            self.hline(x0, y, x1);
        }
    }

    /// A filled ellipse in the box `[x0, y0, x1, y1]`, as `ImageDraw.ellipse`.
    pub fn ellipse(&mut self, bounds: [f64; 4]) {
        let [x0, y0, x1, y1] = bounds.map(|v| v as i64);
        let (a, b) = (x1 - x0, y1 - y0);
        if a < 0 || b < 0 {
            return;
        }
        super::ellipse::filled_spans(a, b, |l, y, r| {
            self.hline(x0 + (l + a) / 2, y0 + (y + b) / 2, x0 + (r + a) / 2);
        });
    }

    /// Segments through `points` of `width` pixels, as `ImageDraw.line` without
    /// joints: each a filled quadrilateral.
    pub fn wide_line(&mut self, points: &[[f64; 2]], width: u32) {
        for pair in points.windows(2) {
            let [x0, y0] = pair[0].map(|v| v as i64);
            let [x1, y1] = pair[1].map(|v| v as i64);
            self.wide_segment((x0, y0), (x1, y1), width);
        }
    }

    fn wide_segment(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), width: u32) {
        let (dx, dy) = (x1 - x0, y1 - y0);
        if dx == 0 && dy == 0 {
            self.point(x0, y0);
            return;
        }
        let length = (dx as f64).hypot(dy as f64);
        let half = (width as f64 - 1.0) / 2.0;
        let ratio_max = round_up64(half) as f64 / length;
        let ratio_min = round_down64(half) as f64 / length;
        let dxmin = round_down64(ratio_min * dy as f64);
        let dxmax = round_down64(ratio_max * dy as f64);
        let dymin = round_down64(ratio_min * dx as f64);
        let dymax = round_down64(ratio_max * dx as f64);
        let v = [
            (x0 - dxmin, y0 + dymax),
            (x1 - dxmin, y1 + dymax),
            (x1 + dxmax, y1 - dymin),
            (x0 + dxmax, y0 - dymin),
        ];
        let edges: Vec<Edge> = (0..4)
            .map(|i| Edge::new(v[i].0, v[i].1, v[(i + 1) % 4].0, v[(i + 1) % 4].1))
            .collect();
        self.fill_edges(&edges);
    }
}

/// PIL's fix for corners where two sloped edges meet at a row that is the end
/// of both: the crossing `x` of `current` moves out to where the edges are on the
/// next row (the previous on the last), so the corner is not cut off.
fn connect_corner(x: &mut f32, current: &Edge, earlier: &[Edge], y: i64) {
    for other in earlier {
        if !other.touches(y) || other.dx == 0.0 {
            continue;
        }
        if x.round() != other.x_at(y).round() {
            continue;
        }
        let offset = if y == current.ymax { -1 } else { 1 };
        let here = current.x_at(y + offset);
        if y + offset < other.ymin || y + offset > other.ymax {
            continue;
        }
        let there = other.x_at(y + offset);
        if *x > here + 1.0 && *x > there + 1.0 {
            *x = here.max(there).round() + 1.0;
        } else if *x < here - 1.0 && *x < there - 1.0 {
            *x = here.min(there).round() - 1.0;
        }
        break;
    }
}
