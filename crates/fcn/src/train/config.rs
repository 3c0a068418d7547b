//! What shapes a run: the configuration with its defaults and checks, the
//! optimiser and the learning-rate schedule it builds, and what a resumed run may
//! change.

use std::path::Path;

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use super::run_dir::read_state;
use crate::error::{FcnError, Result};
use crate::model::FcnNet;
use crate::precision::Precision;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    /// `lr · (1 − t)^0.9`, t the share of the steps after warmup done.
    Poly,
    /// `lr · (1 + cos(π t)) / 2`.
    Cosine,
}

/// Everything that shapes a run. The defaults are the textbook's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub optimizer: OptimizerKind,
    pub schedule: Schedule,
    /// Steps at the start over which the learning rate rises linearly to `lr`
    /// (`lr · (step + 1) / warmup_steps`), before the schedule runs over the rest.
    #[serde(default)]
    pub warmup_steps: usize,
    /// Random crop `(height, width)`.
    pub crop: Option<(usize, usize)>,
    pub pad_small: bool,
    pub flip: bool,
    /// Random rescaling `(min, max)` before the crop.
    #[serde(default)]
    pub scale: Option<(f64, f64)>,
    /// Photometric jitter (torchvision's `ColorJitter`).
    #[serde(default)]
    pub color_jitter: Option<crate::data::jitter::ColorJitter>,
    pub freeze_backbone: bool,
    pub freeze_upsampling: bool,
    pub class_weights: Option<Vec<f32>>,
    /// Weight of the auxiliary head's loss (torchvision's head, when it has one;
    /// 0.5 as in torchvision's reference training).
    #[serde(default = "default_aux_weight")]
    pub aux_weight: f64,
    pub seed: u64,
    /// Loader threads.
    pub workers: usize,
    pub skip_bad: bool,
    /// What the convolutions compute in (mixed precision on a GPU; see
    /// [`crate::precision`]).
    #[serde(default)]
    pub precision: Precision,
    /// Progressive resizing: the first this many epochs train on images and crops
    /// scaled by `low_res_scale`, at a fraction of the cost; the rest at full size.
    #[serde(default)]
    pub low_res_epochs: usize,
    #[serde(default = "default_low_res_scale")]
    pub low_res_scale: f64,
    /// Score the held-out split after the low-resolution epochs too. Those epochs
    /// have not seen the full-size images it holds (their mIoU stays low until the
    /// first full-size epoch), so a run that only needs the final model skips them.
    #[serde(default = "default_validate_low_res")]
    pub validate_low_res: bool,
}

impl TrainConfig {
    /// The textbook's settings; also the command line's defaults.
    pub const DEFAULT: TrainConfig = TrainConfig {
        epochs: 5,
        batch_size: 32,
        lr: 0.001,
        weight_decay: 1e-3,
        momentum: 0.0,
        optimizer: OptimizerKind::Sgd,
        schedule: Schedule::Constant,
        warmup_steps: 0,
        crop: Some((320, 480)),
        pad_small: false,
        flip: false,
        scale: None,
        color_jitter: None,
        freeze_backbone: false,
        freeze_upsampling: false,
        class_weights: None,
        aux_weight: 0.5,
        seed: 0,
        workers: 2,
        skip_bad: false,
        precision: Precision::F32,
        low_res_epochs: 0,
        low_res_scale: 0.5,
        validate_low_res: true,
    };
}

fn default_validate_low_res() -> bool {
    TrainConfig::DEFAULT.validate_low_res
}

fn default_low_res_scale() -> f64 {
    TrainConfig::DEFAULT.low_res_scale
}

