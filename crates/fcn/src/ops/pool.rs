//! Max pooling for inference: the stem's 3×3 stride-2 pool, one plane per task,
//! without the argmax indices that only a backward pass needs.

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
                let y0 = (oy * stride[0]).saturating_sub(padding[0]);
                let y1 = (oy * stride[0] + kernel[0])
                    .saturating_sub(padding[0])
                    .min(h);
                let row = &mut dst[oy * ow..(oy + 1) * ow];
                row.fill(f32::NEG_INFINITY);
                for y in y0..y1 {
                    let line = &src[y * w..(y + 1) * w];
                    for (ox, best) in row.iter_mut().enumerate() {
                        let x0 = (ox * stride[1]).saturating_sub(padding[1]);
                        let x1 = (ox * stride[1] + kernel[1])
                            .saturating_sub(padding[1])
                            .min(w);
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
