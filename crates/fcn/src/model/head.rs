//! The FCN head: a 1×1 convolution from the backbone's channels to one channel per
//! class, then a transposed convolution (kernel 64, stride 32, padding 16) that
//! brings the map back to the input's size, initialised to bilinear upsampling.

use burn::module::{Module, Param, ParamId};
use burn::nn::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::{Device, Shape, Tensor};

use super::layers::tensor;
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

impl FcnHead {
    /// Xavier-uniform class scores with PyTorch's default bias, and bilinear
    /// upsampling, as the textbook initialises them.
    pub fn init(in_channels: usize, num_classes: usize, device: &Device) -> Self {
        let (k, s, p) = UPSAMPLE;
        let mut final_conv = Conv2dConfig::new([in_channels, num_classes], [1, 1])
            .with_initializer(Initializer::XavierUniform { gain: 1.0 })
            .init(device);
        final_conv.bias = Some(default_bias(num_classes, in_channels, device));
        let mut transpose_conv = ConvTranspose2dConfig::new([num_classes; 2], [k, k])
            .with_stride([s, s])
            .with_padding([p, p])
            .init(device);
        transpose_conv.weight = bilinear(num_classes, k, device);
        transpose_conv.bias = Some(default_bias(num_classes, num_classes * k * k, device));
        Self {
            final_conv,
            transpose_conv,
        }
    }

    pub fn num_classes(&self) -> usize {
        self.final_conv.weight.lazy_shape()[0]
    }

    pub fn forward(&self, features: Tensor<4>, k: Kernels) -> Tensor<4> {
        let scores = conv2d(&self.final_conv, features, k);
        conv_transpose2d(&self.transpose_conv, scores, k)
    }
}
