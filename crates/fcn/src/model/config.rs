//! [`FcnConfig`]: what a model is (architecture, classes, width, normalisation), its
//! limits, and how a checkpoint's metadata records it.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::Device;

use super::fcn::FcnNet;
use crate::error::{FcnError, Result};
use crate::weights::{FORMAT_KEY, FORMAT_VERSION};

/// Input sides must be multiples of this (the backbone's total stride); other
/// sizes are padded at the bottom and right, and the padding is cropped away or,
/// in training, ignored by the loss.
pub const INPUT_MULTIPLE: usize = 32;

/// The ImageNet statistics every torchvision backbone was trained with.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

pub use crate::classes::VOC_CLASSES;

/// The head: how the class scores are made and brought back to the input's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Arch {
    /// The textbook's FCN-32s: one ×32 transposed convolution of the stride-32 scores.
    #[default]
    Fcn32s,
    /// FCN-16s: the stride-32 scores ×2, plus scores of the stride-16 stage, ×16.
    Fcn16s,
    /// FCN-8s: as FCN-16s, then ×2, plus scores of the stride-8 stage, ×8.
    Fcn8s,
    /// torchvision's `fcn_resnet50/101`: FCNHead (3×3 convolution, BatchNorm, ReLU,
    /// dropout, 1×1 convolution) on a dilated backbone, an optional auxiliary head
    /// on `layer3`, and bilinear interpolation back to the input's size.
    Torchvision,
}

impl Arch {
    /// The name in checkpoints and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Fcn32s => "fcn32s",
            Arch::Fcn16s => "fcn16s",
            Arch::Fcn8s => "fcn8s",
            Arch::Torchvision => "torchvision",
        }
    }

    fn from_name(name: &str) -> Option<Arch> {
        [Arch::Fcn32s, Arch::Fcn16s, Arch::Fcn8s, Arch::Torchvision]
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// Whether this is one of the textbook's transposed-convolution heads, which need
    /// the backbone's stride-8, -16 and -32 stages undilated.
    pub fn is_textbook(self) -> bool {
        self != Arch::Torchvision
    }
}

/// The ResNet depths the backbone can have (18 and 34 with torchvision's
/// `BasicBlock`, 50 and 101 with `Bottleneck`).
pub const DEPTHS: [usize; 4] = [18, 34, 50, 101];

/// The output strides dilation can give the backbone.
pub const OUTPUT_STRIDES: [usize; 3] = [8, 16, 32];

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to build a fresh model.
#[derive(Debug, Clone, PartialEq)]
pub struct FcnConfig {
    pub arch: Arch,
    /// ResNet depth: 18, 34, 50 or 101.
    pub depth: usize,
    /// The backbone's total stride (32; 16 or 8 by dilating the last stages, for the
    /// torchvision head).
    pub output_stride: usize,
    /// Whether the torchvision head has its auxiliary classifier on `layer3`.
    pub aux: bool,
    pub num_classes: usize,
    /// Channels of the stem and of the first stage's 3×3 convolutions: 64 is
    /// torchvision's (needed for pretrained weights); smaller is faster.
    pub width: usize,
    pub class_names: Vec<String>,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for FcnConfig {
    /// Pascal VOC: 21 classes, full width, ImageNet normalisation.
    fn default() -> Self {
        Self {
            arch: Arch::Fcn32s,
            depth: 18,
            output_stride: 32,
            aux: false,
            num_classes: 21,
            width: 64,
            class_names: VOC_CLASSES.iter().map(|s| s.to_string()).collect(),
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        }
    }
}

impl FcnConfig {
    /// `num_classes` classes named `class_0`, … unless they are VOC's 21.
    pub fn with_num_classes(mut self, num_classes: usize) -> Self {
        self.num_classes = num_classes;
        if num_classes != self.class_names.len() {
            self.class_names = (0..num_classes).map(|i| format!("class_{i}")).collect();
        }
        self
    }

    /// torchvision's `fcn_resnet<depth>`: output stride 8, with the auxiliary head.
    pub fn torchvision(depth: usize) -> Self {
        Self {
            arch: Arch::Torchvision,
            depth,
            output_stride: 8,
            aux: true,
            ..Self::default()
        }
    }

    /// Input sides the network takes as they are; others are padded up to a
    /// multiple (the textbook heads' transposed convolutions need a multiple of 32,
    /// torchvision's interpolation takes any size).
    pub fn input_multiple(&self) -> usize {
        if self.arch.is_textbook() {
            INPUT_MULTIPLE
        } else {
            1
        }
    }

