//! ONNX export, run by tract (an ONNX runtime written independently of this
//! project): every architecture's file gives PyTorch's logits on the golden inputs,
//! and our own (PyTorch-checked) logits at a second size whose sides are not
//! multiples of 32; the preprocessing, argmax and float16 options; the metadata.

mod common;

use std::path::{Path, PathBuf};

use common::{Golden, assert_close, golden_sets, golden_sets_of, npy};
use fcn::Fcn;
use fcn::onnx::{OnnxOptions, to_bytes};
use ndarray::{ArrayD, Ix4, IxDyn, s};
use tract_onnx::prelude::*;

/// Runs `bytes` in tract on one input of `shape` and returns every output.
fn run_tract<T: Datum + Copy>(bytes: &[u8], shape: &[usize], values: Vec<T>) -> Vec<Tensor> {
    let model = tract_onnx::onnx()
        .model_for_read(&mut std::io::Cursor::new(bytes))
        .expect("tract reads the file")
        .with_input_fact(0, InferenceFact::dt_shape(T::datum_type(), shape))
        .unwrap()
        .into_optimized()
        .expect("tract optimises the graph")
        .into_runnable()
        .unwrap();
    let input = Tensor::from_shape(shape, &values).unwrap();
    let outputs = model
        .run(tvec!(input.into()))
        .expect("tract runs the graph");
    outputs.into_iter().map(|v| v.into_tensor()).collect()
}

fn to_array(t: &Tensor) -> ArrayD<f32> {
    let view = t.to_plain_array_view::<f32>().unwrap();
    ArrayD::from_shape_vec(IxDyn(view.shape()), view.iter().copied().collect()).unwrap()
}

fn logits_by_tract(bytes: &[u8], x: &ArrayD<f32>) -> ArrayD<f32> {
    let outputs = run_tract(bytes, x.shape(), x.iter().copied().collect());
    to_array(&outputs[0])
}

/// The golden input's logits from the exported file equal PyTorch's; the input
/// cut to sides that are no multiple of 32 gives `Fcn::logits`' answer.
fn check(model_file: &Path, input: ArrayD<f32>, expected: &ArrayD<f32>) {
    let device = burn::tensor::Device::flex();
    let model = Fcn::load(model_file, &device).unwrap();
    let bytes = to_bytes(&model, OnnxOptions::default()).unwrap();
    let what = model_file.display();
    assert_close(
        &format!("{what}: logits"),
        &logits_by_tract(&bytes, &input),
        expected,
        1e-3,
    );
    let (h, w) = (input.shape()[2], input.shape()[3]);
    let cut = input
        .slice(s![.., .., ..h - 13, ..w - 7])
        .to_owned()
        .into_dyn();
    let ours = model
        .logits(cut.view().into_dimensionality::<Ix4>().unwrap())
        .unwrap();
    let theirs = logits_by_tract(&bytes, &cut);
    assert_close(
        &format!("{what}: second size"),
        &theirs,
        &ours.into_dyn(),
        1e-3,
    );
}

#[test]
fn textbook_fcn32s_matches_pytorch() {
    for g in golden_sets() {
        check(
            &g.path("fcn_d2l.pth"),
            npy(&g, "input.npy"),
            &npy(&g, "fcn_d2l.logits.npy"),
        );
    }
}

#[test]
fn fcn8s_matches_pytorch() {
    for g in golden_sets_of("fcn_skip") {
        let logits = npy(&g, "fcn8s.logits.npy");
        check(&g.path("fcn8s.pth"), npy(&g, "fcn8s.input.npy"), &logits);
    }
}

fn tv_small(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden_small/tv_fcn")
        .join(name)
}

