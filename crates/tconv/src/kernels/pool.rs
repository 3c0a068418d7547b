//! Max pooling: the stem's 3×3 stride-2 pool, one plane per task. Each output row
//! is the maximum over its input rows taken element-wise first (a loop that
//! vectorises), then over each window's columns of that one row. The forward pass
//! keeps no argmax indices; the backward pass finds each window's winner again
//! from the saved input and the recomputed maximum.

use rayon::prelude::*;

/// Output side of a max pool (floor mode, dilation 1).
pub fn pooled_side(side: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (side + 2 * padding).saturating_sub(kernel) / stride.max(1) + 1
}

/// The input rows (or columns) `start..end` that output row `o` pools over.
fn window(o: usize, kernel: usize, stride: usize, padding: usize, side: usize) -> (usize, usize) {
    let start = (o * stride).saturating_sub(padding);
    let end = (o * stride + kernel).saturating_sub(padding).min(side);
    (start, end)
}

/// The larger of the two, NaN winning (PyTorch propagates NaN through pooling).
#[inline(always)]
fn pick(best: f32, v: f32) -> f32 {
    if v > best || v.is_nan() { v } else { best }
}

/// The windows of one pooling, per output row and per output column.
struct Windows {
    rows: Vec<(usize, usize)>,
    cols: Vec<(usize, usize)>,
    w: usize,
    /// The columns' kernel, stride and padding.
    across: [usize; 3],
}

impl Windows {
    fn new(
        (h, w): (usize, usize),
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Self {
        let oh = pooled_side(h, kernel[0], stride[0], padding[0]);
        let ow = pooled_side(w, kernel[1], stride[1], padding[1]);
        Self {
            rows: (0..oh)
                .map(|o| window(o, kernel[0], stride[0], padding[0], h))
                .collect(),
            cols: (0..ow)
                .map(|o| window(o, kernel[1], stride[1], padding[1], w))
                .collect(),
            w,
            across: [kernel[1], stride[1], padding[1]],
        }
    }

    /// Output row `oy` of plane `src` into `out`, with `vmax` (`w` long) as scratch.
    #[inline(always)]
    fn pool_row(&self, src: &[f32], oy: usize, vmax: &mut [f32], out: &mut [f32]) {
        let w = self.w;
        let (y0, y1) = self.rows[oy];
        let row = |y: usize| &src[y * w..(y + 1) * w];
        // Each pass stores values picked from its sources, never "keep `m` unless":
        // that form compiled to masked stores, microcoded on AMD's CPUs (half of
        // the pool's time on the AVX2 path).
        match y1 - y0 {
            0 => vmax.fill(f32::NEG_INFINITY),
            1 => vmax.copy_from_slice(row(y0)),
            2 => {
                for ((m, &a), &b) in vmax.iter_mut().zip(row(y0)).zip(row(y0 + 1)) {
                    *m = pick(a, b);
                }
            }
            _ => {
                let rows = row(y0).iter().zip(row(y0 + 1)).zip(row(y0 + 2));
                for (m, ((&a, &b), &c)) in vmax.iter_mut().zip(rows) {
                    *m = pick(pick(a, b), c);
                }
            }
        }
        for y in (y0 + 3).min(y1)..y1 {
            for (m, &v) in vmax.iter_mut().zip(row(y)) {
                *m = pick(*m, v);
            }
        }
        let inner = self.inner_stem_columns();
        for ox in (0..inner.start).chain(inner.end..self.cols.len()) {
            let (x0, x1) = self.cols[ox];
            out[ox] = vmax[x0..x1]
                .iter()
                .fold(f32::NEG_INFINITY, |b, &v| pick(b, v));
        }
        if inner.is_empty() {
            return;
        }
        // Output `lo + i` pools columns `first + 2i ..= first + 2i + 2`: a loop over
        // `i` with the same picks in the same order as the fold above, which the
        // compiler vectorises (the fold alone was about 2/3 of the pool's time).
        let n = inner.len();
        let v = &vmax[2 * inner.start - self.across[2]..][..2 * n + 1];
        for (i, o) in out[inner].iter_mut().enumerate() {
            *o = pick(pick(v[2 * i], v[2 * i + 1]), v[2 * i + 2]);
        }
    }

    /// The output columns whose whole 3-wide window of stride 2 (the stem's pool)
    /// lies inside the row; empty for other pools.
    fn inner_stem_columns(&self) -> std::ops::Range<usize> {
        let [k, s, p] = self.across;
        if k != 3 || s != 2 || self.w + p < 3 {
            return 0..0;
        }
        let lo = p.div_ceil(2);
        let hi = ((self.w + p - 3) / 2 + 1).min(self.cols.len());
        lo..hi.max(lo)
    }
}

/// Max pooling of `planes` planes of `h × w` (dense, row-major) with padding that
/// never wins (as PyTorch pads with −∞).
pub fn max_pool2d(
    input: &[f32],
    (h, w): (usize, usize),
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> (Vec<f32>, (usize, usize)) {
    let win = Windows::new((h, w), kernel, stride, padding);
    let (oh, ow) = (win.rows.len(), win.cols.len());
    let planes = input.len() / (h * w).max(1);
    let mut out = vec![0.0f32; planes * oh * ow];
    if oh * ow == 0 || h * w == 0 {
        return (out, (oh, ow));
    }
    out.par_chunks_mut(oh * ow)
        .zip(input.par_chunks(h * w))
        .for_each_init(
            || vec![0.0f32; w],
            |vmax, (dst, src)| {
                crate::kernels::simd::wide(
                    #[inline(always)]
                    || {
                        for (oy, row) in dst.chunks_mut(ow).enumerate() {
                            win.pool_row(src, oy, vmax, row);
                        }
                    },
                )
            },
        );
    (out, (oh, ow))
}

/// Gradient of [`max_pool2d`] with respect to its input: each output's gradient
/// goes to the first maximum of its window in row-major order (PyTorch's choice
/// on ties), and adds up where windows overlap.
pub fn max_pool2d_backward(
    input: &[f32],
    grad: &[f32],
    (h, w): (usize, usize),
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Vec<f32> {
    let win = Windows::new((h, w), kernel, stride, padding);
    let (oh, ow) = (win.rows.len(), win.cols.len());
    let mut out = vec![0.0f32; input.len()];
    if oh * ow == 0 || h * w == 0 {
        return out;
    }
    out.par_chunks_mut(h * w)
        .zip(input.par_chunks(h * w))
        .zip(grad.par_chunks(oh * ow))
        .for_each_init(
            || (vec![0.0f32; w], vec![0.0f32; ow]),
            |(vmax, best), ((dst, src), g)| {
                crate::kernels::simd::wide(
                    #[inline(always)]
                    || {
                        for oy in 0..oh {
                            win.pool_row(src, oy, vmax, best);
                            let (y0, y1) = win.rows[oy];
                            for (ox, (&(x0, x1), &m)) in
                                win.cols.iter().zip(best.iter()).enumerate()
                            {
                                let hit = |v: f32| v == m || (m.is_nan() && v.is_nan());
                                let at = (y0..y1)
                                    .flat_map(|y| (x0..x1).map(move |x| y * w + x))
                                    .find(|&i| hit(src[i]));
                                if let Some(i) = at {
                                    dst[i] += g[oy * ow + ox];
                                }
                            }
                        }
                    },
                )
            },
        );
    out
}
