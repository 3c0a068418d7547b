//! torchvision's FCN head (`torchvision.models.segmentation.fcn`): `classifier`, an
//! `FCNHead` on the backbone's last stage, and optionally `aux_classifier`, one on
//! `layer3` whose loss helps training; each one's scores are resized to the input
//! bilinearly (`align_corners=False`). `FCNHead` is `nn.Sequential(conv 3×3
//! c→c/4 without bias, BatchNorm, ReLU, Dropout(0.1), conv 1×1 c/4→classes)`, so
//! its keys are `classifier.0.weight`, `classifier.1.*`, `classifier.4.*`.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, Dropout, DropoutConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::layers::{batch_norm_layer, conv_bn};
use super::resnet::Features;
use crate::ops::{Kernels, conv2d, resize_bilinear};

/// torchvision's dropout before the last convolution of an `FCNHead`.
const DROPOUT: f64 = 0.1;

/// One `FCNHead`.
#[derive(Module, Debug)]
pub struct ConvHead {
    pub conv: Conv2d,
    pub bn: BatchNorm,
    pub dropout: Dropout,
    pub score: Conv2d,
}

impl ConvHead {
    /// PyTorch's default initialisation for both convolutions (torchvision's
    /// builder leaves the heads as `nn.Conv2d` makes them).
    fn init(channels: usize, classes: usize, device: &Device) -> Self {
        let inner = channels / 4;
        Self {
            conv: Conv2dConfig::new([channels, inner], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            bn: batch_norm_layer(inner, device),
            dropout: DropoutConfig::new(DROPOUT).init(),
            // Burn's default initialiser is PyTorch's (Kaiming-uniform, a = √5).
            score: Conv2dConfig::new([inner, classes], [1, 1]).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>, size: [usize; 2], k: Kernels) -> Tensor<4> {
        let y = conv_bn((&self.conv, &self.bn), x, None, true, k);
        resize_bilinear(conv2d(&self.score, self.dropout.forward(y), k), size, k)
    }
}

/// The head of torchvision's `FCN`.
#[derive(Module, Debug)]
pub struct TvHead {
    pub classifier: ConvHead,
    pub aux_classifier: Option<ConvHead>,
}

impl TvHead {
    /// A fresh head on a backbone whose `layer3` and `layer4` have `channels`.
    pub fn init(channels: [usize; 2], classes: usize, aux: bool, device: &Device) -> Self {
        Self {
            classifier: ConvHead::init(channels[1], classes, device),
            aux_classifier: aux.then(|| ConvHead::init(channels[0], classes, device)),
        }
    }

    pub fn num_classes(&self) -> usize {
        self.classifier.score.weight.lazy_shape()[0]
    }

    /// The scores at `size`, and the auxiliary head's when `with_aux` and the
    /// head has one.
    pub fn forward(
        &self,
        features: Features,
        size: [usize; 2],
        with_aux: bool,
        k: Kernels,
    ) -> (Tensor<4>, Option<Tensor<4>>) {
        let aux = match (&self.aux_classifier, with_aux) {
            (Some(head), true) => Some(head.forward(features.layer3, size, k)),
            _ => None,
        };
        (self.classifier.forward(features.layer4, size, k), aux)
    }
}