fn read(path: PathBuf) -> ArrayD<f32> {
    ndarray_npy::read_npy(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// torchvision's FCN (dilated ResNet-50 and an mmseg-dilated ResNet-18 at width 8,
/// and `fcn_resnet50` itself from `$FCN_GOLDEN`): the Resize must be PyTorch's.
#[test]
fn torchvision_fcns_match_pytorch() {
    for name in ["tv_r50", "tv_r18"] {
        let input = read(tv_small(&format!("{name}.input.npy")));
        check(
            &tv_small(&format!("{name}.pth")),
            input,
            &read(tv_small(&format!("{name}.out.npy"))),
        );
    }
    if let Some(dir) = std::env::var_os("FCN_GOLDEN") {
        let g = Path::new(&dir).join("tv_fcn");
        let input = read(g.join("fcn_resnet50_tv.input.npy"));
        check(
            &g.join("fcn_resnet50_tv.pth"),
            input,
            &read(g.join("fcn_resnet50_tv.out.npy")),
        );
    }
}

fn small() -> (Golden, Fcn) {
    let g = common::small_golden();
    let model = Fcn::load(g.path("fcn_d2l.pth"), &burn::tensor::Device::flex()).unwrap();
    (g, model)
}

/// uint8 RGB in (normalised in the graph), the argmax out: as `Fcn::normalize`,
/// `Fcn::logits` and the per-pixel argmax.
#[test]
fn preprocessing_and_argmax_match_the_library() {
    let (_, model) = small();
    let image = image::RgbImage::from_fn(90, 70, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 3) as u8, ((x + y) * 2) as u8])
    });
    let opts = OnnxOptions {
        with_preprocessing: true,
        argmax: true,
        ..Default::default()
    };
    let bytes = to_bytes(&model, opts).unwrap();
    let outputs = run_tract(&bytes, &[1, 70, 90, 3], image.as_raw().clone());
    let expected = model.logits(model.normalize(&image).view()).unwrap();
    assert_close(
        "logits from uint8",
        &to_array(&outputs[0]),
        &expected.clone().into_dyn(),
        1e-4,
    );
    let classes = outputs[1].to_plain_array_view::<i64>().unwrap();
    assert_eq!(classes.shape(), &[1, 70, 90]);
    let argmax =
        fcn::model::fcn::argmax_classes(&expected.index_axis(ndarray::Axis(0), 0).to_owned());
    let same = classes
        .iter()
        .zip(argmax.iter())
        .filter(|(a, b)| **a == **b as i64)
        .count();
    assert_eq!(same, argmax.len(), "argmax differs");
}

/// Float16 weights: about half the file, logits within float16's rounding.
#[test]
fn fp16_weights_halve_the_file() {
    let (g, model) = small();
    let full = to_bytes(&model, OnnxOptions::default()).unwrap();
    let half = to_bytes(
        &model,
        OnnxOptions {
            fp16: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        half.len() * 10 < full.len() * 6,
        "{} vs {} bytes",
        half.len(),
        full.len()
    );
    let x = npy(&g, "input.npy");
    assert_close(
        "fp16 logits",
        &logits_by_tract(&half, &x),
        &logits_by_tract(&full, &x),
        1e-2,
    );
}

/// The class names, colours and normalisation travel in `metadata_props`.
#[test]
fn metadata_names_the_classes_and_the_normalisation() {
    use onnx_protobuf::Message;
    let (_, model) = small();
    let bytes = to_bytes(&model, OnnxOptions::default()).unwrap();
    let proto = onnx_protobuf::ModelProto::parse_from_bytes(&bytes).unwrap();
    assert_eq!(proto.opset_import[0].version, 17);
    let get = |key: &str| {
        proto
            .metadata_props
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.clone())
            .unwrap()
    };
    let classes: Vec<String> = serde_json::from_str(&get("fcn.classes")).unwrap();
    assert_eq!(classes, model.meta.class_names);
    let mean: Vec<f32> = serde_json::from_str(&get("fcn.mean")).unwrap();
    assert_eq!(mean, model.meta.mean);
    let colors: Vec<[u8; 3]> = serde_json::from_str(&get("fcn.colors")).unwrap();
    assert_eq!(colors[1], [128, 0, 0]);
    let ops: std::collections::BTreeSet<&str> = proto
        .graph
        .node
        .iter()
        .map(|n| n.op_type.as_str())
        .collect();
    assert!(
        !ops.contains("BatchNormalization"),
        "BatchNorm is folded: {ops:?}"
    );
}