    /// One line describing the network, e.g. `FCN-8s on ResNet-18 (output stride 32)`.
    pub fn describe(&self) -> String {
        let head = match self.arch {
            Arch::Fcn32s => "FCN-32s".to_string(),
            Arch::Fcn16s => "FCN-16s".to_string(),
            Arch::Fcn8s => "FCN-8s".to_string(),
            Arch::Torchvision if self.aux => "torchvision FCNHead with aux head".to_string(),
            Arch::Torchvision => "torchvision FCNHead".to_string(),
        };
        format!(
            "{head} on ResNet-{} (output stride {}, width {})",
            self.depth, self.output_stride, self.width
        )
    }
}

/// The most classes a model may have: masks hold one byte per pixel and 255 is
/// the ignored label.
pub const MAX_CLASSES: usize = 255;

/// The widest backbone built from scratch (64 is ResNet-18; 512 is already 45 times
/// its 11 million parameters).
pub const MAX_WIDTH: usize = 512;

impl FcnConfig {
    /// Checks the configuration before anything is allocated for it: the width and
    /// class count in range, the class names one per class, the normalisation usable.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(FcnError::Input(m));
        if !DEPTHS.contains(&self.depth) {
            return bad(format!(
                "depth {} is not one of 18, 34, 50, 101",
                self.depth
            ));
        }
        if !OUTPUT_STRIDES.contains(&self.output_stride) {
            return bad(format!(
                "output stride {} is not one of 8, 16, 32",
                self.output_stride
            ));
        }
        if self.arch.is_textbook() && self.output_stride != 32 {
            return bad(format!(
                "{} needs output stride 32 (its transposed convolutions undo strides 8, 16 \
                 and 32); a dilated backbone (output stride {}) goes with --arch torchvision",
                self.arch, self.output_stride
            ));
        }
        if self.aux && self.arch.is_textbook() {
            return bad(format!(
                "{} has no auxiliary head (only --arch torchvision has one)",
                self.arch
            ));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return bad(format!("width {} is outside 1..={MAX_WIDTH}", self.width));
        }
        if !(1..=MAX_CLASSES).contains(&self.num_classes) {
            return bad(format!(
                "{} classes is outside 1..={MAX_CLASSES} (masks hold one byte per pixel)",
                self.num_classes
            ));
        }
        if self.class_names.len() != self.num_classes {
            return bad(format!(
                "{} class names for {} classes",
                self.class_names.len(),
                self.num_classes
            ));
        }
        if let Some(c) = (0..3).find(|&c| !(self.std[c].is_finite() && self.std[c] > 0.0)) {
            return bad(format!("std[{c}] is {}; it must be positive", self.std[c]));
        }
        if let Some(c) = (0..3).find(|&c| !self.mean[c].is_finite()) {
            return bad(format!("mean[{c}] is {}", self.mean[c]));
        }
        Ok(())
    }

    /// Bytes of the model's tensors (parameters and BatchNorm statistics, f32), from
    /// the architecture's shapes alone (nothing is initialised), for a memory
    /// estimate before building it.
    pub fn weight_bytes(&self) -> u64 {
        let net = FcnNet::init(self, &Device::flex());
        let values: usize = super::names::layout(&net)
            .iter()
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum();
        4 * values as u64
    }
}

impl FcnConfig {
    /// The checkpoint metadata that describes this model.
    pub fn to_metadata(&self) -> HashMap<String, String> {
        HashMap::from([
            (FORMAT_KEY.to_string(), FORMAT_VERSION.to_string()),
            ("arch".to_string(), self.arch.name().to_string()),
            ("depth".to_string(), self.depth.to_string()),
            ("output_stride".to_string(), self.output_stride.to_string()),
            ("aux".to_string(), self.aux.to_string()),
            ("num_classes".to_string(), self.num_classes.to_string()),
            ("width".to_string(), self.width.to_string()),
            ("class_names".to_string(), json(&self.class_names)),
            ("mean".to_string(), json(&self.mean.to_vec())),
            ("std".to_string(), json(&self.std.to_vec())),
        ])
    }

    /// The model a checkpoint's metadata describes (`path` names it in errors);
    /// checkpoints written before the skip heads have no `arch` and are FCN-32s, and
    /// those written before the deeper backbones are ResNet-18 at output stride 32.
    pub fn from_metadata(path: &Path, m: &HashMap<String, String>) -> Result<FcnConfig> {
        meta_from(path, m)
    }
}

fn meta_from(path: &Path, m: &HashMap<String, String>) -> Result<FcnConfig> {
    let get = |k: &str| {
        m.get(k)
            .ok_or_else(|| FcnError::weights(path, format!("checkpoint metadata lacks {k}")))
    };
    let bad = |k: &str, e: String| FcnError::weights(path, format!("checkpoint metadata {k}: {e}"));
    let version = get(FORMAT_KEY)?;
    if version != FORMAT_VERSION {
        return Err(bad(
            FORMAT_KEY,
            format!("version {version} is not supported (this build reads {FORMAT_VERSION})"),
        ));
    }
    let num_classes: usize = get("num_classes")?
        .parse()
        .map_err(|e| bad("num_classes", format!("{e}")))?;
    let width: usize = get("width")?
        .parse()
        .map_err(|e| bad("width", format!("{e}")))?;
    let class_names: Vec<String> =
        serde_json::from_str(get("class_names")?).map_err(|e| bad("class_names", e.to_string()))?;
    let triple = |k: &str| -> Result<[f32; 3]> {
        let v: Vec<f32> = serde_json::from_str(get(k)?).map_err(|e| bad(k, e.to_string()))?;
        v.try_into()
            .map_err(|v: Vec<f32>| bad(k, format!("expected 3 values, got {}", v.len())))
    };
    let arch = match m.get("arch") {
        None => Arch::Fcn32s,
        Some(name) => Arch::from_name(name).ok_or_else(|| {
            bad(
                "arch",
                format!("{name} is not one of fcn32s, fcn16s, fcn8s, torchvision"),
            )
        })?,
    };
    let number = |k: &str, absent: usize| -> Result<usize> {
        m.get(k).map_or(Ok(absent), |v| {
            v.parse().map_err(|e| bad(k, format!("{e}")))
        })
    };
    let aux = match m.get("aux").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(bad("aux", format!("{other} is not true or false"))),
    };
    Ok(FcnConfig {
        arch,
        depth: number("depth", 18)?,
        output_stride: number("output_stride", 32)?,
        aux,
        num_classes,
        width,
        class_names,
        mean: triple("mean")?,
        std: triple("std")?,
    })
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("strings and floats serialise to JSON")
}
