//! The FCN heads: a 1×1 convolution from the backbone's channels to one channel per
//! class on the stride-32 features, then the way back to the input's size, as
//! `../shared/scripts/fcn_skip.py` defines it in PyTorch (with the same key names):
//!
//! * FCN-32s (the textbook's): `transpose_conv`, ×32 (kernel 64, stride 32,
//!   padding 16, with bias), initialised to bilinear upsampling;
//! * FCN-16s: `upscore2` (×2, kernel 4) of the scores plus `score_pool4` (1×1 on the
//!   stride-16 stage), then `upscore16` (×16, kernel 32);
//! * FCN-8s: as FCN-16s up to the sum, then `upscore_pool4` (×2) plus `score_pool3`
//!   (1×1 on the stride-8 stage), then `upscore8` (×8, kernel 16).
//!
//! The skip heads' transposed convolutions have no bias and start bilinear; their
//! score convolutions start at zero (the FCN paper's initialisation), so a fresh
//! FCN-8s computes what an FCN-32s with bilinear upsampling would.

use burn::module::{Module, Param, ParamId};
use burn::nn::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::{Device, Shape, Tensor};

use super::config::Arch;
use super::layers::tensor;
use super::resnet::Features;
use crate::ops::{Kernels, conv_transpose2d, conv2d};

/// Kernel, stride and padding of FCN-32s's upsampling layer: ×32, the backbone's
/// total stride.
pub const UPSAMPLE: (usize, usize, usize) = (64, 32, 16);

#[derive(Module, Debug)]
pub struct FcnHead {
    pub final_conv: Conv2d,
    pub upsample: Upsample,
}

/// How the stride-32 scores come back to the input's size. (One per network, so
/// the variants' different sizes cost nothing worth boxing for.)
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Upsample {
    X32(X32),
    Skip16(Skip16),
    Skip8(Skip8),
}

/// FCN-32s.
#[derive(Module, Debug)]
pub struct X32 {
    pub transpose_conv: ConvTranspose2d,
}

/// FCN-16s.
#[derive(Module, Debug)]
pub struct Skip16 {
    pub upscore2: ConvTranspose2d,
    pub score_pool4: Conv2d,
    pub upscore16: ConvTranspose2d,
}

/// FCN-8s.
#[derive(Module, Debug)]
pub struct Skip8 {
    pub upscore2: ConvTranspose2d,
    pub score_pool4: Conv2d,
    pub upscore_pool4: ConvTranspose2d,
    pub score_pool3: Conv2d,
    pub upscore8: ConvTranspose2d,
}

/// PyTorch's default bias: uniform in ±1/√fan_in.
fn default_bias(len: usize, fan_in: usize, device: &Device) -> Param<Tensor<1>> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    Initializer::Uniform {
        min: -bound,
        max: bound,
    }
    .init([len], device)
}

/// The bilinear upsampling kernel `[classes, classes, k, k]`, computed only when
/// first used (a model about to be loaded never computes it).
fn bilinear(classes: usize, k: usize, device: &Device) -> Param<Tensor<4>> {
    let shape = [classes, classes, k, k];
    let init = move |device: &Device, grad: bool| {
        let w = tconv::bilinear_kernel(classes, classes, k);
        tensor(w.into_raw_vec_and_offset().0, shape, device).set_require_grad(grad)
    };
    Param::uninitialized(
        ParamId::new(),
        init,
        device.clone(),
        true,
        Shape::from(shape),
    )
}

/// A `classes → classes` transposed convolution, bilinear; ×`stride` with the
/// padding that makes the output exactly `stride` times the input.
fn upscore(
    classes: usize,
    kernel: usize,
    stride: usize,
    bias: bool,
    device: &Device,
) -> ConvTranspose2d {
    let padding = (kernel - stride) / 2;
    let mut conv = ConvTranspose2dConfig::new([classes; 2], [kernel; 2])
        .with_stride([stride; 2])
        .with_padding([padding; 2])
        .with_bias(bias)
        .init(device);
    conv.weight = bilinear(classes, kernel, device);
    if bias {
        conv.bias = Some(default_bias(classes, classes * kernel * kernel, device));
    }
    conv
}

/// A 1×1 convolution `channels → classes` starting at zero.
fn zero_score(channels: usize, classes: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels, classes], [1, 1])
        .with_initializer(Initializer::Zeros)
        .init(device)
}

impl FcnHead {
    /// The head of `arch` (one of the textbook's) on a backbone whose stride-32
    /// features have `channels[2]` channels (`channels[0]`, `channels[1]` at
    /// strides 8 and 16), initialised as the textbook and the FCN paper do.
    pub fn init(arch: Arch, channels: [usize; 3], classes: usize, device: &Device) -> Self {
        let mut final_conv = Conv2dConfig::new([channels[2], classes], [1, 1])
            .with_initializer(Initializer::XavierUniform { gain: 1.0 })
            .init(device);
        final_conv.bias = Some(default_bias(classes, channels[2], device));
        let up = |kernel, stride| upscore(classes, kernel, stride, false, device);
        let upsample = match arch {
            Arch::Fcn32s => Upsample::X32(X32 {
                transpose_conv: upscore(classes, UPSAMPLE.0, UPSAMPLE.1, true, device),
            }),
            Arch::Fcn16s => Upsample::Skip16(Skip16 {
                upscore2: up(4, 2),
                score_pool4: zero_score(channels[1], classes, device),
                upscore16: up(32, 16),
            }),
            Arch::Fcn8s => Upsample::Skip8(Skip8 {
                upscore2: up(4, 2),
                score_pool4: zero_score(channels[1], classes, device),
                upscore_pool4: up(4, 2),
                score_pool3: zero_score(channels[0], classes, device),
                upscore8: up(16, 8),
            }),
            Arch::Torchvision => unreachable!("torchvision's head is TvHead"),
        };
        Self {
            final_conv,
            upsample,
        }
    }

    pub fn num_classes(&self) -> usize {
        self.final_conv.weight.lazy_shape()[0]
    }

    /// The layers that bring the scores back to the input's size (frozen by
    /// `--freeze-upsampling`).
    pub fn freeze_upsampling(mut self) -> Self {
        self.upsample = self.upsample.no_grad();
        self
    }

    pub fn forward(&self, features: Features, k: Kernels) -> Tensor<4> {
        let scores = conv2d(&self.final_conv, features.layer4, k);
        match &self.upsample {
            Upsample::X32(h) => conv_transpose2d(&h.transpose_conv, scores, k),
            Upsample::Skip16(h) => {
                let s = conv_transpose2d(&h.upscore2, scores, k)
                    + conv2d(&h.score_pool4, features.layer3, k);
                conv_transpose2d(&h.upscore16, s, k)
            }
            Upsample::Skip8(h) => {
                let s = conv_transpose2d(&h.upscore2, scores, k)
                    + conv2d(&h.score_pool4, features.layer3, k);
                let s = conv_transpose2d(&h.upscore_pool4, s, k)
                    + conv2d(&h.score_pool3, features.layer2, k);
                conv_transpose2d(&h.upscore8, s, k)
            }
        }
    }
}
