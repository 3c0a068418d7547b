//! Bilinear resizing with PyTorch's `F.interpolate(..., mode="bilinear",
//! align_corners=False)` semantics, and its gradient, one plane at a time: each
//! output row (column) blends two input rows (columns), so a plane costs two passes
//! of two products per output instead of a matrix product per axis.

use rayon::prelude::*;

/// One output index's two input neighbours: `(1 − far)·x[lo] + far·x[hi]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Taps {
    pub lo: usize,
    pub hi: usize,
    pub far: f32,
}

/// PyTorch maps output index `d` to the source coordinate `(d + ½)·input/out − ½`,
/// clamped at 0, and blends the two input indices around it (the last one twice at
/// the far edge). Empty when either size is 0.
pub fn bilinear_taps(out: usize, input: usize) -> Vec<Taps> {
    if input == 0 {
        return Vec::new();
    }
    let scale = input as f32 / out as f32;
    (0..out)
        .map(|d| {
            let src = ((d as f32 + 0.5) * scale - 0.5).max(0.0);
            let lo = (src as usize).min(input - 1);
            Taps {
                lo,
                hi: (lo + 1).min(input - 1),
                far: src - lo as f32,
            }
        })
        .collect()
}

/// Planes of `[h, w]` in `x` resized to `[oh, ow]`.
pub fn resize_bilinear(x: &[f32], [h, w]: [usize; 2], [oh, ow]: [usize; 2]) -> Vec<f32> {
    let (ty, tx) = (bilinear_taps(oh, h), bilinear_taps(ow, w));
    per_plane(x, h * w, oh * ow, h * ow, |rows, out, x| {
        // Every input row resized across, then each output row blended from two.
        for (row, src) in rows.chunks_mut(ow).zip(x.chunks(w)) {
            for (o, t) in row.iter_mut().zip(&tx) {
                *o = (1.0 - t.far) * src[t.lo] + t.far * src[t.hi];
            }
        }
        for (dst, t) in out.chunks_mut(ow).zip(&ty) {
            let (a, b) = (&rows[t.lo * ow..][..ow], &rows[t.hi * ow..][..ow]);
            let near = 1.0 - t.far;
            for ((o, &a), &b) in dst.iter_mut().zip(a).zip(b) {
                *o = near * a + t.far * b;
            }
        }
    })
}

/// The gradient of [`resize_bilinear`] from `[h, w]` to `[oh, ow]`: `grad`'s planes
/// of `[oh, ow]` sent back to the input neighbours with the forward's weights.
pub fn resize_bilinear_backward(
    grad: &[f32],
    [h, w]: [usize; 2],
    [oh, ow]: [usize; 2],
) -> Vec<f32> {
    let (ty, tx) = (bilinear_taps(oh, h), bilinear_taps(ow, w));
    per_plane(grad, oh * ow, h * w, h * ow, |rows, gx, g| {
        // Down the columns into rows of the input's height, then across.
        rows.fill(0.0);
        for (src, t) in g.chunks(ow).zip(&ty) {
            let near = 1.0 - t.far;
            for (r, &v) in rows[t.lo * ow..][..ow].iter_mut().zip(src) {
                *r += near * v;
            }
            for (r, &v) in rows[t.hi * ow..][..ow].iter_mut().zip(src) {
                *r += t.far * v;
            }
        }
        for (dst, row) in gx.chunks_mut(w).zip(rows.chunks(ow)) {
            for (&v, t) in row.iter().zip(&tx) {
                dst[t.lo] += (1.0 - t.far) * v;
                dst[t.hi] += t.far * v;
            }
        }
    })
}

