//! A polygon to the mask pycocotools makes of it (`rleFrPoly` in its
//! `maskApi.c`), step for step, so that masks agree pixel for pixel: the
//! vertices scaled by 5 and rounded; the boundary walked densely between them at
//! that scale; the points where it crosses a pixel column's centre kept and
//! scaled back; each such crossing toggles the column's pixels from its row
//! down; the toggles sorted into run lengths.

use super::rle::Rle;

/// The boundary is walked at this many steps a pixel.
const SCALE: f64 = 5.0;

/// The mask of polygon `xy` (`[x0, y0, x1, y1, …]`, at least three vertices,
/// finite) in a `height × width` image.
pub fn rasterize(xy: &[f64], height: usize, width: usize) -> Rle {
    let (u, v) = boundary(xy);
    let crossings = column_crossings(&u, &v, height, width);
    Rle {
        height,
        width,
        counts: runs(crossings, height, width),
    }
}

/// C's `(int)(v + 0.5)`: rounding that truncates towards zero afterwards, as the
/// reference does (so -0.7 becomes 0, not -1).
fn c_round(v: f64) -> i64 {
    (v + 0.5) as i64
}

/// Every point of the closed boundary at the scaled resolution, as the reference
/// walks it: each edge from its start to its end, stepping along its longer axis,
/// with the rounding of the edge drawn from its lower end.
fn boundary(xy: &[f64]) -> (Vec<i64>, Vec<i64>) {
    let k = xy.len() / 2;
    let x: Vec<i64> = (0..=k).map(|j| c_round(SCALE * xy[(j % k) * 2])).collect();
    let y: Vec<i64> = (0..=k)
        .map(|j| c_round(SCALE * xy[(j % k) * 2 + 1]))
        .collect();
    let (mut u, mut v) = (Vec::new(), Vec::new());
    for j in 0..k {
        let (mut xs, mut xe, mut ys, mut ye) = (x[j], x[j + 1], y[j], y[j + 1]);
        let (dx, dy) = ((xe - xs).abs(), (ys - ye).abs());
        let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if flip {
            std::mem::swap(&mut xs, &mut xe);
            std::mem::swap(&mut ys, &mut ye);
        }
        if dx >= dy {
            // A zero-length edge divides 0 by 0, as the reference does; its one
            // point never counts (its column equals its neighbours').
            let s = (ye - ys) as f64 / dx as f64;
            for d in 0..=dx {
                let t = if flip { dx - d } else { d };
                u.push(t + xs);
                v.push((ys as f64 + s * t as f64 + 0.5) as i64);
            }
        } else {
            let s = (xe - xs) as f64 / dy as f64;
            for d in 0..=dy {
                let t = if flip { dy - d } else { d };
                v.push(t + ys);
                u.push((xs as f64 + s * t as f64 + 0.5) as i64);
            }
        }
    }
    (u, v)
}

/// The boundary's crossings of pixel-column centres, back at pixel scale: the
/// column and the first row at or below the crossing (clamped to the image).
fn column_crossings(u: &[i64], v: &[i64], height: usize, width: usize) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for j in 1..u.len() {
        if u[j] == u[j - 1] {
            continue;
        }
        let xd = if u[j] < u[j - 1] { u[j] } else { u[j] - 1 } as f64;
        let xd = (xd + 0.5) / SCALE - 0.5;
        if xd.floor() != xd || xd < 0.0 || xd > (width - 1) as f64 {
            continue;
        }
        let yd = v[j].min(v[j - 1]) as f64;
        let yd = ((yd + 0.5) / SCALE - 0.5).clamp(0.0, height as f64).ceil();
        out.push((xd as u64, yd as u64));
    }
    out
}

/// Run lengths from the crossings: each toggles the mask at its column-major
/// index; toggles at the same index cancel.
fn runs(crossings: Vec<(u64, u64)>, height: usize, width: usize) -> Vec<u32> {
    let h = height as u64;
    let mut at: Vec<u64> = crossings.iter().map(|&(x, y)| x * h + y).collect();
    at.push(h * width as u64);
    at.sort_unstable();
    let mut previous = 0;
    let gaps: Vec<u64> = at
        .into_iter()
        .map(|a| {
            let gap = a - previous;
            previous = a;
            gap
        })
        .collect();
    // A zero gap means two toggles at one index: it joins the runs either side.
    let mut counts = vec![gaps[0]];
    let mut j = 1;
    while j < gaps.len() {
        if gaps[j] > 0 {
            counts.push(gaps[j]);
            j += 1;
        } else {
            j += 1;
            if j < gaps.len() {
                *counts.last_mut().expect("one count at least") += gaps[j];
                j += 1;
            }
        }
    }
    counts.into_iter().map(|c| c as u32).collect()
}
