//! Per-pixel cross-entropy that ignores a label (255, VOC's void border).
//!
//! Burn's `CrossEntropyLoss` takes 2-D logits and has no ignore index, so this one
//! works on `[N, C, H, W]` logits directly.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

use crate::ops::Kernels;

/// The label that marks pixels to leave out of the loss.
pub const IGNORE_LABEL: i64 = crate::data::colormap::IGNORE as i64;

/// Mean over the non-ignored pixels of `−log softmax(logits)[label]`. `labels` is
/// `[N, H, W]`. With no pixel left the result is 0 (and so is its gradient).
pub fn cross_entropy(logits: Tensor<4>, labels: Tensor<3, Int>, kernels: Kernels) -> Tensor<1> {
    if crate::ops::on_tconv(&logits, kernels) {
        return crate::ops::cross_entropy(logits, labels, None, IGNORE_LABEL).0;
    }
    let ignored = labels.clone().equal_elem(IGNORE_LABEL);
    let keep = ignored.clone().bool_not().float();
    let safe = labels.mask_fill(ignored, 0);
    let picked: Tensor<4> = log_softmax(logits, 1).gather(1, safe.unsqueeze_dim(1));
    let picked: Tensor<3> = picked.squeeze_dim(1);
    let count = keep.clone().sum().clamp_min(1.0);
    (picked * keep).sum().neg() / count
}

/// [`cross_entropy`] (or, with `weights`, [`weighted_cross_entropy`]) and
/// [`pixel_hits`] together, from one pass over the logits when the fused kernel
/// runs.
pub fn cross_entropy_with_hits(
    logits: Tensor<4>,
    labels: Tensor<3, Int>,
    weights: Option<&Tensor<1>>,
    kernels: Kernels,
) -> (Tensor<1>, (u64, u64)) {
    if crate::ops::on_tconv(&logits, kernels) {
        return crate::ops::cross_entropy(logits, labels, weights.cloned(), IGNORE_LABEL);
    }
    let hits = pixel_hits(&logits.clone().detach(), &labels);
    let loss = match weights {
        Some(w) => weighted_cross_entropy(logits, labels, w.clone(), kernels),
        None => cross_entropy(logits, labels, kernels),
    };
    (loss, hits)
}

/// `(correct, counted)`: of the pixels not ignored (counted), those whose argmax
/// is their label (correct).
pub fn pixel_hits(logits: &Tensor<4>, labels: &Tensor<3, Int>) -> (u64, u64) {
    let pred: Tensor<3, Int> = logits.clone().argmax(1).squeeze_dim(1);
    let keep = labels.clone().not_equal_elem(IGNORE_LABEL);
    let hits = pred.equal(labels.clone()).bool_and(keep.clone());
    let c: i64 = hits.int().sum().into_scalar();
    let k: i64 = keep.int().sum().into_scalar();
    (c as u64, k as u64)
}

/// As [`cross_entropy`], with each pixel weighted by its class's weight
/// (`weights[label]`); the mean is over the weights of the non-ignored pixels.
pub fn weighted_cross_entropy(
    logits: Tensor<4>,
    labels: Tensor<3, Int>,
    weights: Tensor<1>,
    kernels: Kernels,
) -> Tensor<1> {
    if crate::ops::on_tconv(&logits, kernels) {
        return crate::ops::cross_entropy(logits, labels, Some(weights), IGNORE_LABEL).0;
    }
    let ignored = labels.clone().equal_elem(IGNORE_LABEL);
    let keep = ignored.clone().bool_not().float();
    let safe = labels.mask_fill(ignored, 0);
    let [n, h, w] = safe.dims();
    let per_pixel: Tensor<3> = weights
        .select(0, safe.clone().reshape([n * h * w]))
        .reshape([n, h, w])
        * keep;
    let picked: Tensor<4> = log_softmax(logits, 1).gather(1, safe.unsqueeze_dim(1));
    let picked: Tensor<3> = picked.squeeze_dim(1);
    let total = per_pixel.clone().sum().clamp_min(1e-12);
    (picked * per_pixel).sum().neg() / total
}
