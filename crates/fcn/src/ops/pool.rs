//! Max pooling: the stem's 3×3 stride-2 pool, one plane per task. The forward pass
//! keeps no argmax indices; the backward pass finds each window's winner again
//! from the saved input (nine comparisons per output, cheaper than writing and
//! reading an index tensor).

use rayon::prelude::*;

/// Output side of a max pool (floor mode, dilation 1).
pub fn pooled_side(side: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (side + 2 * padding).saturating_sub(kernel) / stride.max(1) + 1
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
    let oh = pooled_side(h, kernel[0], stride[0], padding[0]);
    let ow = pooled_side(w, kernel[1], stride[1], padding[1]);
    let planes = input.len() / (h * w).max(1);
    let mut out = vec![0.0f32; planes * oh * ow];
    if oh * ow == 0 {
        return (out, (oh, ow));
    }
    out.par_chunks_mut(oh * ow)
        .zip(input.par_chunks(h * w))
        .for_each(|(dst, src)| {
            for oy in 0..oh {
                let (y0, y1) = window(oy, kernel[0], stride[0], padding[0], h);
                let row = &mut dst[oy * ow..(oy + 1) * ow];
                row.fill(f32::NEG_INFINITY);
                for y in y0..y1 {
                    let line = &src[y * w..(y + 1) * w];
                    for (ox, best) in row.iter_mut().enumerate() {
                        let (x0, x1) = window(ox, kernel[1], stride[1], padding[1], w);
                        for &v in &line[x0..x1] {
                            // NaN propagates, as in PyTorch.
                            if v > *best || v.is_nan() {
                                *best = v;
                            }
                        }
                    }
                }
            }
        });
    (out, (oh, ow))
}

/// The input rows (or columns) `start..end` that output row `o` pools over.
fn window(o: usize, kernel: usize, stride: usize, padding: usize, side: usize) -> (usize, usize) {
    let start = (o * stride).saturating_sub(padding);
    let end = (o * stride + kernel).saturating_sub(padding).min(side);
    (start, end)
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
    let oh = pooled_side(h, kernel[0], stride[0], padding[0]);
    let ow = pooled_side(w, kernel[1], stride[1], padding[1]);
    let mut out = vec![0.0f32; input.len()];
    if oh * ow == 0 || h * w == 0 {
        return out;
    }
    out.par_chunks_mut(h * w)
        .zip(input.par_chunks(h * w))
        .zip(grad.par_chunks(oh * ow))
        .for_each(|((dst, src), g)| {
            for oy in 0..oh {
                let (y0, y1) = window(oy, kernel[0], stride[0], padding[0], h);
                for ox in 0..ow {
                    let (x0, x1) = window(ox, kernel[1], stride[1], padding[1], w);
                    let mut best = (f32::NEG_INFINITY, None);
                    for y in y0..y1 {
                        for x in x0..x1 {
                            let v = src[y * w + x];
                            if best.1.is_none() || v > best.0 || (v.is_nan() && !best.0.is_nan()) {
                                best = (v, Some(y * w + x));
                            }
                        }
                    }
                    if let Some(at) = best.1 {
                        dst[at] += g[oy * ow + ox];
                    }
                }
            }
        });
    out
}
