//! Weight files: round trips through the native format, and clear errors (naming
//! the file and the key) for files that are not checkpoints or do not fit.

mod common;

use common::tmp;

use common::{golden_sets, small_golden};

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use fcn::state::NamedTensor;
use fcn::weights::{self, WeightFormat};
use fcn::{Fcn, FcnConfig, FcnError};
use ndarray::Array4;

fn small() -> FcnConfig {
    common::small_config(8)
}

fn err(path: &Path) -> String {
    Fcn::load(path, &Device::flex()).unwrap_err().to_string()
}

#[test]
fn native_checkpoint_round_trip_keeps_weights_and_metadata() {
    let device = Device::flex();
    let mut config = small();
    config.class_names = vec!["sky".into(), "road".into(), "car".into()];
    config.mean = [0.5, 0.5, 0.5];
    let model = Fcn::new(&config, &device);
    let path = tmp("round_trip.safetensors");
    model.save(&path).unwrap();
    assert!(!path.with_extension("safetensors.tmp").exists());
    let back = Fcn::load(&path, &device).unwrap();
    assert_eq!(back.origin.as_ref().unwrap().format, WeightFormat::Native);
    assert_eq!(back.meta, config);
    assert_eq!(back.net.state_dict(), model.net.state_dict());
    let x = Array4::from_shape_fn((1, 3, 40, 72), |(_, c, y, x)| {
        ((c + y * 3 + x) % 7) as f32 - 3.0
    });
    assert_eq!(
        back.logits(x.view()).unwrap(),
        model.logits(x.view()).unwrap()
    );
}

#[test]
fn torchvision_backbone_gets_a_fresh_head() {
    for g in golden_sets() {
        torchvision_backbone_gets_a_fresh_head_on(&g);
    }
}

fn torchvision_backbone_gets_a_fresh_head_on(g: &common::Golden) {
    let device = Device::flex();
    let config = FcnConfig::default().with_num_classes(5);
    let model = Fcn::load_with(g.path("resnet18_torchvision.pth"), &config, &device).unwrap();
    let report = model.origin.as_ref().unwrap();
    assert_eq!(report.format, WeightFormat::TorchvisionResNet);
    assert_eq!(model.num_classes(), 5);
    assert_eq!(
        report
            .ignored_keys
            .iter()
            .filter(|k| k.starts_with("fc."))
            .count(),
        2
    );
    assert_eq!(
        report
            .ignored_keys
            .iter()
            .filter(|k| k.ends_with("num_batches_tracked"))
            .count(),
        20
    );
    // The head's upsampling starts as the bilinear kernel.
    let w = &model.net.state_dict().tensors["transpose_conv.weight"];
    let bilinear = tconv::bilinear_kernel(5, 5, 64);
    assert_eq!(w.data, bilinear.iter().copied().collect::<Vec<_>>());
}

#[test]
fn float16_textbook_checkpoint_loads() {
    for g in golden_sets() {
        let model = Fcn::load(g.path("fcn_d2l.pth"), &Device::flex()).unwrap();
        let report = model.origin.as_ref().unwrap();
        assert_eq!(report.format, WeightFormat::TextbookFcn);
        assert_eq!(report.dtype, "f16");
        assert_eq!(model.meta.width, g.width());
    }
}

#[test]
fn logits_keep_any_input_size() {
    let model = Fcn::new(&small(), &Device::flex());
    let x = Array4::<f32>::zeros((2, 3, 45, 70));
    assert_eq!(model.logits(x.view()).unwrap().dim(), (2, 3, 45, 70));
    let e = model
        .logits(Array4::<f32>::zeros((1, 4, 32, 32)).view())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid input: expected 3 input channels, got 4 (shape (1, 4, 32, 32))"
    );
}

