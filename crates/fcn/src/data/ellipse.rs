//! The rows of a filled ellipse as PIL draws it (`ImageDraw.ellipse`, its
//! "new" ellipse of Pillow 8.2 and later): a quarter of the outline is traced on
//! a grid of doubled coordinates, stepping to whichever neighbour lies nearest
//! the curve, and each row between the outline and its mirror is one span.

/// A quarter outline of the ellipse with doubled semi-axes `a`, `b`, from
/// `(a, b mod 2)` up to `(a mod 2, b)` in steps of 2.
struct Quarter {
    // Wide enough that no box a shape may have overflows (PIL's 64 bits do
    // past semi-axes of about 55,000 pixels).
    a2: i128,
    b2: i128,
    at: Option<(i64, i64)>,
    end: (i64, i64),
}

impl Quarter {
    fn new(a: i64, b: i64) -> Self {
        Self {
            a2: (a as i128) * (a as i128),
            b2: (b as i128) * (b as i128),
            at: (a >= 0 && b >= 0).then_some((a, b % 2)),
            end: (a % 2, b),
        }
    }

    /// How far `(x, y)` is off the curve `b²x² + a²y² = a²b²`.
    fn miss(&self, x: i64, y: i64) -> i128 {
        let (x, y) = (x as i128, y as i128);
        (self.a2 * y * y + self.b2 * x * x - self.a2 * self.b2).abs()
    }
}

impl Iterator for Quarter {
    type Item = (i64, i64);

    fn next(&mut self) -> Option<(i64, i64)> {
        let (x, y) = self.at?;
        self.at = if (x, y) == self.end {
            None
        } else {
            // Up, or diagonally up-left, or left: the nearest to the curve, up
            // winning ties, then the diagonal.
            let mut best = ((x, y + 2), self.miss(x, y + 2));
            if x > 1 {
                for step in [(x - 2, y + 2), (x - 2, y)] {
                    let miss = self.miss(step.0, step.1);
                    if miss < best.1 {
                        best = (step, miss);
                    }
                }
            }
            Some(best.0)
        };
        Some((x, y))
    }
}

/// Calls `span(left, y, right)` for each span of a filled ellipse with axes `a`,
/// `b` (the box's width and height less one), on the doubled grid centred on the
/// ellipse: a pixel row is `(y + b) / 2`, a column `(x + a) / 2`.
pub fn filled_spans(a: i64, b: i64, mut span: impl FnMut(i64, i64, i64)) {
    let width = a + b;
    let leftmost = a % 2;
    let mut outer = Quarter::new(a, b);
    let Some((mut right, mut row)) = outer.next().filter(|_| width >= 1) else {
        return;
    };
    // A filled ellipse's inner outline has negative axes: it is empty.
    let mut inner = Quarter::new(a - 2 * (width - 1), b - 2 * (width - 1));
    let mut left_next = leftmost;
    let mut finished = false;
    while !finished {
        let (y, mut l, r) = (row, left_next, right);
        match outer.by_ref().find(|&(_, cy)| cy > y) {
            Some((cx, cy)) => (right, row) = (cx, cy),
            None => finished = true,
        }
        let mut beyond = None;
        for (cx, cy) in inner.by_ref() {
            if cy > y {
                beyond = Some(cx);
                break;
            }
            l = cx;
        }
        left_next = beyond.unwrap_or(leftmost);
        let inner_left = if l == 0 { 2 } else { l };
        if (l > 0 || l < r) && y > 0 {
            span(inner_left, y, r);
        }
        if y > 0 {
            span(-r, y, -l);
        }
        if l > 0 || l < r {
            span(inner_left, -y, r);
        }
        span(-r, -y, -l);
    }
}
