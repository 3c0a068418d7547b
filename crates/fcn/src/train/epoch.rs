//! One epoch: batches through the network, the loss and its gradient, an optimiser
//! step each, a stop on a non-finite loss; then validation.

use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor, TensorData};

use super::config::{TrainConfig, scheduled_rate};
use super::progress::Progress;
use super::run_dir::EpochRecord;
use crate::data::Split;
use crate::data::loader::{Augmentation, AugmentedSplit, Batch, Loader};
use crate::device;
use crate::error::{FcnError, Result};
use crate::infer::{self, TileOptions};
use crate::model::{Fcn, FcnConfig, FcnNet};
use crate::precision::{self, LossScale};

/// What to do when a step runs out of device memory.
pub(super) const HINT: &str =
    "try a smaller --batch-size or --crop; a run resumes (--resume) from its last finished epoch";

/// The training data as batches, and what the schedule needs to know of it.
pub(super) struct Batches {
    loader: Loader,
    /// The low-resolution epochs' loader (progressive resizing), if any.
    low_res: Option<Loader>,
    low_res_epochs: usize,
    /// Class weights of the loss, if any.
    weights: Option<Tensor<1>>,
    pub per_epoch: usize,
}

impl Batches {
    /// Batches of `train` augmented as `config` says, on the autodiff `device`.
    pub(super) fn new(
        train: Split,
        config: &TrainConfig,
        meta: &FcnConfig,
        device: &Device,
        progress: &mut dyn Progress,
    ) -> Result<Batches> {
        if let Some(w) = &config.class_weights
            && w.len() != meta.num_classes
        {
            return Err(FcnError::Config(format!(
                "--class-weights has {} values but the model has {} classes",
                w.len(),
                meta.num_classes
            )));
        }
        let aug = Augmentation {
            crop: config.crop,
            pad_small: config.pad_small,
            scale: config.scale,
            color_jitter: config.color_jitter,
            flip: config.flip,
            mean: meta.mean,
            std: meta.std,
            seed: config.seed,
        };
        let (dataset, dropped) = AugmentedSplit::new(train, aug.clone());
        dropped.iter().for_each(|d| progress.skipped(d));
        if dataset.is_empty() {
            return Err(FcnError::Config(
                "no training image is at least as large as the crop (--pad-small pads them instead)"
                    .into(),
            ));
        }
        let (batch, seed) = (config.batch_size, Some(config.seed));
        let low_res = (config.low_res_epochs > 0).then(|| {
            let low = dataset.with_augmentation(low_res_augmentation(&aug, config));
            Loader::new(low, batch, seed, config.workers, device)
        });
        let loader = Loader::new(dataset, batch, seed, config.workers, device);
        let weights = config
            .class_weights
            .as_ref()
            .map(|w| Tensor::<1>::from_data(TensorData::new(w.clone(), [w.len()]), device));
        Ok(Batches {
            per_epoch: loader.batches(),
            loader,
            low_res,
            low_res_epochs: config.low_res_epochs,
            weights,
        })
    }

    /// The loader of epoch `epoch` (from 1): low resolution for the first ones.
    fn loader(&self, epoch: usize) -> &Loader {
        match &self.low_res {
            Some(low) if epoch <= self.low_res_epochs => low,
            _ => &self.loader,
        }
    }
}

/// `aug` at `config.low_res_scale`: the crop scaled, and every image rescaled by
/// that factor (times any random scale) before it.
fn low_res_augmentation(aug: &Augmentation, config: &TrainConfig) -> Augmentation {
    let s = config.low_res_scale;
    let (lo, hi) = config.scale.unwrap_or((1.0, 1.0));
    Augmentation {
        crop: config.low_res_crop(),
        scale: Some((lo * s, hi * s)),
        ..aug.clone()
    }
}

/// Sums over an epoch's batches.
#[derive(Default)]
pub(super) struct Totals {
    loss: f64,
    batches: usize,
    correct: u64,
    counted: u64,
}