/// Run states written before the auxiliary head: torchvision's weight.
fn default_aux_weight() -> f64 {
    TrainConfig::DEFAULT.aux_weight
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TrainConfig {
    /// Checks every value a user can give, before a run starts.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(FcnError::Config(m.to_string()));
        if self.epochs == 0 {
            return bad("--epochs must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("--batch-size must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("--lr must be a positive number");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("--weight-decay must be zero or positive");
        }
        if !(self.aux_weight.is_finite() && self.aux_weight >= 0.0) {
            return bad("--aux-weight must be zero or positive");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("--momentum must be in [0, 1)");
        }
        if let Some(w) = &self.class_weights {
            if w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return bad("--class-weights must be zero or positive numbers");
            }
            if w.iter().all(|v| *v == 0.0) {
                return bad("--class-weights are all zero: no pixel would count");
            }
        }
        if let Some((lo, hi)) = self.scale
            && !(lo.is_finite() && hi.is_finite() && 0.05 <= lo && lo <= hi && hi <= 8.0)
        {
            return bad("--scale MIN,MAX needs 0.05 ≤ MIN ≤ MAX ≤ 8");
        }
        if let Some(j) = &self.color_jitter {
            j.validate().map_err(FcnError::Config)?;
        }
        if self.crop.is_some_and(|(h, w)| h == 0 || w == 0) {
            return bad("--crop sides must be at least 1");
        }
        if self.low_res_epochs >= self.epochs && self.low_res_epochs > 0 {
            return bad(
                "--low-res-epochs must be fewer than --epochs: the last epochs train at full size",
            );
        }
        if !(self.low_res_scale.is_finite()
            && 0.1 <= self.low_res_scale
            && self.low_res_scale <= 1.0)
        {
            return bad("--low-res-scale must be between 0.1 and 1");
        }
        if let Some((h, w)) = self.low_res_crop()
            && (h == 0 || w == 0)
        {
            return bad("--crop scaled by --low-res-scale has a side under one pixel");
        }
        Ok(())
    }

    /// Whether the held-out split is scored after epoch `epoch` (from 1).
    pub fn validates(&self, epoch: usize) -> bool {
        self.validate_low_res || epoch > self.low_res_epochs
    }

    /// The crop of the low-resolution epochs (`None` without a crop).
    pub fn low_res_crop(&self) -> Option<(usize, usize)> {
        let s = self.low_res_scale;
        self.crop.map(|(h, w)| {
            (
                (h as f64 * s).round() as usize,
                (w as f64 * s).round() as usize,
            )
        })
    }

    /// The fields a resumed run may change: the epoch count (to extend it), the
    /// loader threads, whether bad files are skipped and the precision (which,
    /// like the device, changes how the run computes, not what it trains). Everything else must be
    /// the saved run's, or the run would not be the same run.
    pub(super) fn same_run_as(&self, saved: &TrainConfig) -> std::result::Result<(), String> {
        let ours = TrainConfig {
            epochs: saved.epochs,
            workers: saved.workers,
            skip_bad: saved.skip_bad,
            precision: saved.precision,
            ..self.clone()
        };
        let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
            (serde_json::to_value(saved), serde_json::to_value(&ours))
        else {
            return Err("the configurations cannot be compared".into());
        };
        let differ: Vec<String> = a
            .iter()
            .filter(|(k, v)| b.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: saved {v}, given {}", b[k]))
            .collect();
        if differ.is_empty() {
            Ok(())
        } else {
            Err(differ.join("; "))
        }
    }
}

/// The configuration of the run in `run_dir`, to continue it: the saved one, with
/// `epochs` raised (never lowered below the finished epochs) when given.
pub fn resume_config(run_dir: &Path, epochs: Option<usize>) -> Result<TrainConfig> {
    let state = read_state(run_dir)?;
    let done = state.history.last().map_or(0, |r| r.epoch);
    let mut config = state.config;
    if let Some(e) = epochs {
        if e < done {
            return Err(FcnError::Config(format!(
                "--epochs {e} is below the {done} epochs the run has finished"
            )));
        }
        config.epochs = e;
    }
    Ok(config)
}

pub(super) fn build_optimizer(config: &TrainConfig) -> ModuleOptimizer {
    let penalty = (config.weight_decay > 0.0).then_some(config.weight_decay as f32);
    let decay = penalty.map(WeightDecayConfig::new);
    match config.optimizer {
        OptimizerKind::Sgd => {
            let momentum = (config.momentum > 0.0).then(|| {
                // PyTorch's SGD has no dampening by default.
                MomentumConfig::new()
                    .with_momentum(config.momentum)
                    .with_dampening(0.0)
            });
            SgdConfig::new()
                .with_weight_decay(decay)
                .with_momentum(momentum)
                .init()
        }
        OptimizerKind::Adam => ModuleOptimizer::from(super::adam::FusedAdam::new(penalty)),
    }
}

/// The learning rate of step `step` (from 0) of a run of `per_epoch` steps an epoch.
/// With low-resolution epochs the warmup and schedule run twice: over those epochs,
/// then again from `lr` over the full-size ones (one schedule over both leaves the
/// full-size epochs too low a rate to adapt: 0.72 against 0.84 val mIoU on the demo).
pub(super) fn scheduled_rate(config: &TrainConfig, step: usize, per_epoch: usize) -> f64 {
    let total = per_epoch * config.epochs;
    let boundary = per_epoch * config.low_res_epochs;
    if step < boundary {
        learning_rate(config, step, boundary)
    } else {
        learning_rate(config, step - boundary, total - boundary)
    }
}

/// The learning rate of step `step` (from 0) of a phase of `total` steps.
pub(super) fn learning_rate(config: &TrainConfig, step: usize, total: usize) -> f64 {
    let warmup = config.warmup_steps;
    if step < warmup {
        return config.lr * (step + 1) as f64 / warmup as f64;
    }
    let t = ((step - warmup) as f64 / total.saturating_sub(warmup).max(1) as f64).min(1.0);
    match config.schedule {
        Schedule::Constant => config.lr,
        Schedule::Poly => config.lr * (1.0 - t).powf(0.9),
        Schedule::Cosine => config.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()),
    }
}

