//! BatchNorm in training, per channel and in parallel: statistics in two passes
//! (mean, then variance about it), the normalisation in one, and the backward pass
//! in two. Burn's generic version composes a dozen whole-tensor ops.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::kernels::lanes::lane_sum;
use crate::kernels::uninit::par_filled;

/// Per-channel `(mean, biased variance)` of `x` laid out `[n, c, plane]`.
pub fn stats(x: &[f32], n: usize, c: usize, plane: usize) -> (Vec<f32>, Vec<f32>) {
    let count = (n * plane).max(1) as f64;
    let per_channel: Vec<(f32, f32)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            crate::kernels::simd::wide(
                #[inline(always)]
                || {
                    let planes = || (0..n).map(move |b| &x[(b * c + ch) * plane..][..plane]);
                    let sum: f64 = planes().map(|p| lane_sum(p, p, |v, _| v)).sum();
                    let mean = sum / count;
                    let m = mean as f32;
                    let sq: f64 = planes()
                        .map(|p| lane_sum(p, p, |v, _| (v - m) * (v - m)))
                        .sum();
                    (mean as f32, (sq / count) as f32)
                },
            )
        })
        .collect();
    per_channel.into_iter().unzip()
}

/// `1 / sqrt(var + eps)` per channel.
pub fn inv_std(var: &[f32], eps: f64) -> Vec<f32> {
    var.iter()
        .map(|&v| (1.0 / (v as f64 + eps).sqrt()) as f32)
        .collect()
}

/// `(x − mean) · inv_std · gamma + beta`, per channel.
pub fn normalize(
    x: &[f32],
    c: usize,
    plane: usize,
    (mean, inv_std): (&[f32], &[f32]),
    (gamma, beta): (&[f32], &[f32]),
) -> Vec<f32> {
    let plane = plane.max(1);
    let fill = |i: usize, out: &mut [MaybeUninit<f32>]| {
        let ch = i % c;
        let a = inv_std[ch] * gamma[ch];
        let b = beta[ch] - mean[ch] * a;
        let src = &x[i * plane..][..out.len()];
        crate::kernels::simd::wide(
            #[inline(always)]
            || {
                for (o, &v) in out.iter_mut().zip(src) {
                    o.write(v * a + b);
                }
            },
        )
    };
    // SAFETY: `fill` writes every element of its chunk (`src` is as long).
    unsafe { par_filled(x.len(), plane, fill) }
}

/// Gradients of [`normalize`] with the statistics taken from `x` itself:
/// `(grad x, grad gamma, grad beta)`.
pub fn backward(
    x: &[f32],
    grad: &[f32],
    (n, c, plane): (usize, usize, usize),
    (mean, inv_std): (&[f32], &[f32]),
    gamma: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let count = (n * plane).max(1) as f64;
    // Per channel: Σ grad and Σ grad · x̂.
    let sums: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            crate::kernels::simd::wide(
                #[inline(always)]
                || {
                    let (m, s) = (mean[ch], inv_std[ch]);
                    let (mut sg, mut sgx) = (0.0f64, 0.0f64);
                    for b in 0..n {
                        let at = (b * c + ch) * plane;
                        let (g, v) = (&grad[at..at + plane], &x[at..at + plane]);
                        sg += lane_sum(g, v, |g, _| g);
                        sgx += lane_sum(g, v, |g, v| g * (v - m)) * s as f64;
                    }
                    (sg, sgx)
                },
            )
        })
        .collect();
    let fill = |i: usize, out: &mut [MaybeUninit<f32>]| {
        let ch = i % c;
        let (sg, sgx) = sums[ch];
        let (m, s) = (mean[ch], inv_std[ch]);
        let k = gamma[ch] * s;
        let (mg, mgx) = ((sg / count) as f32, (sgx / count) as f32);
        let at = i * plane;
        let (g, v) = (&grad[at..][..out.len()], &x[at..][..out.len()]);
        crate::kernels::simd::wide(
            #[inline(always)]
            || {
                for ((o, &g), &v) in out.iter_mut().zip(g).zip(v) {
                    o.write(k * (g - mg - (v - m) * s * mgx));
                }
            },
        )
    };
    // SAFETY: `fill` writes every element of its chunk (`g` and `v` are as long).
    let gx = unsafe { par_filled(x.len(), plane.max(1), fill) };
    let ggamma = sums.iter().map(|&(_, sgx)| sgx as f32).collect();
    let gbeta = sums.iter().map(|&(sg, _)| sg as f32).collect();
    (gx, ggamma, gbeta)
}