#[test]
fn files_that_are_not_checkpoints() {
    let path = tmp("random.bin");
    std::fs::write(&path, b"hello, I am not a checkpoint at all").unwrap();
    let m = err(&path);
    assert!(
        m.starts_with(&format!("{}: not a checkpoint", path.display())),
        "{m}"
    );

    let path = tmp("tiny.bin");
    std::fs::write(&path, b"PK").unwrap();
    assert!(err(&path).contains("not a checkpoint"));

    let missing = tmp("does_not_exist.pth");
    let e = Fcn::load(&missing, &Device::flex()).unwrap_err();
    assert!(matches!(e, FcnError::Io { .. }), "{e}");
    assert!(e.to_string().starts_with(&missing.display().to_string()));
}

#[test]
fn truncated_pytorch_file() {
    let bytes = std::fs::read(small_golden().path("fcn_d2l.pth")).unwrap();
    let path = tmp("truncated.pth");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let m = err(&path);
    assert!(m.starts_with(&path.display().to_string()), "{m}");
}

#[test]
fn truncated_safetensors_file() {
    let model = Fcn::new(&small(), &Device::flex());
    let path = tmp("whole.safetensors");
    model.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let cut = tmp("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let m = err(&cut);
    assert!(
        m.starts_with(&cut.display().to_string()) && m.contains("safetensors"),
        "{m}"
    );
}

/// Saves `model` with one tensor changed by `edit`.
fn edited(name: &str, edit: impl FnOnce(&mut fcn::state::StateDict)) -> PathBuf {
    let model = Fcn::new(&small(), &Device::flex());
    let mut state = model.net.state_dict();
    edit(&mut state);
    let path = tmp(name);
    weights::write_safetensors(&path, &state, Default::default()).unwrap();
    path
}

#[test]
fn wrong_shape_names_the_key() {
    let path = edited("wrong_shape.safetensors", |s| {
        s.insert(
            "4.0.conv1.weight",
            NamedTensor::new(vec![8, 8, 3, 2], vec![0.0; 384]),
        );
    });
    let m = err(&path);
    assert!(
        m.contains("4.0.conv1.weight: shape [8, 8, 3, 2], expected [8, 8, 3, 3]"),
        "{m}"
    );
}

#[test]
fn missing_and_unexpected_keys_are_listed() {
    let path = edited("keys.safetensors", |s| {
        s.tensors.remove("5.0.bn1.running_var");
        s.insert("extra.weight", NamedTensor::new(vec![1], vec![0.0]));
    });
    let m = err(&path);
    assert!(m.contains("missing keys: 5.0.bn1.running_var"), "{m}");
    assert!(m.contains("unexpected keys: extra.weight"), "{m}");
}

#[test]
fn unrelated_state_dict_is_refused() {
    let path = edited("unrelated.safetensors", |s| {
        s.tensors.clear();
        s.insert("encoder.weight", NamedTensor::new(vec![2], vec![0.0; 2]));
    });
    let m = err(&path);
    assert!(
        m.contains("not a ResNet or FCN state_dict") && m.contains("encoder.weight"),
        "{m}"
    );
}

#[test]
fn tiled_inference_covers_the_image_and_matches_away_from_seams() {
    let model = Fcn::new(&small(), &Device::flex());
    let x = Array4::from_shape_fn((1, 3, 100, 150), |(_, c, y, x)| {
        ((c * 5 + y + 2 * x) % 9) as f32 / 4.0 - 1.0
    });
    let whole = fcn::infer::logits(&model, x.view(), fcn::infer::TileOptions::default()).unwrap();
    assert_eq!(
        whole,
        model.logits(x.view()).unwrap(),
        "small images are not tiled"
    );
    let tiled = fcn::infer::logits(
        &model,
        x.view(),
        fcn::infer::TileOptions {
            tile: 64,
            overlap: 16,
        },
    )
    .unwrap();
    assert_eq!(tiled.dim(), (1, 3, 100, 150));
    assert!(tiled.iter().all(|v| v.is_finite()));
    // The first tile alone covers the top-left corner: there the logits are that tile's.
    let corner = model
        .logits(x.slice(ndarray::s![.., .., ..64, ..64]))
        .unwrap();
    assert!((tiled[[0, 1, 5, 5]] - corner[[0, 1, 5, 5]]).abs() < 1e-4);
}
