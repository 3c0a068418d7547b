//! ResNet-18 as torchvision builds it, without its average pooling and fully
//! connected layer: the FCN's backbone. A 3×H×W image becomes an
//! (8·width)×H/32×W/32 feature map (512×10×15 for 320×480 at width 64).
//!
//! Parameter names follow the textbook's `nn.Sequential` of torchvision's children:
//! `0` stem convolution, `1` its BatchNorm, `4`–`7` the four stages (torchvision's
//! `conv1`, `bn1`, `layer1`–`layer4`).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::layers::{batch_norm_layer as bn, conv, conv_bn};
use crate::ops::Kernels;

/// The 1×1 stride-2 convolution and BatchNorm on the shortcut where the shape changes.
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

/// torchvision's `BasicBlock`: two 3×3 convolutions with BatchNorm, ReLU, and a
/// shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub downsample: Option<Downsample>,
}

impl BasicBlock {
    fn init(channels: [usize; 2], stride: usize, device: &Device) -> Self {
        let [cin, cout] = channels;
        let downsample = (stride != 1 || cin != cout).then(|| Downsample {
            conv: conv([cin, cout], 1, stride, 0, device),
            bn: bn(cout, device),
        });
        Self {
            conv1: conv([cin, cout], 3, stride, 1, device),
            bn1: bn(cout, device),
            conv2: conv([cout, cout], 3, 1, 1, device),
            bn2: bn(cout, device),
            downsample,
        }
    }

    pub fn forward(&self, x: Tensor<4>, k: Kernels) -> Tensor<4> {
        let shortcut = match &self.downsample {
            Some(d) => conv_bn((&d.conv, &d.bn), x.clone(), None, false, k),
            None => x.clone(),
        };
        let y = conv_bn((&self.conv1, &self.bn1), x, None, true, k);
        conv_bn((&self.conv2, &self.bn2), y, Some(shortcut), true, k)
    }
}

/// ResNet-18 up to its last stage.
#[derive(Module, Debug)]
pub struct ResNet18 {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub maxpool: MaxPool2d,
    pub stages: Vec<Vec<BasicBlock>>,
}

/// A backbone's outputs at strides 8, 16 and 32 (ResNet's `layer2` to `layer4`).
pub struct Features {
    pub stride8: Tensor<4>,
    pub stride16: Tensor<4>,
    pub stride32: Tensor<4>,
}

/// The index of a stage in the textbook's `nn.Sequential` (stage 0 is child `4`).
pub(super) const FIRST_STAGE: usize = 4;

impl ResNet18 {
    /// `width` is the channel count of the first stage: 64 for the real ResNet-18
    /// (and for any pretrained weights); smaller widths train faster.
    pub fn init(width: usize, device: &Device) -> Self {
        let (conv1, bn1) = (conv([3, width], 7, 2, 3, device), bn(width, device));
        let mut stages = Vec::new();
        let mut cin = width;
        for s in 0..4 {
            let cout = width << s;
            let stride = if s == 0 { 1 } else { 2 };
            stages.push(vec![
                BasicBlock::init([cin, cout], stride, device),
                BasicBlock::init([cout, cout], 1, device),
            ]);
            cin = cout;
        }
        Self {
            conv1,
            bn1,
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            stages,
        }
    }

    /// Channels of the features at strides 8, 16 and 32.
    pub fn channels(&self) -> [usize; 3] {
        let out = |s: usize| self.stages[s][1].bn2.gamma.lazy_shape()[0];
        [out(1), out(2), out(3)]
    }

    /// The stride-32 feature map.
    pub fn forward(&self, x: Tensor<4>, k: Kernels) -> Tensor<4> {
        self.features(x, k).stride32
    }

    /// The outputs of the last three stages, for heads that use the finer ones.
    pub fn features(&self, x: Tensor<4>, k: Kernels) -> Features {
        let x = conv_bn((&self.conv1, &self.bn1), x, None, true, k);
        let mut x = crate::ops::max_pool2d(&self.maxpool, x, k);
        let mut outs = Vec::with_capacity(3);
        for (s, stage) in self.stages.iter().enumerate() {
            for block in stage {
                x = block.forward(x, k);
            }
            if s > 0 {
                outs.push(x.clone());
            }
        }
        let [stride8, stride16, stride32] =
            <[Tensor<4>; 3]>::try_from(outs).expect("ResNet-18 has four stages");
        Features {
            stride8,
            stride16,
            stride32,
        }
    }
}
