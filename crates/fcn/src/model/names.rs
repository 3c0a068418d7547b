//! The network's tensors under PyTorch's names, from Burn's own walk of the module
//! (`ModuleSnapshot::collect` with its PyTorch adapter for BatchNorm's `weight` and
//! `bias`): the model's structure is written once, in its Burn modules, and this
//! file only says how Burn's field paths read in the textbook's `nn.Sequential`.

use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};

use super::fcn::FcnNet;
use super::resnet::FIRST_STAGE;
use crate::state::{NamedTensor, StateDict};

/// The PyTorch key of the tensor Burn calls `path` in an [`FcnNet`]:
/// `backbone.conv1` → `0`, `backbone.bn1` → `1`, `backbone.stages.S` → `4+S`, a
/// block's `downsample.conv` / `.bn` → `downsample.0` / `.1`, `head.` dropped.
pub fn pytorch_key(path: &str) -> String {
    let key = if let Some(rest) = path.strip_prefix("backbone.conv1.") {
        format!("0.{rest}")
    } else if let Some(rest) = path.strip_prefix("backbone.bn1.") {
        format!("1.{rest}")
    } else if let Some(rest) = path.strip_prefix("backbone.stages.") {
        let (stage, rest) = rest.split_once('.').unwrap_or((rest, ""));
        match stage.parse::<usize>() {
            Ok(s) => format!("{}.{rest}", FIRST_STAGE + s),
            Err(_) => path.to_string(),
        }
    } else {
        path.strip_prefix("head.").unwrap_or(path).to_string()
    };
    key.replace(".downsample.conv.", ".downsample.0.")
        .replace(".downsample.bn.", ".downsample.1.")
}

/// Every parameter and BatchNorm statistic of `net` under its PyTorch key.
pub fn state_dict(net: &FcnNet) -> StateDict {
    let mut dict = StateDict::default();
    for t in net.collect(None, Some(Box::new(BurnToPyTorchAdapter)), false) {
        let bytes = t.to_bytes().expect("a module's own tensors are readable");
        let values = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        let key = pytorch_key(&t.name);
        dict.insert(key, NamedTensor::new(t.shape.to_vec(), values));
    }
    dict
}

#[cfg(test)]
mod tests {
    use super::pytorch_key;

    #[test]
    fn burn_paths_read_as_the_textbook_names() {
        for (burn, torch) in [
            ("backbone.conv1.weight", "0.weight"),
            ("backbone.bn1.running_var", "1.running_var"),
            ("backbone.stages.0.1.conv2.weight", "4.1.conv2.weight"),
            (
                "backbone.stages.3.0.downsample.conv.weight",
                "7.0.downsample.0.weight",
            ),
            (
                "backbone.stages.2.0.downsample.bn.bias",
                "6.0.downsample.1.bias",
            ),
            ("head.final_conv.bias", "final_conv.bias"),
            ("head.transpose_conv.weight", "transpose_conv.weight"),
        ] {
            assert_eq!(pytorch_key(burn), torch);
        }
    }
}
