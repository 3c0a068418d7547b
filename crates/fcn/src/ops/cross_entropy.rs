//! Per-pixel cross-entropy with an ignored label, fused: one pass over the logits
//! for the loss (max, log-sum-exp, the label's logit) and one for its gradient
//! (`softmax − one-hot`), in parallel over blocks of pixels. Burn's composed
//! version materialises the log-softmax and gathers and scatters through it.

use rayon::prelude::*;

/// Pixels per block: the running max and sum of a block stay in L1.
const BLOCK: usize = 1024;

/// The pieces of work: `(image, first pixel, last pixel)`.
fn blocks(n: usize, plane: usize) -> Vec<(usize, usize, usize)> {
    (0..n)
        .flat_map(|b| {
            (0..plane)
                .step_by(BLOCK)
                .map(move |p| (b, p, (p + BLOCK).min(plane)))
        })
        .collect()
}

/// Log-sum-exp over the channels of pixels `p0..p1` of one image (`[c, plane]`).
fn log_sum_exp(x: &[f32], c: usize, plane: usize, (p0, p1): (usize, usize)) -> Vec<f32> {
    let mut max = vec![f32::NEG_INFINITY; p1 - p0];
    for ch in 0..c {
        for (m, &v) in max.iter_mut().zip(&x[ch * plane + p0..ch * plane + p1]) {
            *m = m.max(v);
        }
    }
    let mut sum = vec![0.0f32; p1 - p0];
    for ch in 0..c {
        let row = &x[ch * plane + p0..ch * plane + p1];
        for ((s, &v), &m) in sum.iter_mut().zip(row).zip(&max) {
            *s += (v - m).exp();
        }
    }
    max.iter().zip(&sum).map(|(&m, &s)| m + s.ln()).collect()
}

/// `(Σ over kept pixels of −log softmax(x)[label], number of kept pixels)` for
/// logits `[n, c, plane]` and labels `[n, plane]`.
pub fn loss_sum(
    x: &[f32],
    labels: &[i64],
    (n, c, plane): (usize, usize, usize),
    ignore: i64,
) -> (f64, usize) {
    blocks(n, plane)
        .into_par_iter()
        .map(|(b, p0, p1)| {
            let img = &x[b * c * plane..(b + 1) * c * plane];
            let lse = log_sum_exp(img, c, plane, (p0, p1));
            let (mut total, mut kept) = (0.0f64, 0usize);
            for (j, &l) in labels[b * plane + p0..b * plane + p1].iter().enumerate() {
                if l == ignore || l < 0 || l as usize >= c {
                    continue;
                }
                total += (lse[j] - img[l as usize * plane + p0 + j]) as f64;
                kept += 1;
            }
            (total, kept)
        })
        .reduce(|| (0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Gradient of the mean loss times `upstream`: `(softmax − one-hot) · upstream /
/// kept` at kept pixels, zero at ignored ones.
pub fn loss_grad(
    x: &[f32],
    labels: &[i64],
    (c, plane): (usize, usize),
    ignore: i64,
    upstream: f32,
) -> Vec<f32> {
    let kept = labels
        .iter()
        .filter(|&&l| l != ignore && l >= 0 && (l as usize) < c)
        .count();
    let scale = upstream / kept.max(1) as f32;
    let mut grad = vec![0.0f32; x.len()];
    grad.par_chunks_mut((c * plane).max(1))
        .enumerate()
        .for_each(|(b, out)| {
            let img = &x[b * c * plane..(b + 1) * c * plane];
            let labels = &labels[b * plane..(b + 1) * plane];
            for p0 in (0..plane).step_by(BLOCK) {
                let p1 = (p0 + BLOCK).min(plane);
                let lse = log_sum_exp(img, c, plane, (p0, p1));
                let keep: Vec<f32> = labels[p0..p1]
                    .iter()
                    .map(|&l| {
                        if l == ignore || l < 0 || l as usize >= c {
                            0.0
                        } else {
                            scale
                        }
                    })
                    .collect();
                for ch in 0..c {
                    let (src, dst) = (
                        &img[ch * plane + p0..ch * plane + p1],
                        &mut out[ch * plane + p0..ch * plane + p1],
                    );
                    for (((d, &v), &s), &k) in dst.iter_mut().zip(src).zip(&lse).zip(&keep) {
                        *d = (v - s).exp() * k;
                    }
                }
                for (j, &l) in labels[p0..p1].iter().enumerate() {
                    if keep[j] != 0.0 {
                        out[l as usize * plane + p0 + j] -= keep[j];
                    }
                }
            }
        });
    grad
}
