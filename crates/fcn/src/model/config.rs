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

/// How the class scores come back to the input's size.
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
}

impl Arch {
    /// The name in checkpoints and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Fcn32s => "fcn32s",
            Arch::Fcn16s => "fcn16s",
            Arch::Fcn8s => "fcn8s",
        }
    }

    fn from_name(name: &str) -> Option<Arch> {
        [Arch::Fcn32s, Arch::Fcn16s, Arch::Fcn8s]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to build a fresh model.
#[derive(Debug, Clone, PartialEq)]
pub struct FcnConfig {
    pub arch: Arch,
    pub num_classes: usize,
    /// Channels of the backbone's first stage: 64 is ResNet-18 (needed for pretrained
    /// weights); smaller is faster.
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
            ("num_classes".to_string(), self.num_classes.to_string()),
            ("width".to_string(), self.width.to_string()),
            ("class_names".to_string(), json(&self.class_names)),
            ("mean".to_string(), json(&self.mean.to_vec())),
            ("std".to_string(), json(&self.std.to_vec())),
        ])
    }

    /// The model a checkpoint's metadata describes (`path` names it in errors);
    /// checkpoints written before the skip heads have no `arch` and are FCN-32s.
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
                format!("{name} is not one of fcn32s, fcn16s, fcn8s"),
            )
        })?,
    };
    Ok(FcnConfig {
        arch,
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
