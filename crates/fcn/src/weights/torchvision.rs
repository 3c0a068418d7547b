//! torchvision's key names and the textbook's: a ResNet's children (`conv1`,
//! `layer1`, …) are the textbook `nn.Sequential`'s indices (`0`, `4`, …), and an
//! FCN's backbone carries them under `backbone.`.

use crate::state::StateDict;

/// torchvision's ResNet children and the textbook's `nn.Sequential` indices.
const TORCHVISION_CHILDREN: [(&str, &str); 6] = [
    ("conv1.", "0."),
    ("bn1.", "1."),
    ("layer1.", "4."),
    ("layer2.", "5."),
    ("layer3.", "6."),
    ("layer4.", "7."),
];

/// torchvision's names (a ResNet's, or an FCN's `backbone.` ones) → the textbook's.
fn torchvision_to_textbook(key: &str) -> String {
    let key = key.strip_prefix("backbone.").unwrap_or(key);
    for (from, to) in TORCHVISION_CHILDREN {
        if let Some(rest) = key.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    key.to_string()
}

/// A state dict with textbook backbone names → torchvision's FCN names
/// (`backbone.conv1.…`, `backbone.layer1.…`); the head's keys are already its.
pub fn to_torchvision_fcn(state: StateDict) -> StateDict {
    let rename = |key: String| {
        for (to, from) in TORCHVISION_CHILDREN {
            if let Some(rest) = key.strip_prefix(from) {
                return format!("backbone.{to}{rest}");
            }
        }
        key
    };
    StateDict {
        tensors: state
            .tensors
            .into_iter()
            .map(|(k, v)| (rename(k), v))
            .collect(),
    }
}

pub(super) fn rename_torchvision(state: StateDict) -> StateDict {
    StateDict {
        tensors: state
            .tensors
            .into_iter()
            .map(|(k, v)| (torchvision_to_textbook(&k), v))
            .collect(),
    }
}
