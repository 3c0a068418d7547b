//! Per-pixel cross-entropy with an ignored label and optional class weights, fused:
//! one pass over the logits gives the loss, the pixels whose argmax is their label,
//! and (when training) the gradient `w[label] · (softmax − one-hot) / Σ w`, while
//! each block of pixels is in
//! cache. Burn's composed version materialises the log-softmax, gathers and
//! scatters through it, and reads the logits again for the accuracy and again
//! for the backward pass; at the demo's sizes the logits are tens of megabytes,
//! so those passes were memory-bound.

use rayon::prelude::*;

use crate::kernels::exp::exp;

/// Pixels per block: a block's exponentials (`channels × BLOCK`) stay in L2.
const BLOCK: usize = 1024;

/// What one pass over the logits adds up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Σ over kept pixels of `w[label] · −log softmax(x)[label]` (`w` = 1 unweighted).
    pub loss: f64,
    /// Σ over kept pixels of `w[label]`: the loss's divisor for the mean.
    pub weight: f64,
    /// Pixels whose label is a class (not `ignore`, not out of range).
    pub kept: usize,
    /// Kept pixels whose first maximal logit is their label's.
    pub correct: usize,
}

impl Totals {
    fn add(self, o: Totals) -> Totals {
        Totals {
            loss: self.loss + o.loss,
            weight: self.weight + o.weight,
            kept: self.kept + o.kept,
            correct: self.correct + o.correct,
        }
    }
}

fn is_kept(l: i64, c: usize, ignore: i64) -> bool {
    l != ignore && l >= 0 && (l as usize) < c
}

/// Per-class weights, or none (every class weighs 1).
#[derive(Debug, Clone, Copy)]
pub struct ClassWeights<'a>(pub Option<&'a [f32]>);

impl ClassWeights<'_> {
    #[inline(always)]
    fn of(&self, label: usize) -> f32 {
        self.0.map_or(1.0, |w| w[label])
    }
}

/// The pass over logits `[n, c, plane]` and labels `[n, plane]`. With `grad`
/// (the logits' length) it also writes the gradient of the weighted mean loss
/// there. `weights`, when given, has one entry per class.
pub fn cross_entropy(
    x: &[f32],
    labels: &[i64],
    (n, c, plane): (usize, usize, usize),
    ignore: i64,
    weights: ClassWeights<'_>,
    grad: Option<&mut [f32]>,
) -> Totals {
    let image = c * plane;
    if n == 0 || image == 0 {
        return Totals::default();
    }
    if let Some(w) = weights.0 {
        assert_eq!(w.len(), c, "one weight per class");
    }
    let total: f64 = labels
        .iter()
        .filter(|&&l| is_kept(l, c, ignore))
        .map(|&l| weights.of(l as usize) as f64)
        .sum();
    let scale = if total > 0.0 {
        (1.0 / total) as f32
    } else {
        0.0
    };
    let pass = |(img, labels): (&[f32], &[i64]), grad: Option<&mut [f32]>| {
        let shape = (c, plane);
        crate::kernels::simd::wide(
            #[inline(always)]
            || image_pass(img, labels, shape, ignore, weights, scale, grad),
        )
    };
    let inputs = x.par_chunks(image).zip(labels.par_chunks(plane));
    let per_image: Vec<Totals> = match grad {
        Some(g) => inputs
            .zip(g.par_chunks_mut(image))
            .map(|(i, g)| pass(i, Some(g)))
            .collect(),
        None => inputs.map(|i| pass(i, None)).collect(),
    };
    // Added in image order, so the loss repeats exactly from run to run.
    per_image.into_iter().fold(Totals::default(), Totals::add)
}

/// One image `[c, plane]`, block by block.
#[inline(always)]
fn image_pass(
    img: &[f32],
    labels: &[i64],
    (c, plane): (usize, usize),
    ignore: i64,
    weights: ClassWeights<'_>,
    scale: f32,
    mut grad: Option<&mut [f32]>,
) -> Totals {
    let mut totals = Totals::default();
    let mut max = vec![0.0f32; BLOCK];
    let mut arg = vec![0usize; BLOCK];
    let mut sum = vec![0.0f32; BLOCK];
    let mut e = vec![0.0f32; c * BLOCK];
    for p0 in (0..plane).step_by(BLOCK) {
        let len = (plane - p0).min(BLOCK);
        let row = |ch: usize| &img[ch * plane + p0..ch * plane + p0 + len];
        let (max, arg, sum) = (&mut max[..len], &mut arg[..len], &mut sum[..len]);
        // The first maximum wins, as in argmax; NaN never does (it reaches the
        // loss through the sum below).
        max.copy_from_slice(row(0));
        arg.fill(0);
        for ch in 1..c {
            for ((m, a), &v) in max.iter_mut().zip(arg.iter_mut()).zip(row(ch)) {
                if v > *m {
                    *m = v;
                    *a = ch;
                }
            }
        }
        sum.fill(0.0);
        for ch in 0..c {
            let e = &mut e[ch * BLOCK..ch * BLOCK + len];
            for (((e, s), &v), &m) in e.iter_mut().zip(sum.iter_mut()).zip(row(ch)).zip(&*max) {
                *e = exp(v - m);
                *s += *e;
            }
        }
        let labels = &labels[p0..p0 + len];
        for (j, &l) in labels.iter().enumerate() {
            if is_kept(l, c, ignore) {
                let l = l as usize;
                let lse = max[j] + sum[j].ln();
                let w = weights.of(l) as f64;
                totals.loss += w * (lse - img[l * plane + p0 + j]) as f64;
                totals.weight += w;
                totals.kept += 1;
                totals.correct += usize::from(arg[j] == l);
            }
        }
        if let Some(g) = grad.as_deref_mut() {
            // Reuse `sum` as the per-pixel factor: w/Σ at kept pixels, 0 elsewhere.
            for (s, &l) in sum.iter_mut().zip(labels) {
                *s = if is_kept(l, c, ignore) {
                    weights.of(l as usize) * scale / *s
                } else {
                    0.0
                };
            }
            for ch in 0..c {
                let dst = &mut g[ch * plane + p0..ch * plane + p0 + len];
                for ((d, &e), &f) in dst.iter_mut().zip(&e[ch * BLOCK..]).zip(&*sum) {
                    *d = e * f;
                }
            }
            for (j, &l) in labels.iter().enumerate() {
                if is_kept(l, c, ignore) {
                    g[l as usize * plane + p0 + j] -= weights.of(l as usize) * scale;
                }
            }
        }
    }
    totals
}
