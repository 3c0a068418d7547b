//! The FCN head: a 1×1 convolution from the backbone's channels to one channel per
//! class, then a transposed convolution (kernel 64, stride 32, padding 16) that
//! brings the map back to the input's size, initialised to bilinear upsampling.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d};

use burn::tensor::{Device, Tensor};

use super::layers::{ConvSpec, load_conv_transpose2d, load_conv2d, tensor, transpose_conv_config};
use super::resnet::Source;
use crate::ops::{Kernels, conv_transpose2d, conv2d};

/// Kernel, stride and padding of the upsampling layer: ×32, the backbone's total stride.
pub const UPSAMPLE: (usize, usize, usize) = (64, 32, 16);

#[derive(Module, Debug)]
pub struct FcnHead {
    pub final_conv: Conv2d,
    pub transpose_conv: ConvTranspose2d,
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

impl FcnHead {
    pub fn build(
        src: &mut Source,
        in_channels: usize,
        num_classes: usize,
        device: &Device,
    ) -> Self {
        let (k, s, p) = UPSAMPLE;
        let tconfig = transpose_conv_config(num_classes, k, s, p);
        match src {
            Source::Init => {
                let mut final_conv = Conv2dConfig::new([in_channels, num_classes], [1, 1])
                    .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                    .init(device);
                final_conv.bias = Some(default_bias(num_classes, in_channels, device));
                let mut transpose_conv = tconfig.init(device);
                let w = tconv::bilinear_kernel(num_classes, num_classes, k);
                let shape = [num_classes, num_classes, k, k];
                transpose_conv.weight =
                    Param::from_tensor(tensor(w.into_raw_vec_and_offset().0, shape, device));
                transpose_conv.bias = Some(default_bias(num_classes, num_classes * k * k, device));
                Self {
                    final_conv,
                    transpose_conv,
                }
            }
            Source::State(r) => {
                let mut spec = ConvSpec::new([in_channels, num_classes], 1, 1, 0);
                spec.bias = true;
                Self {
                    final_conv: load_conv2d(r, "final_conv", spec, device),
                    transpose_conv: load_conv_transpose2d(r, "transpose_conv", &tconfig, device),
                }
            }
        }
    }

    pub fn num_classes(&self) -> usize {
        self.final_conv.weight.dims()[0]
    }

    pub fn forward(&self, features: Tensor<4>, k: Kernels) -> Tensor<4> {
        let scores = conv2d(&self.final_conv, features, k);
        conv_transpose2d(&self.transpose_conv, scores, k)
    }
}
