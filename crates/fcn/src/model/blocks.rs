//! ResNet's residual blocks as torchvision builds them: `BasicBlock` (two 3×3
//! convolutions; ResNet-18 and -34) and `Bottleneck` (1×1, 3×3, 1×1 with four times
//! the channels out; ResNet-50 and -101), each with a BatchNorm after every
//! convolution and a shortcut that a 1×1 convolution reshapes where needed.
//!
//! Dilation: a Bottleneck dilates its 3×3 convolution, as torchvision's
//! `replace_stride_with_dilation` does. torchvision refuses dilation in a
//! BasicBlock; there we follow mmsegmentation's ResNet, which dilates the first
//! 3×3 convolution only (`conv2` keeps padding 1, dilation 1).

use burn::module::Module;
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use super::layers::{batch_norm_layer as bn, conv, conv_bn, dilated_conv};
use crate::ops::Kernels;

/// The 1×1 convolution (strided where the block is) and BatchNorm on the shortcut
/// where the shape changes.
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl Downsample {
    /// A shortcut projection when `stride` or the channel count changes the shape.
    fn when_needed([cin, cout]: [usize; 2], stride: usize, device: &Device) -> Option<Self> {
        (stride != 1 || cin != cout).then(|| Downsample {
            conv: conv([cin, cout], 1, stride, 0, device),
            bn: bn(cout, device),
        })
    }

    fn shortcut(this: &Option<Self>, x: &Tensor<4>, k: Kernels) -> Tensor<4> {
        match this {
            Some(d) => conv_bn((&d.conv, &d.bn), x.clone(), None, false, k),
            None => x.clone(),
        }
    }
}

/// torchvision's `BasicBlock`.
#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub downsample: Option<Downsample>,
}

impl BasicBlock {
    pub fn init([cin, cout]: [usize; 2], stride: usize, dilation: usize, device: &Device) -> Self {
        Self {
            conv1: dilated_conv([cin, cout], 3, stride, (dilation, dilation), device),
            bn1: bn(cout, device),
            conv2: conv([cout, cout], 3, 1, 1, device),
            bn2: bn(cout, device),
            downsample: Downsample::when_needed([cin, cout], stride, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>, k: Kernels) -> Tensor<4> {
        let shortcut = Downsample::shortcut(&self.downsample, &x, k);
        let y = conv_bn((&self.conv1, &self.bn1), x, None, true, k);
        conv_bn((&self.conv2, &self.bn2), y, Some(shortcut), true, k)
    }
}

/// torchvision's `Bottleneck` (the stride on the 3×3 convolution, as torchvision's
/// "ResNet V1.5").
#[derive(Module, Debug)]
pub struct Bottleneck {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub conv3: Conv2d,
    pub bn3: BatchNorm,
    pub downsample: Option<Downsample>,
}

/// A Bottleneck's output has this many times its inner channels.
pub const EXPANSION: usize = 4;

impl Bottleneck {
    /// `inner` channels in the 3×3 convolution, `EXPANSION × inner` out.
    pub fn init(cin: usize, inner: usize, stride: usize, dilation: usize, device: &Device) -> Self {
        let cout = inner * EXPANSION;
        Self {
            conv1: conv([cin, inner], 1, 1, 0, device),
            bn1: bn(inner, device),
            conv2: dilated_conv([inner, inner], 3, stride, (dilation, dilation), device),
            bn2: bn(inner, device),
            conv3: conv([inner, cout], 1, 1, 0, device),
            bn3: bn(cout, device),
            downsample: Downsample::when_needed([cin, cout], stride, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>, k: Kernels) -> Tensor<4> {
        let shortcut = Downsample::shortcut(&self.downsample, &x, k);
        let y = conv_bn((&self.conv1, &self.bn1), x, None, true, k);
        let y = conv_bn((&self.conv2, &self.bn2), y, None, true, k);
        conv_bn((&self.conv3, &self.bn3), y, Some(shortcut), true, k)
    }
}

/// One block of either kind (a network has one kind throughout).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Block {
    Basic(BasicBlock),
    Bottleneck(Bottleneck),
}

impl Block {
    pub fn forward(&self, x: Tensor<4>, k: Kernels) -> Tensor<4> {
        match self {
            Block::Basic(b) => b.forward(x, k),
            Block::Bottleneck(b) => b.forward(x, k),
        }
    }

    /// Channels out.
    pub fn out_channels(&self) -> usize {
        match self {
            Block::Basic(b) => b.bn2.gamma.lazy_shape()[0],
            Block::Bottleneck(b) => b.bn3.gamma.lazy_shape()[0],
        }
    }
}
