//! ResNet-18, -34, -50 and -101 as torchvision builds them, without the average
//! pooling and fully connected layer: the FCN's backbone. A 3×H×W image becomes a
//! feature map at 1/32 of its size (512×10×15 for 320×480 on ResNet-18), or at 1/16
//! or 1/8 when the last stages trade their stride for dilation.
//!
//! Parameter names follow the textbook's `nn.Sequential` of torchvision's children:
//! `0` stem convolution, `1` its BatchNorm, `4`–`7` the four stages (torchvision's
//! `conv1`, `bn1`, `layer1`–`layer4`).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::blocks::{BasicBlock, Block, Bottleneck};
use super::layers::{batch_norm_layer as bn, conv, conv_bn};
use crate::ops::Kernels;

/// The backbone.
#[derive(Module, Debug)]
pub struct ResNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub maxpool: MaxPool2d,
    pub stages: Vec<Vec<Block>>,
}

/// The outputs of the last three stages (torchvision's `layer2` to `layer4`): at
/// strides 8, 16 and 32 in an undilated network.
pub struct Features {
    pub layer2: Tensor<4>,
    pub layer3: Tensor<4>,
    pub layer4: Tensor<4>,
}

/// The index of a stage in the textbook's `nn.Sequential` (stage 0 is child `4`).
pub(super) const FIRST_STAGE: usize = 4;

/// Blocks per stage.
fn blocks_per_stage(depth: usize) -> Option<[usize; 4]> {
    match depth {
        18 => Some([2, 2, 2, 2]),
        34 | 50 => Some([3, 4, 6, 3]),
        101 => Some([3, 4, 23, 3]),
        _ => None,
    }
}

/// How one stage is built.
#[derive(Debug, Clone, Copy, PartialEq)]
struct StagePlan {
    stride: usize,
    /// The first block's dilation: the previous stage's (torchvision's
    /// `previous_dilation`; mmsegmentation's `contract_dilation` for BasicBlocks).
    first_dilation: usize,
    dilation: usize,
}

/// Strides and dilations of the four stages for `output_stride` (32, 16 or 8):
/// the stem reduces by 4, each stage after the first by 2 unless that would pass
/// the output stride, in which case it dilates by 2 instead.
fn stage_plans(output_stride: usize) -> [StagePlan; 4] {
    let (mut reduction, mut dilation) = (4, 1);
    std::array::from_fn(|s| {
        let first_dilation = dilation;
        let mut stride = if s == 0 { 1 } else { 2 };
        if reduction * stride > output_stride {
            dilation *= stride;
            stride = 1;
        }
        reduction *= stride;
        StagePlan {
            stride,
            first_dilation,
            dilation,
        }
    })
}

impl ResNet {
    /// ResNet-`depth` (18, 34, 50 or 101) at `output_stride` (8, 16 or 32).
    /// `width` is the stem's channels and the first stage's inner channels: 64 in
    /// torchvision (and for any pretrained weights); smaller trains faster.
    /// Call [`crate::model::FcnConfig::validate`] first: other depths panic.
    pub fn init(depth: usize, width: usize, output_stride: usize, device: &Device) -> Self {
        let counts = blocks_per_stage(depth).expect("a validated depth");
        let bottleneck = depth >= 50;
        let mut cin = width;
        let mut stages = Vec::with_capacity(4);
        for (s, plan) in stage_plans(output_stride).into_iter().enumerate() {
            let inner = width << s;
            let blocks = (0..counts[s])
                .map(|b| {
                    let (stride, dilation) = match b {
                        0 => (plan.stride, plan.first_dilation),
                        _ => (1, plan.dilation),
                    };
                    let block = if bottleneck {
                        Block::Bottleneck(Bottleneck::init(cin, inner, stride, dilation, device))
                    } else {
                        Block::Basic(BasicBlock::init([cin, inner], stride, dilation, device))
                    };
                    cin = block.out_channels();
                    block
                })
                .collect();
            stages.push(blocks);
        }
        Self {
            conv1: conv([3, width], 7, 2, 3, device),
            bn1: bn(width, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            stages,
        }
    }

    /// Channels of `layer2`, `layer3` and `layer4`.
    pub fn channels(&self) -> [usize; 3] {
        let out = |s: usize| self.stages[s].last().map_or(0, Block::out_channels);
        [out(1), out(2), out(3)]
    }

    /// The last stage's feature map.
    pub fn forward(&self, x: Tensor<4>, k: Kernels) -> Tensor<4> {
        self.features(x, k).layer4
    }

    /// The outputs of the last three stages, for heads that use the earlier ones.
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
        let [layer2, layer3, layer4] =
            <[Tensor<4>; 3]>::try_from(outs).expect("a ResNet has four stages");
        Features {
            layer2,
            layer3,
            layer4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{StagePlan, stage_plans};

    fn plan(stride: usize, first_dilation: usize, dilation: usize) -> StagePlan {
        StagePlan {
            stride,
            first_dilation,
            dilation,
        }
    }

    /// torchvision's `replace_stride_with_dilation`: [False, False, False] for 32,
    /// [False, False, True] for 16, [False, True, True] for 8 (worked by hand from
    /// `_make_layer`: a dilated stage's first block keeps the previous dilation).
    #[test]
    fn output_strides_dilate_as_torchvision() {
        let undilated = [plan(1, 1, 1), plan(2, 1, 1), plan(2, 1, 1), plan(2, 1, 1)];
        assert_eq!(stage_plans(32), undilated);
        assert_eq!(
            stage_plans(16),
            [plan(1, 1, 1), plan(2, 1, 1), plan(2, 1, 1), plan(1, 1, 2)]
        );
        assert_eq!(
            stage_plans(8),
            [plan(1, 1, 1), plan(2, 1, 1), plan(1, 1, 2), plan(1, 2, 4)]
        );
    }
}
