//! ONNX export: the model as one ONNX file (opset 17, IR version 8) that ONNX
//! Runtime, TensorRT, OpenVINO, tract and onnxruntime-web run.
//!
//! The graph takes `input`, float32 `[N, 3, H, W]` already normalised (or, with
//! [`OnnxOptions::with_preprocessing`], `image`, uint8 `[N, H, W, 3]` RGB), and
//! returns `logits` `[N, classes, H, W]` (and, with [`OnnxOptions::argmax`],
//! `classes`, int64 `[N, H, W]`). N, H and W are dynamic: as [`crate::Fcn::logits`]
//! does, the textbook heads pad the input with zeros at the bottom and right to a
//! multiple of 32 and crop the logits back. Inference BatchNorm is folded into the
//! convolutions, so the network is Conv, ConvTranspose, Relu, MaxPool, Add and
//! Resize, with Shape, Slice, Mod, Sub, Concat and Pad for the sizes. The mean, std,
//! class names and colours go in the model's `metadata_props`.
//!
//! The protobuf messages are `onnx-protobuf`'s; this module only fills them in.

mod graph;
mod network;

use std::path::Path;

use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{Message, ModelProto, OperatorSetIdProto, StringStringEntryProto};

use crate::data::colormap::voc_color;
use crate::error::{FcnError, Result};
use crate::model::Fcn;
use graph::{Attr, Dim, Graph};

/// The opset the graph is written for (Resize's `pytorch_half_pixel`, Pad's
/// input pads and Slice's input bounds all need at least 13).
pub const OPSET: i64 = 17;
/// The ONNX IR version for opset 17, as `torch.onnx` writes it.
pub const IR_VERSION: i64 = 8;

/// What the exported graph takes and gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnnxOptions {
    /// Store the weights as float16 (cast to float32 when the graph loads): half
    /// the file, the same arithmetic.
    pub fp16: bool,
    /// Take uint8 RGB `[N, H, W, 3]` named `image` and normalise inside the graph.
    pub with_preprocessing: bool,
    /// Add `classes`, the per-pixel argmax, as a second output.
    pub argmax: bool,
}

/// The model as the bytes of an ONNX file.
pub fn to_bytes(model: &Fcn, opts: OnnxOptions) -> Result<Vec<u8>> {
    let mut g = Graph::new("fcn", opts.fp16);
    let input = graph_input(&mut g, model, opts);
    let shape = g.node("Shape", &[&input], vec![]);
    let (two, four) = (g.ints("two", &[2]), g.ints("four", &[4]));
    let size = g.node("Slice", &[&shape, &two, &four], vec![]);
    let m = model.meta.input_multiple() as i64;
    let padded = if m > 1 {
        pad_to(&mut g, &input, &size, m)
    } else {
        input.clone()
    };
    let full = network::logits(&mut g, &model.net, &padded, &size);
    let zeros = g.ints("zeros", &[0, 0]);
    let axes = g.ints("axes", &[2, 3]);
    g.node_into("Slice", &[&full, &zeros, &size, &axes], "logits", vec![]);
    let k = model.num_classes() as i64;
    let sides = [
        Dim::Named("N"),
        Dim::Fixed(k),
        Dim::Named("H"),
        Dim::Named("W"),
    ];
    g.output("logits", DataType::FLOAT, &sides);
    if opts.argmax {
        let attrs = vec![("axis", Attr::Int(1)), ("keepdims", Attr::Int(0))];
        g.node_into("ArgMax", &["logits"], "classes", attrs);
        let sides = [Dim::Named("N"), Dim::Named("H"), Dim::Named("W")];
        g.output("classes", DataType::INT64, &sides);
    }
    let model_proto = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
            ..Default::default()
        }],
        producer_name: "fcn".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("{}; input {}", model.meta.describe(), input_doc(opts)),
        graph: Some(g.finish()).into(),
        metadata_props: metadata(model, opts),
        ..Default::default()
    };
    model_proto
        .write_to_bytes()
        .map_err(|e| FcnError::Input(format!("cannot encode the ONNX model: {e}")))
}