pub(super) fn freeze(net: FcnNet, config: &TrainConfig) -> FcnNet {
    let mut net = net;
    if config.freeze_backbone {
        net.backbone = net.backbone.no_grad();
    }
    if config.freeze_upsampling {
        net.head = net.head.freeze_upsampling();
    }
    net
}

#[cfg(test)]
mod tests {
    use super::{Schedule, TrainConfig, learning_rate, scheduled_rate};

    fn config(schedule: Schedule, warmup_steps: usize) -> TrainConfig {
        TrainConfig {
            lr: 0.1,
            schedule,
            warmup_steps,
            ..TrainConfig::DEFAULT
        }
    }

    /// A resumed run may change how it computes (threads, precision), not what.
    #[test]
    fn a_resumed_run_may_change_its_precision_but_not_its_rate() {
        let saved = TrainConfig::DEFAULT;
        let given = TrainConfig {
            precision: crate::precision::Precision::Bf16,
            workers: 7,
            ..TrainConfig::DEFAULT
        };
        assert_eq!(given.same_run_as(&saved), Ok(()));
        let faster = TrainConfig { lr: 0.5, ..given };
        let err = faster.same_run_as(&saved).unwrap_err();
        assert!(err.contains("lr: saved 0.001, given 0.5"), "{err}");
    }

    /// Values worked by hand for 100 steps, 10 of them warmup.
    #[test]
    fn warmup_then_the_schedule_over_the_rest() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        let c = config(Schedule::Cosine, 10);
        assert!(close(learning_rate(&c, 0, 100), 0.01));
        assert!(close(learning_rate(&c, 9, 100), 0.1));
        assert!(close(learning_rate(&c, 10, 100), 0.1));
        // Half of the 90 steps after warmup: cos(π/2) = 0, half the rate.
        assert!(close(learning_rate(&c, 55, 100), 0.05));
        assert!(close(learning_rate(&c, 100, 100), 0.0));
        let p = config(Schedule::Poly, 10);
        assert!(close(learning_rate(&p, 55, 100), 0.1 * 0.5f64.powf(0.9)));
        let k = config(Schedule::Constant, 0);
        assert!(close(learning_rate(&k, 0, 100), 0.1));
        // Without warmup, poly is the textbook's 1 − step / total.
        let p0 = config(Schedule::Poly, 0);
        assert!(close(learning_rate(&p0, 25, 100), 0.1 * 0.75f64.powf(0.9)));
    }

    /// Every epoch is scored, unless the low-resolution ones are left out.
    #[test]
    fn low_res_epochs_are_scored_unless_told_not_to() {
        let c = TrainConfig {
            epochs: 5,
            low_res_epochs: 3,
            ..TrainConfig::default()
        };
        assert!((1..=5).all(|e| c.validates(e)));
        let quiet = TrainConfig {
            validate_low_res: false,
            ..c
        };
        let scored: Vec<usize> = (1..=5).filter(|&e| quiet.validates(e)).collect();
        assert_eq!(scored, [4, 5]);
    }

    /// Low-resolution epochs run the warmup and schedule on their own, then the
    /// full-size ones again from the top: 3 epochs of 10 steps, the first at low
    /// resolution, warmup 5.
    #[test]
    fn low_res_epochs_restart_the_schedule() {
        let c = TrainConfig {
            epochs: 3,
            low_res_epochs: 1,
            ..config(Schedule::Poly, 5)
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(scheduled_rate(&c, 0, 10), 0.02));
        assert!(close(scheduled_rate(&c, 7, 10), 0.1 * 0.6f64.powf(0.9)));
        // Step 10 is the first full-size one: warmup again.
        assert!(close(scheduled_rate(&c, 10, 10), 0.02));
        assert!(close(scheduled_rate(&c, 14, 10), 0.1));
        // 15 steps of schedule after the second warmup; 5 done.
        assert!(close(
            scheduled_rate(&c, 20, 10),
            0.1 * (10.0f64 / 15.0).powf(0.9)
        ));
        let plain = TrainConfig {
            low_res_epochs: 0,
            ..c
        };
        assert!(close(
            scheduled_rate(&plain, 20, 10),
            learning_rate(&plain, 20, 30)
        ));
    }
}