/// A zeroed vector of `dst_plane`-element planes, one per `src_plane` elements of
/// `src`, each filled by `f(scratch, dst plane, src plane)` in parallel, with a
/// thread's `scratch` elements.
fn per_plane(
    src: &[f32],
    src_plane: usize,
    dst_plane: usize,
    scratch: usize,
    f: impl Fn(&mut [f32], &mut [f32], &[f32]) + Sync,
) -> Vec<f32> {
    let planes = src.len().checked_div(src_plane).unwrap_or(0);
    let mut dst = vec![0.0f32; planes * dst_plane];
    if dst.is_empty() {
        return dst;
    }
    dst.par_chunks_mut(dst_plane)
        .zip(src.par_chunks(src_plane))
        .for_each_init(|| vec![0.0f32; scratch], |s, (d, x)| f(s, d, x));
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dense `[out, input]` matrix of one axis, from the taps.
    fn matrix(out: usize, input: usize) -> Vec<f64> {
        let mut m = vec![0.0; out * input];
        for (d, t) in bilinear_taps(out, input).iter().enumerate() {
            m[d * input + t.lo] += 1.0 - t.far as f64;
            m[d * input + t.hi] += t.far as f64;
        }
        m
    }

    fn ramp(n: usize, k: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + 1.0) * k).sin()).collect()
    }

    /// `Ry · X · Rxᵀ` per plane, in f64.
    fn by_matrices(x: &[f32], [h, w]: [usize; 2], [oh, ow]: [usize; 2]) -> Vec<f64> {
        let (ry, rx) = (matrix(oh, h), matrix(ow, w));
        let mut out = Vec::new();
        for plane in x.chunks(h * w) {
            for y in 0..oh {
                for xo in 0..ow {
                    let mut s = 0.0;
                    for i in 0..h {
                        for j in 0..w {
                            s += ry[y * h + i] * plane[i * w + j] as f64 * rx[xo * w + j];
                        }
                    }
                    out.push(s);
                }
            }
        }
        out
    }

    /// Worked by hand from PyTorch's formula: 2 → 4 samples at source coordinates
    /// −0.25 (clamped to 0), 0.25, 0.75 and 1.25 (past the last input: all on it).
    #[test]
    fn taps_by_hand() {
        let t = |lo, hi, far| Taps { lo, hi, far };
        let want = [t(0, 1, 0.0), t(0, 1, 0.25), t(0, 1, 0.75), t(1, 1, 0.25)];
        assert_eq!(bilinear_taps(4, 2), want);
        assert_eq!(bilinear_taps(2, 4), [t(0, 1, 0.5), t(2, 3, 0.5)]);
        assert!(bilinear_taps(3, 0).is_empty());
    }

    const SIZES: [([usize; 2], [usize; 2]); 6] = [
        ([13, 19], [100, 150]),
        ([16, 24], [128, 192]),
        ([7, 5], [3, 11]),
        ([1, 4], [5, 1]),
        ([6, 6], [6, 6]),
        ([9, 2], [4, 7]),
    ];

    #[test]
    fn resizing_equals_the_two_matrix_products() {
        for (from, to) in SIZES {
            let x = ramp(3 * from[0] * from[1], 0.37);
            let got = resize_bilinear(&x, from, to);
            let want = by_matrices(&x, from, to);
            assert_eq!(got.len(), want.len());
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (*a as f64 - b).abs() < 1e-5,
                    "{from:?}→{to:?} [{i}]: {a} vs {b}"
                );
            }
        }
    }

    /// The backward pass is the forward's adjoint: ⟨resize(x), g⟩ = ⟨x, backward(g)⟩.
    #[test]
    fn the_gradient_is_the_adjoint() {
        for (from, to) in SIZES {
            let x = ramp(2 * from[0] * from[1], 0.53);
            let g = ramp(2 * to[0] * to[1], 0.29);
            let y = by_matrices(&x, from, to);
            let gx = resize_bilinear_backward(&g, from, to);
            let lhs: f64 = y.iter().zip(&g).map(|(a, b)| a * *b as f64).sum();
            let rhs: f64 = x.iter().zip(&gx).map(|(a, b)| *a as f64 * *b as f64).sum();
            assert!(
                (lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0),
                "{from:?}→{to:?}: {lhs} vs {rhs}"
            );
        }
    }
}