/// Writes the model to `path` as ONNX (atomically: a partial file never appears).
pub fn write(model: &Fcn, path: &Path, opts: OnnxOptions) -> Result<()> {
    crate::weights::write_atomically(path, &to_bytes(model, opts)?)
}

fn input_doc(opts: OnnxOptions) -> &'static str {
    if opts.with_preprocessing {
        "uint8 RGB [N, H, W, 3]"
    } else {
        "float32 [N, 3, H, W], normalised with the mean and std in metadata_props"
    }
}

/// The graph's input, normalised `[N, 3, H, W]` (in the graph when preprocessing).
fn graph_input(g: &mut Graph, model: &Fcn, opts: OnnxOptions) -> String {
    let nchw = [
        Dim::Named("N"),
        Dim::Fixed(3),
        Dim::Named("H"),
        Dim::Named("W"),
    ];
    if !opts.with_preprocessing {
        g.input("input", DataType::FLOAT, &nchw);
        return "input".into();
    }
    let nhwc = [
        Dim::Named("N"),
        Dim::Named("H"),
        Dim::Named("W"),
        Dim::Fixed(3),
    ];
    g.input("image", DataType::UINT8, &nhwc);
    let to_float = vec![("to", Attr::Int(DataType::FLOAT as i64))];
    let x = g.node("Cast", &["image"], to_float);
    let x = g.node(
        "Transpose",
        &[&x],
        vec![("perm", Attr::Ints(vec![0, 3, 1, 2]))],
    );
    let (mean, std) = (model.meta.mean, model.meta.std);
    let scale: Vec<f32> = (0..3).map(|c| 1.0 / (255.0 * std[c])).collect();
    let offset: Vec<f32> = (0..3).map(|c| mean[c] / std[c]).collect();
    let scale = g.float_const("scale", &[1, 3, 1, 1], &scale);
    let offset = g.float_const("offset", &[1, 3, 1, 1], &offset);
    let x = g.node("Mul", &[&x, &scale], vec![]);
    g.node("Sub", &[&x, &offset], vec![])
}

/// `x` padded with zeros at the bottom and right so that both sides of `size`
/// become multiples of `m`: pad = (m − side mod m) mod m.
fn pad_to(g: &mut Graph, x: &str, size: &str, m: i64) -> String {
    let multiple = g.ints("multiple", &[m, m]);
    let rem = g.node("Mod", &[size, &multiple], vec![]);
    let short = g.node("Sub", &[&multiple, &rem], vec![]);
    let extra = g.node("Mod", &[&short, &multiple], vec![]);
    let before = g.ints("pads_before", &[0, 0, 0, 0, 0, 0]);
    let pads = g.node("Concat", &[&before, &extra], vec![("axis", Attr::Int(0))]);
    g.node("Pad", &[x, &pads], vec![("mode", Attr::Str("constant"))])
}

fn metadata(model: &Fcn, opts: OnnxOptions) -> Vec<StringStringEntryProto> {
    let meta = &model.meta;
    let colors: Vec<[u8; 3]> = (0..model.num_classes())
        .map(|i| voc_color(i as u8))
        .collect();
    let entries = [
        ("fcn.network", meta.describe()),
        ("fcn.arch", meta.arch.name().to_owned()),
        (
            "fcn.classes",
            serde_json::json!(meta.class_names).to_string(),
        ),
        ("fcn.colors", serde_json::json!(colors).to_string()),
        ("fcn.mean", serde_json::json!(meta.mean).to_string()),
        ("fcn.std", serde_json::json!(meta.std).to_string()),
        ("fcn.input", input_doc(opts).to_owned()),
    ];
    entries
        .into_iter()
        .map(|(key, value)| StringStringEntryProto {
            key: key.to_owned(),
            value,
            ..Default::default()
        })
        .collect()
}