impl Totals {
    /// The epoch's record, with its validation results and duration.
    pub(super) fn record(
        &self,
        epoch: usize,
        val: (Option<f64>, Option<f64>),
        started: Instant,
    ) -> EpochRecord {
        let ratio = |a: f64, b: f64| if b == 0.0 { None } else { Some(a / b) };
        EpochRecord {
            epoch,
            train_loss: ratio(self.loss, self.batches as f64).unwrap_or(f64::NAN),
            train_pixel_accuracy: ratio(self.correct as f64, self.counted as f64).unwrap_or(0.0),
            val_pixel_accuracy: val.0,
            val_miou: val.1,
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// What every epoch of a run shares.
pub(super) struct Epochs<'a> {
    pub batches: Batches,
    pub config: &'a TrainConfig,
    /// The loss scale of f16 training, carried from step to step.
    pub scale: Option<LossScale>,
}

impl Epochs<'_> {
    /// Trains `net` for epoch `epoch`, counting optimiser steps in `steps`;
    /// `last_good` says where the last checkpoint is when a non-finite loss stops
    /// the run.
    pub(super) fn train(
        &mut self,
        net: FcnNet,
        optimizer: &mut ModuleOptimizer,
        epoch: usize,
        steps: &mut usize,
        last_good: &str,
        progress: &mut dyn Progress,
    ) -> Result<(FcnNet, Totals)> {
        let (batches, config) = (&self.batches, self.config);
        let mut net = net;
        progress.epoch_start(epoch, batches.per_epoch);
        let mut totals = Totals::default();
        for batch in batches.loader(epoch).epoch(epoch as u64) {
            for f in &batch.failures {
                match config.skip_bad {
                    true => progress.skipped(f),
                    false => return Err(FcnError::Data(f.clone())),
                }
            }
            let n = batch.names.len();
            if n == 0 {
                continue;
            }
            let t = Instant::now();
            let [_, _, h, w] = batch.images.dims();
            let during = || format!("in epoch {epoch}'s training step of {n} images of {h}×{w}");
            let weights = batches.weights.as_ref();
            let (loss, value, (correct, counted)) = device::catch_failure(&during, HINT, || {
                let (loss, hits) = loss_and_hits(&net, batch, weights, config.aux_weight);
                let value: f32 = loss.clone().into_scalar();
                (loss, value, hits)
            })?;
            if !value.is_finite() {
                return Err(FcnError::Diverged {
                    value,
                    epoch,
                    last_good: last_good.to_string(),
                });
            }
            let lr = scheduled_rate(config, *steps, batches.per_epoch);
            let scale = self.scale.as_mut();
            net = device::catch_failure(&during, HINT, || {
                match precision::gradients(loss, &net, scale) {
                    Some(grads) => optimizer.step(lr, net, grads),
                    None => net,
                }
            })?;
            *steps += 1;
            totals.loss += value as f64;
            totals.batches += 1;
            totals.correct += correct;
            totals.counted += counted;
            progress.batch(value as f64, n as f64 / t.elapsed().as_secs_f64());
        }
        Ok((net, totals))
    }
}

/// The mean loss of a batch (class-weighted if asked; plus `aux_weight` times the
/// auxiliary head's, where there is one) and its `(correct, counted)` pixels, from
/// one fused pass over the main logits.
fn loss_and_hits(
    net: &FcnNet,
    batch: Batch,
    weights: Option<&Tensor<1>>,
    aux_weight: f64,
) -> (Tensor<1>, (u64, u64)) {
    use crate::loss::{cross_entropy, cross_entropy_with_hits, weighted_cross_entropy};
    let (logits, aux) = net.forward_with_aux(batch.images, aux_weight != 0.0);
    let (labels, k) = (batch.labels, net.kernels());
    let aux_loss = aux.map(|a| match weights {
        Some(w) => weighted_cross_entropy(a, labels.clone(), w.clone(), k),
        None => cross_entropy(a, labels.clone(), k),
    });
    let (loss, hits) = cross_entropy_with_hits(logits, labels, weights, k);
    match aux_loss {
        Some(a) => (loss + a.mul_scalar(aux_weight), hits),
        None => (loss, hits),
    }
}

/// Validation pixel accuracy and mIoU of `net` on `val`, if there is one.
pub(super) fn validate(
    net: &FcnNet,
    meta: &FcnConfig,
    device: &Device,
    val: Option<&Split>,
    progress: &mut dyn Progress,
) -> Result<(Option<f64>, Option<f64>)> {
    let Some(val) = val else {
        return Ok((None, None));
    };
    let model = Fcn::from_net(net.valid(), meta.clone(), device);
    let eval = infer::evaluate(&model, val, TileOptions::default(), |d, t| {
        progress.validating(d, t)
    })?;
    eval.skipped.iter().for_each(|s| progress.skipped(s));
    let m = eval.confusion.metrics(&meta.class_names);
    Ok((Some(m.pixel_accuracy), Some(m.miou)))
}
