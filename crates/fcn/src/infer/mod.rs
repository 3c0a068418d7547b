//! Inference on whole images of any size: padding to a multiple of 32 (in
//! [`Fcn::logits`]), tiling with overlap for large images (logits averaged where tiles
//! overlap) and evaluation over a split. Drawing masks is the caller's (the CLI's).

use image::RgbImage;
use ndarray::{Array2, Array3, Array4, ArrayView4, Axis, s};

use crate::error::Result;
use crate::model::Fcn;
use crate::model::fcn::argmax_classes;

mod evaluate;
pub use evaluate::{Evaluation, evaluate, evaluate_with};

/// When to tile.
#[derive(Debug, Clone, Copy)]
pub struct TileOptions {
    /// Images with a side longer than this run in tiles of this size.
    pub tile: usize,
    /// Overlap between neighbouring tiles, in pixels.
    pub overlap: usize,
}

impl Default for TileOptions {
    fn default() -> Self {
        Self {
            tile: 1024,
            overlap: 128,
        }
    }
}

/// Tile start positions covering `len` with tiles of `tile` overlapping by `overlap`.
fn starts(len: usize, tile: usize, overlap: usize) -> Vec<usize> {
    if len <= tile {
        return vec![0];
    }
    let step = tile.saturating_sub(overlap).max(1);
    let mut v: Vec<usize> = (0..len - tile).step_by(step).collect();
    v.push(len - tile);
    v
}

/// Logits `[1, K, H, W]` of a normalised `[1, 3, H, W]` image, tiled when it is large.
pub fn logits(model: &Fcn, x: ArrayView4<f32>, opts: TileOptions) -> Result<Array4<f32>> {
    let (n, _, h, w) = x.dim();
    let tile = opts.tile.max(32);
    if h <= tile && w <= tile {
        return model.logits(x);
    }
    let k = model.num_classes();
    let mut sum = Array4::<f32>::zeros((n, k, h, w));
    let mut count = Array2::<f32>::zeros((h, w));
    for &y in &starts(h, tile, opts.overlap) {
        for &x0 in &starts(w, tile, opts.overlap) {
            let (th, tw) = (tile.min(h), tile.min(w));
            let part = model.logits(x.slice(s![.., .., y..y + th, x0..x0 + tw]))?;
            sum.slice_mut(s![.., .., y..y + th, x0..x0 + tw])
                .scaled_add(1.0, &part);
            count
                .slice_mut(s![y..y + th, x0..x0 + tw])
                .mapv_inplace(|c| c + 1.0);
        }
    }
    for mut image in sum.axis_iter_mut(Axis(0)) {
        for mut plane in image.axis_iter_mut(Axis(0)) {
            plane.zip_mut_with(&count, |v, c| *v /= *c);
        }
    }
    Ok(sum)
}

/// The class of every pixel of `image`.
pub fn predict(model: &Fcn, image: &RgbImage, opts: TileOptions) -> Result<Array2<u8>> {
    let x = model.normalize(image);
    let l = logits(model, x.view(), opts)?;
    Ok(argmax_classes(&l.index_axis(Axis(0), 0).to_owned()))
}

/// Softmax over the classes (axis 1) of logits `[N, K, H, W]`, computed stably
/// (the largest logit subtracted first), plane by plane so the loops vectorise.
pub fn softmax(logits: &Array4<f32>) -> Array4<f32> {
    let mut p = logits.as_standard_layout().into_owned();
    let (_, k, h, w) = p.dim();
    let plane = h * w;
    for image in p
        .as_slice_mut()
        .expect("standard layout")
        .chunks_mut(k * plane)
    {
        let mut top = vec![f32::NEG_INFINITY; plane];
        for class in image.chunks(plane) {
            top.iter_mut().zip(class).for_each(|(t, &v)| *t = t.max(v));
        }
        let mut sum = vec![0.0f32; plane];
        for class in image.chunks_mut(plane) {
            for ((v, &t), s) in class.iter_mut().zip(&top).zip(sum.iter_mut()) {
                *v = (*v - t).exp();
                *s += *v;
            }
        }
        for class in image.chunks_mut(plane) {
            class.iter_mut().zip(&sum).for_each(|(v, &s)| *v /= s);
        }
    }
    p
}

/// The probability of every class at every pixel of `image`, `[K, H, W]`
/// (the softmax of the logits, tiled as [`predict`] tiles).
pub fn probabilities(model: &Fcn, image: &RgbImage, opts: TileOptions) -> Result<Array3<f32>> {
    let x = model.normalize(image);
    let p = softmax(&logits(model, x.view(), opts)?);
    Ok(p.index_axis(Axis(0), 0).to_owned())
}

/// For each class, the mean probability the model gave it over the pixels it won
/// (`None` for a class that won no pixel): how sure the model is of each region.
pub fn class_confidence(probs: &Array3<f32>, mask: &Array2<u8>) -> Vec<Option<f64>> {
    let k = probs.dim().0;
    let (mut sum, mut count) = (vec![0.0f64; k], vec![0usize; k]);
    for ((y, x), &c) in mask.indexed_iter() {
        if (c as usize) < k {
            sum[c as usize] += probs[[c as usize, y, x]] as f64;
            count[c as usize] += 1;
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(s, &n)| (n > 0).then(|| s / n as f64))
        .collect()
}

/// The fraction of the pixels predicted as each class (what reports use).
pub fn class_fractions(mask: &Array2<u8>, num_classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; num_classes];
    for &v in mask {
        if (v as usize) < num_classes {
            counts[v as usize] += 1;
        }
    }
    let total = mask.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / total).collect()
}
