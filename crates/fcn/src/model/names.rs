//! The network's tensors under PyTorch's names. The structure is written once, in
//! the Burn modules; Burn's own walks over them (`ModuleVisitor`, `ModuleMapper`)
//! serve the layout (keys and shapes, read without computing lazily initialised
//! values), saving and loading, and this file only says how Burn's field paths read
//! in the textbook's `nn.Sequential`.
//!
//! Our own walk rather than `burn-store`'s `collect`/`apply`: `collect` computes
//! every lazily initialised tensor (the layout of a model about to be loaded must
//! not), and the loader checks each tensor against the file with our own messages
//! (`StateReader`).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor, TensorData};

use super::fcn::FcnNet;
use super::resnet::FIRST_STAGE;
use crate::state::{NamedTensor, StateDict, StateReader};

/// The PyTorch key of the tensor Burn calls `path` in an [`FcnNet`]:
/// `backbone.conv1` → `0`, `backbone.bn1` → `1`, `backbone.stages.S` → `4+S`, a
/// block's `downsample.conv` / `.bn` → `downsample.0` / `.1`, `head.` and
/// `head.upsample.` dropped; in torchvision's head, `FCNHead`'s layers by their
/// `nn.Sequential` indices (`classifier.conv` → `classifier.0`, `.bn` → `.1`,
/// `.score` → `.4`).
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
    } else if let Some(rest) = path.strip_prefix("head.upsample.") {
        rest.to_string()
    } else {
        path.strip_prefix("head.").unwrap_or(path).to_string()
    };
    if key.starts_with("classifier.") || key.starts_with("aux_classifier.") {
        return key
            .replace("classifier.conv.", "classifier.0.")
            .replace("classifier.bn.", "classifier.1.")
            .replace("classifier.score.", "classifier.4.");
    }
    key.replace(".downsample.conv.", ".downsample.0.")
        .replace(".downsample.bn.", ".downsample.1.")
}

/// Where a walk over the network is: Burn's field path and the struct that owns
/// each field. An enum's variant (which head) is not part of the path.
#[derive(Default)]
struct Position {
    path: Vec<String>,
    owners: Vec<String>,
}

impl Position {
    fn enter(&mut self, name: &str, owner: &str) {
        let name = if owner.starts_with("Enum:") { "" } else { name };
        self.path.push(name.to_string());
        self.owners.push(owner.to_string());
    }

    fn exit(&mut self) {
        self.path.pop();
        self.owners.pop();
    }

    /// The PyTorch key of the tensor reached; BatchNorm's `gamma` and `beta` are
    /// PyTorch's `weight` and `bias`.
    fn key(&self) -> String {
        let mut path = self.path.clone();
        if self.owners.last().is_some_and(|o| o == "Struct:BatchNorm")
            && let Some(field) = path.last_mut()
        {
            match field.as_str() {
                "gamma" => *field = "weight".into(),
                "beta" => *field = "bias".into(),
                _ => {}
            }
        }
        path.retain(|p| !p.is_empty());
        pytorch_key(&path.join("."))
    }

    fn in_head(&self) -> bool {
        self.path.first().is_some_and(|p| p == "head")
    }
}

/// What a listing takes of each tensor besides its key and shape.
#[derive(Clone, Copy)]
enum Take<'g> {
    Nothing,
    Values,
    Gradients(&'g Gradients),
}

/// Lists keys and shapes, and values or gradients as asked.
struct Lister<'g> {
    at: Position,
    take: Take<'g>,
    found: Vec<(String, Vec<usize>, Option<NamedTensor>)>,
}

impl ModuleVisitor for Lister<'_> {
    fn enter_module(&mut self, name: &str, owner: &str) {
        self.at.enter(name, owner);
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.at.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = match self.take {
            Take::Nothing => None,
            Take::Values => Some(super::layers::named(&param.val())),
            Take::Gradients(grads) => param.val().grad(grads).map(|g| super::layers::named(&g)),
        };
        let shape = param.lazy_shape().to_vec();
        self.found.push((self.at.key(), shape, values));
    }
}

fn list(net: &FcnNet, take: Take) -> Vec<(String, Vec<usize>, Option<NamedTensor>)> {
    let mut lister = Lister {
        at: Position::default(),
        take,
        found: Vec::new(),
    };
    net.visit(&mut lister);
    lister.found
}

/// The PyTorch key and shape of every tensor of `net`, in module order; lazily
/// initialised parameters stay uncomputed.
pub fn layout(net: &FcnNet) -> Vec<(String, Vec<usize>)> {
    list(net, Take::Nothing)
        .into_iter()
        .map(|(key, shape, _)| (key, shape))
        .collect()
}

/// Every parameter and BatchNorm statistic of `net` under its PyTorch key.
pub fn state_dict(net: &FcnNet) -> StateDict {
    let mut dict = StateDict::default();
    for (key, _, tensor) in list(net, Take::Values) {
        dict.insert(key, tensor.expect("values were asked for"));
    }
    dict
}

/// The gradient in `grads` of every parameter of `net` that has one, under its
/// PyTorch key.
pub fn gradients(net: &FcnNet, grads: &Gradients) -> StateDict {
    let mut dict = StateDict::default();
    for (key, _, grad) in list(net, Take::Gradients(grads)) {
        if let Some(g) = grad {
            dict.insert(key, g);
        }
    }
    dict
}

/// Replaces each tensor of the network with the reader's tensor of its key.
struct Loader<'r, 'a> {
    at: Position,
    reader: &'r mut StateReader<'a>,
    skip_head: bool,
}

impl ModuleMapper for Loader<'_, '_> {
    fn enter_module(&mut self, name: &str, owner: &str) {
        self.at.enter(name, owner);
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.at.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.skip_head && self.at.in_head() {
            return param;
        }
        let shape = param.lazy_shape();
        match self.reader.take(&self.at.key(), &shape) {
            Some(values) => {
                let device = param.lazy_device();
                let tensor = Tensor::from_data(TensorData::new(values, shape), &device);
                let id = param.id;
                param.transform_for_load(tensor, id)
            }
            // Reported by the reader; the parameter stays as it was (and uncomputed).
            None => param,
        }
    }
}

/// `net` with every tensor taken from `reader` by its PyTorch key (the head's
/// too unless `skip_head`); missing and misshapen tensors are left to the reader
/// to report.
pub fn load(net: FcnNet, reader: &mut StateReader, skip_head: bool) -> FcnNet {
    let mut loader = Loader {
        at: Position::default(),
        reader,
        skip_head,
    };
    net.map(&mut loader)
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
            (
                "head.upsample.transpose_conv.weight",
                "transpose_conv.weight",
            ),
            ("head.upsample.score_pool3.bias", "score_pool3.bias"),
            ("head.classifier.conv.weight", "classifier.0.weight"),
            (
                "head.aux_classifier.bn.running_mean",
                "aux_classifier.1.running_mean",
            ),
            ("head.classifier.score.bias", "classifier.4.bias"),
            ("backbone.stages.3.2.conv3.weight", "7.2.conv3.weight"),
        ] {
            assert_eq!(pytorch_key(burn), torch);
        }
    }
}
