//! Mixed precision: the convolutions computed in f16 or bf16, everything else in f32.
//!
//! As PyTorch's autocast does it: the parameters stay f32 (so checkpoints are f32 and
//! move between CPU and GPU runs unchanged), each convolution casts its input and
//! weights down and its output back up, and BatchNorm, the loss and the optimiser see
//! f32. Unlike autocast, the transposed convolutions (the upsampling) stay f32 too:
//! Burn's GPU kernels accumulate in the reduced type (see [`Kernels::Mixed`]). The
//! casts are differentiable, so the gradients reach the f32 parameters. With f16,
//! whose range is narrow, training scales the loss ([`LossScale`]) so small
//! gradients do not flush to zero.

use burn::module::{ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, FloatDType, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{FcnError, Result};
use crate::model::FcnNet;
use crate::ops::Kernels;

/// The precision the convolutions compute in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32 (the default).
    #[default]
    F32,
    /// Convolutions in IEEE half precision, with loss scaling in training.
    F16,
    /// Convolutions in bfloat16 (f32's range, 8 bits of mantissa).
    Bf16,
}

impl Precision {
    /// The reduced type the convolutions use, or `None` for f32.
    pub fn reduced(self) -> Option<FloatDType> {
        match self {
            Precision::F32 => None,
            Precision::F16 => Some(FloatDType::F16),
            Precision::Bf16 => Some(FloatDType::BF16),
        }
    }

    /// The kernels a network runs at this precision: `current` for f32, else Burn's
    /// ops with the convolutions cast down.
    pub fn kernels(self, current: Kernels) -> Kernels {
        self.reduced().map_or(current, Kernels::Mixed)
    }

    /// The name the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Bf16 => "bf16",
        }
    }

    /// An error unless `device` computes in this precision (storage, casts and
    /// arithmetic: a Vulkan device may store bf16 and have no arithmetic for it).
    pub fn check(self, device: &Device) -> Result<()> {
        match self.reduced() {
            Some(dtype) if !device.supports_dtype(dtype) => Err(FcnError::Config(format!(
                "--precision {}: this device has no {} arithmetic; use --precision f32{}",
                self.name(),
                self.name(),
                match self {
                    Precision::Bf16 => " or f16",
                    _ => "",
                }
            ))),
            _ => Ok(()),
        }
    }
}

/// Dynamic loss scaling for f16 training, as PyTorch's `GradScaler`: the loss is
/// multiplied by the scale before the backward pass and the gradients divided by it
/// after; a step whose gradients overflow is skipped and the scale halved, and after
/// `GROWTH_INTERVAL` good steps in a row it doubles.
#[derive(Debug, Clone)]
pub struct LossScale {
    scale: f32,
    good_steps: usize,
}

impl LossScale {
    /// PyTorch's initial scale, 2¹⁶.
    pub const INITIAL: f32 = 65536.0;
    /// Good steps before the scale doubles (PyTorch's default).
    pub const GROWTH_INTERVAL: usize = 2000;

    /// A scaler for `precision`: f16 only, since bf16 has f32's range.
    pub fn for_precision(precision: Precision) -> Option<LossScale> {
        (precision == Precision::F16).then_some(LossScale {
            scale: Self::INITIAL,
            good_steps: 0,
        })
    }

    /// The current scale.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// `loss` times the scale, to run the backward pass from.
    pub fn scaled(&self, loss: Tensor<1>) -> Tensor<1> {
        loss.mul_scalar(self.scale)
    }

    /// The gradients of `net` in `grads` divided by the scale, or `None` when one
    /// of them is not finite: the step is to be skipped, and the scale halves.
    pub fn unscale(&mut self, grads: GradientsParams, net: &FcnNet) -> Option<GradientsParams> {
        let mut visitor = Unscale {
            grads,
            factor: 1.0 / self.scale,
            sum: None,
        };
        burn::module::Module::visit(net, &mut visitor);
        let finite = visitor
            .sum
            .is_none_or(|s| s.into_scalar::<f32>().is_finite());
        self.update(finite);
        finite.then_some(visitor.grads)
    }

    /// The scale after a step whose gradients were `finite` or not.
    fn update(&mut self, finite: bool) {
        if !finite {
            self.scale = (self.scale * 0.5).max(1.0);
            self.good_steps = 0;
            return;
        }
        self.good_steps += 1;
        if self.good_steps == Self::GROWTH_INTERVAL {
            self.scale = (self.scale * 2.0).min(f32::MAX / 2.0);
            self.good_steps = 0;
        }
    }
}

/// The gradients of `loss` for `net`'s parameters, through `scale` in f16 training;
/// `None` where they overflowed it (the step is to be skipped, as PyTorch's
/// `GradScaler` skips it, and the scale has halved).
pub fn gradients(
    loss: Tensor<1>,
    net: &FcnNet,
    scale: Option<&mut LossScale>,
) -> Option<GradientsParams> {
    let Some(scale) = scale else {
        return Some(GradientsParams::from_grads(loss.backward(), net));
    };
    let grads = GradientsParams::from_grads(scale.scaled(loss).backward(), net);
    scale.unscale(grads, net)
}

/// Divides every gradient by the scale and sums them all into one value, which is
/// not finite when any gradient is not (one read back from the device per step).
struct Unscale {
    grads: GradientsParams,
    factor: f32,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for Unscale {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(grad) = self.grads.remove::<D>(param.id) else {
            return;
        };
        let grad = grad.mul_scalar(self.factor);
        let total = grad.clone().sum();
        self.sum = Some(match self.sum.take() {
            Some(s) => s + total,
            None => total,
        });
        self.grads.register(param.id, grad);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflow_halves_the_scale_and_good_steps_double_it() {
        let mut s = LossScale::for_precision(Precision::F16).unwrap();
        s.update(false);
        assert_eq!(s.scale(), LossScale::INITIAL / 2.0);
        for _ in 0..LossScale::GROWTH_INTERVAL - 1 {
            s.update(true);
        }
        assert_eq!(s.scale(), LossScale::INITIAL / 2.0);
        s.update(true);
        assert_eq!(s.scale(), LossScale::INITIAL);
        // An overflow resets the count of good steps.
        s.update(true);
        s.update(false);
        for _ in 0..LossScale::GROWTH_INTERVAL - 1 {
            s.update(true);
        }
        assert_eq!(s.scale(), LossScale::INITIAL / 2.0);
    }

    #[test]
    fn only_f16_scales_its_loss() {
        assert!(LossScale::for_precision(Precision::F32).is_none());
        assert!(LossScale::for_precision(Precision::Bf16).is_none());
        assert!(LossScale::for_precision(Precision::F16).is_some());
    }
}
