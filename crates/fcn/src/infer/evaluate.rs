//! Scoring a model over a split: neighbouring images of one size go through the
//! network together, so each layer's fixed cost is paid once per batch and every
//! thread gets a share of each layer (one 128×192 image alone kept the second of
//! two threads idle for half of its layers).

use ndarray::{Array4, Axis, concatenate};
use rayon::prelude::*;

use super::TileOptions;
use crate::data::{DataError, Sample, Split};
use crate::error::Result;
use crate::metrics::ConfusionMatrix;
use crate::model::Fcn;
use crate::model::fcn::argmax_classes;
use crate::tta::Tta;

/// Most images in one forward pass.
const BATCH_IMAGES: usize = 8;

/// Items read in parallel before their batches are scored.
const LOAD_AHEAD: usize = 2 * BATCH_IMAGES;

/// Most pixels in one forward pass, so that large images (whose activations are
/// what inference's memory holds) still go one or two at a time.
const BATCH_PIXELS: usize = 1 << 19;

/// What evaluating a split gives.
pub struct Evaluation {
    pub confusion: ConfusionMatrix,
    /// Items that could not be read (only with `skip_bad`; otherwise the first stops it).
    pub skipped: Vec<DataError>,
}

/// Runs the model over every item of `split` and accumulates the confusion matrix.
/// `progress(done, total)` is called as images are scored.
pub fn evaluate(
    model: &Fcn,
    split: &Split,
    opts: TileOptions,
    progress: impl FnMut(usize, usize),
) -> Result<Evaluation> {
    evaluate_with(model, split, opts, &Tta::default(), progress)
}

/// [`evaluate`] with test-time augmentation.
pub fn evaluate_with(
    model: &Fcn,
    split: &Split,
    opts: TileOptions,
    tta: &Tta,
    mut progress: impl FnMut(usize, usize),
) -> Result<Evaluation> {
    let mut confusion = ConfusionMatrix::new(model.num_classes());
    let mut skipped = Vec::new();
    let mut batch: Vec<Sample> = Vec::new();
    let total = split.len();
    for start in (0..total).step_by(LOAD_AHEAD) {
        let end = (start + LOAD_AHEAD).min(total);
        // Decoding is a fifth of the work for small images: the threads share it.
        let loaded: Vec<_> = (start..end)
            .into_par_iter()
            .map(|i| split.load(i))
            .collect();
        for (i, item) in (start..end).zip(loaded) {
            match item {
                Ok(sample) => {
                    let joins = batch
                        .first()
                        .is_some_and(|first| joins(first, batch.len(), &sample, opts, tta));
                    if !joins && !batch.is_empty() {
                        score(model, &batch, opts, tta, &mut confusion)?;
                        progress(i, total);
                        batch.clear();
                    }
                    batch.push(sample);
                }
                Err(e) if split.options.skip_bad => skipped.push(e),
                Err(e) => return Err(e.into()),
            }
        }
    }
    if !batch.is_empty() {
        score(model, &batch, opts, tta, &mut confusion)?;
    }
    progress(total, total);
    Ok(Evaluation { confusion, skipped })
}

/// Whether `next` can join a batch of `len` images that starts with `first`: the
/// same size, room left, and a plain untiled forward pass (test-time augmentation
/// and tiling take their images one at a time).
fn joins(first: &Sample, len: usize, next: &Sample, opts: TileOptions, tta: &Tta) -> bool {
    let (w, h) = next.image.dimensions();
    let (w, h) = (w as usize, h as usize);
    first.image.dimensions() == next.image.dimensions()
        && tta.is_identity()
        && h.max(w) <= opts.tile.max(32)
        && len < BATCH_IMAGES
        && (len + 1) * h * w <= BATCH_PIXELS
}

/// Adds the predictions for `batch` (one image, or several that [`joins`] accepted)
/// to `confusion`.
fn score(
    model: &Fcn,
    batch: &[Sample],
    opts: TileOptions,
    tta: &Tta,
    confusion: &mut ConfusionMatrix,
) -> Result<()> {
    if let [sample] = batch {
        let pred = crate::tta::predict(model, &sample.image, opts, tta)?;
        add(confusion, sample, pred.iter().copied().collect());
        return Ok(());
    }
    let inputs: Vec<Array4<f32>> = batch.iter().map(|s| model.normalize(&s.image)).collect();
    let views: Vec<_> = inputs.iter().map(|x| x.view()).collect();
    let x = concatenate(Axis(0), &views).expect("a batch holds images of one size");
    let logits = model.logits(x.view())?;
    for (sample, image) in batch.iter().zip(logits.axis_iter(Axis(0))) {
        let pred = argmax_classes(&image.to_owned());
        add(confusion, sample, pred.iter().copied().collect());
    }
    Ok(())
}

fn add(confusion: &mut ConfusionMatrix, sample: &Sample, pred: Vec<u8>) {
    let truth: Vec<u8> = sample.mask.iter().copied().collect();
    confusion.add(&truth, &pred);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synthetic::{SynthConfig, generate};
    use crate::data::{ReadOptions, open};
    use crate::{FcnConfig, infer};
    use image::RgbImage;
    use ndarray::Array2;

    fn sample(h: u32, w: u32) -> Sample {
        Sample {
            name: String::new(),
            image: RgbImage::new(w, h),
            mask: Array2::zeros((h as usize, w as usize)),
        }
    }

    #[test]
    fn batches_hold_one_size_within_the_limits() {
        let (a, opts, plain) = (sample(64, 96), TileOptions::default(), Tta::default());
        assert!(joins(&a, 1, &sample(64, 96), opts, &plain));
        assert!(!joins(&a, 1, &sample(96, 64), opts, &plain));
        assert!(!joins(&a, BATCH_IMAGES, &sample(64, 96), opts, &plain));
        let flip = Tta {
            flip: true,
            scales: vec![1.0],
        };
        assert!(!joins(&a, 1, &sample(64, 96), opts, &flip));
        let tiled = TileOptions { tile: 64, ..opts };
        assert!(!joins(&a, 1, &sample(64, 96), tiled, &plain));
        // 512×512 is 2^18 pixels: two fit, a third does not.
        let big = sample(512, 512);
        assert!(joins(&big, 1, &sample(512, 512), opts, &plain));
        assert!(!joins(&big, 2, &sample(512, 512), opts, &plain));
    }

    /// Batched scoring counts exactly what scoring each image alone counts.
    #[test]
    fn batched_evaluation_equals_image_by_image() {
        let dir = std::env::temp_dir().join(format!("fcn-evaluate-{}", std::process::id()));
        let synth = SynthConfig {
            n: 40,
            size: (48, 80),
            val_fraction: 0.5,
            ..SynthConfig::default()
        };
        generate(&dir, &synth, |_| {}).unwrap();
        let split = open(&dir, "val", &ReadOptions::default()).unwrap();
        let config = FcnConfig {
            width: 8,
            ..FcnConfig::default().with_num_classes(split.classes.len())
        };
        let model = Fcn::new(&config, &burn::tensor::Device::flex());
        let mut want = ConfusionMatrix::new(model.num_classes());
        for i in 0..split.len() {
            let s = split.load(i).unwrap();
            let pred = infer::predict(&model, &s.image, TileOptions::default()).unwrap();
            add(&mut want, &s, pred.iter().copied().collect());
        }
        let mut calls = Vec::new();
        let got = evaluate(&model, &split, TileOptions::default(), |d, t| {
            calls.push((d, t))
        });
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got.unwrap().confusion, want);
        assert_eq!(calls, [(8, 20), (16, 20), (20, 20)]);
    }
}
