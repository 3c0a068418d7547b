//! Hostile and broken inputs found by trying the tool as a new user would: each
//! gets an error naming the file and the problem, never a panic, an abort or an
//! allocation of the size a file claims.

mod common;

use common::tmp;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use fcn::state::{NamedTensor, StateDict};
use fcn::weights::{self, Container};
use fcn::{Fcn, FcnConfig};
use safetensors::tensor::{Dtype, TensorView};

fn small() -> FcnConfig {
    common::small_config(4)
}

fn load_err(path: &Path) -> String {
    Fcn::load(path, &Device::flex()).unwrap_err().to_string()
}

/// A small model's state dict and metadata, saved after `edit` changes them.
fn saved_with(
    name: &str,
    edit: impl FnOnce(&mut StateDict, &mut HashMap<String, String>),
) -> PathBuf {
    let model = Fcn::new(&small(), &Device::flex());
    let path = tmp(name);
    model.save(&path).unwrap();
    let loaded = weights::read(&path).unwrap();
    let (mut state, mut meta) = (loaded.state, loaded.metadata);
    edit(&mut state, &mut meta);
    weights::write_safetensors(&path, &state, meta).unwrap();
    path
}

#[test]
fn safetensors_whose_header_length_starts_with_0x80_loads() {
    // The header's length is its first byte: grow a class name until it is 0x80,
    // the byte a pickle starts with.
    let device = Device::flex();
    for extra in 0..256 {
        let mut config = small();
        config.class_names[0] = "b".repeat(1 + extra);
        let path = tmp("header_0x80.safetensors");
        Fcn::new(&config, &device).save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        if bytes[0] != 0x80 {
            continue;
        }
        assert_eq!(
            weights::detect(&bytes[..9], bytes.len() as u64),
            Some(Container::Safetensors)
        );
        let back = Fcn::load(&path, &device).unwrap();
        assert_eq!(back.meta.class_names, config.class_names);
        return;
    }
    panic!("no class name length gave a header length starting with 0x80");
}

#[test]
fn detection_needs_the_whole_structure() {
    // A pickle's opcode 0x80 then a protocol number; one byte is not enough.
    assert_eq!(
        weights::detect(&[0x80, 0x02, 0x8a], 3),
        Some(Container::Pickle)
    );
    assert_eq!(weights::detect(&[0x80, 0x09, 0x8a], 3), None);
    // A safetensors length that runs past the file is not safetensors.
    let mut head = 1000u64.to_le_bytes().to_vec();
    head.push(b'{');
    assert_eq!(weights::detect(&head, 500), None);
    assert_eq!(weights::detect(&head, 1008), Some(Container::Safetensors));
    assert_eq!(
        weights::detect(b"PK\x03\x04rest", 100),
        Some(Container::Zip)
    );
}

#[test]
fn a_shape_claiming_petabytes_is_refused_without_allocating_it() {
    // final_conv.weight declares a million classes with no values: building the
    // head from it would allocate 10^12 × 4096 floats.
    let path = saved_with("million_classes.safetensors", |state, _| {
        state.insert(
            "final_conv.weight",
            NamedTensor::new(vec![1_000_000, 0, 1, 1], vec![]),
        );
    });
    let m = load_err(&path);
    assert!(
        m.contains("final_conv.weight") && m.contains("1000000"),
        "{m}"
    );
}

#[test]
fn missing_and_misshapen_tensors_are_listed_together() {
    let path = saved_with("misshapen.safetensors", |state, _| {
        state.tensors.remove("4.0.conv1.weight");
        state.insert(
            "transpose_conv.weight",
            NamedTensor::new(vec![1, 1, 1, 1], vec![0.0]),
        );
    });
    let m = load_err(&path);
    assert!(m.contains("missing keys: 4.0.conv1.weight"), "{m}");
    assert!(
        m.contains("transpose_conv.weight: shape [1, 1, 1, 1], expected [3, 3, 64, 64]"),
        "{m}"
    );
}

#[test]
fn a_widest_stem_alone_is_refused_without_building_the_widest_network() {
    // The stem's 512 channels (the widest allowed) imply a ResNet of 715 million
    // values; the parameters are initialised lazily, so finding the rest missing
    // allocates none of them (initialising them would take minutes here).
    let path = tmp("widest_stem.safetensors");
    let mut state = StateDict::default();
    let stem = vec![0.01; 512 * 3 * 7 * 7];
    state.insert("0.weight", NamedTensor::new(vec![512, 3, 7, 7], stem));
    let final_conv = vec![0.01; 2 * 4096];
    state.insert(
        "final_conv.weight",
        NamedTensor::new(vec![2, 4096, 1, 1], final_conv),
    );
    weights::write_safetensors(&path, &state, HashMap::new()).unwrap();
    let started = std::time::Instant::now();
    let m = load_err(&path);
    assert!(m.contains("missing keys: 1.weight, 1.bias"), "{m}");
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
}

#[test]
fn non_finite_weights_and_negative_variances_are_refused() {
    let path = saved_with("nan.safetensors", |state, _| {
        state.tensors.get_mut("4.1.conv2.weight").unwrap().data[5] = f32::NAN;
    });
    let m = load_err(&path);
    assert!(
        m.contains("4.1.conv2.weight: value NaN at index 5 is not finite"),
        "{m}"
    );

    let path = saved_with("inf.safetensors", |state, _| {
        state.tensors.get_mut("final_conv.bias").unwrap().data[0] = f32::INFINITY;
    });
    assert!(load_err(&path).contains("final_conv.bias: value inf"));

    let path = saved_with("negvar.safetensors", |state, _| {
        state.tensors.get_mut("1.running_var").unwrap().data[2] = -0.5;
    });
    assert!(load_err(&path).contains("1.running_var: negative variance -0.5 at index 2"));
}

#[test]
fn impossible_metadata_is_refused() {
    let path = saved_with("zero_std.safetensors", |_, meta| {
        meta.insert("std".into(), "[0.2, 0.0, 0.2]".into());
    });
    let m = load_err(&path);
    assert!(m.contains("std[1] is 0"), "{m}");

    let path = saved_with("two_names.safetensors", |_, meta| {
        meta.insert("class_names".into(), r#"["a", "b"]"#.into());
    });
    assert!(load_err(&path).contains("2 class names for 3 classes"));

    let path = saved_with("class_count.safetensors", |_, meta| {
        meta.insert("num_classes".into(), "7".into());
    });
    assert!(load_err(&path).contains("the metadata says 7 classes but final_conv.weight has 3"));
}

#[test]
fn integer_weights_are_a_dtype_error() {
    let model = Fcn::new(&small(), &Device::flex());
    let state = model.net.state_dict();
    let ints: Vec<u8> = state.tensors["final_conv.bias"]
        .data
        .iter()
        .flat_map(|v| (*v as i64).to_le_bytes())
        .collect();
    let floats: Vec<(String, Vec<u8>, Vec<usize>)> = state
        .tensors
        .iter()
        .filter(|(k, _)| *k != "final_conv.bias")
        .map(|(k, t)| {
            (
                k.clone(),
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                t.shape.clone(),
            )
        })
        .collect();
    let mut views: Vec<(String, TensorView)> = floats
        .iter()
        .map(|(k, b, s)| {
            (
                k.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    views.push((
        "final_conv.bias".into(),
        TensorView::new(Dtype::I64, vec![3], &ints).unwrap(),
    ));
    let path = tmp("int_weights.safetensors");
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    let m = load_err(&path);
    assert!(
        m.contains("final_conv.bias: dtype i64; weights must be floats"),
        "{m}"
    );
}

#[test]
fn a_backbone_alone_is_not_a_segmentation_model() {
    let g = common::small_golden();
    let device = Device::flex();
    let path = g.path("resnet18_torchvision.pth");
    assert!(Fcn::load(&path, &device).is_ok(), "train starts from it");
    let m = Fcn::load_trained(&path, &device).unwrap_err().to_string();
    assert!(
        m.contains("a backbone only") && m.contains("final_conv.weight"),
        "{m}"
    );
}

#[test]
fn configurations_out_of_range_are_refused_before_building() {
    let with = |width, classes| FcnConfig {
        width,
        ..FcnConfig::default().with_num_classes(classes)
    };
    assert!(
        with(0, 3)
            .validate()
            .unwrap_err()
            .to_string()
            .contains("width 0")
    );
    assert!(
        with(100_000, 3)
            .validate()
            .unwrap_err()
            .to_string()
            .contains("width 100000")
    );
    assert!(
        with(8, 1000)
            .validate()
            .unwrap_err()
            .to_string()
            .contains("1000 classes")
    );
    assert!(with(8, 21).validate().is_ok());
    // The estimate is the real size: a built model's tensors, in f32.
    let config = with(8, 5);
    let model = Fcn::new(&config, &Device::flex());
    let values: usize = model
        .net
        .state_dict()
        .tensors
        .values()
        .map(|t| t.data.len())
        .sum();
    assert_eq!(config.weight_bytes(), 4 * values as u64);
}

#[test]
fn jpeg_with_trailing_data_decodes() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/voc_mini/VOC2012/JPEGImages/2011_003271.jpg");
    let mut bytes = std::fs::read(&src).unwrap();
    let plain = fcn::data::decode::read_image(&src, u64::MAX).unwrap();
    // A motion photo appends a video after the image's end marker.
    bytes.extend(std::iter::repeat_n(0x5A, 64 * 1024));
    let path = tmp("motion_photo.jpg");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        fcn::data::decode::read_image(&path, u64::MAX).unwrap(),
        plain
    );
}

/// JPEGs written by Pillow: 4:4:4, 4:2:0, 4:2:2 with restart markers, grey, and
/// progressive (whose scans are not walked, only its structure).
const JPEGS: [&str; 5] = ["s444", "s420", "s422_restart", "grey", "progressive"];

fn jpeg_fixture(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let path = match name {
        "voc" => dir.join("voc_mini/VOC2012/JPEGImages/2011_003271.jpg"),
        _ => dir.join(format!("jpeg/{name}.jpg")),
    };
    std::fs::read(path).unwrap()
}

#[test]
fn whole_jpegs_of_every_layout_decode() {
    for name in JPEGS.iter().copied().chain(["voc"]) {
        let bytes = jpeg_fixture(name);
        assert_eq!(
            fcn::data::jpeg_end::image_end(&bytes),
            Ok(bytes.len()),
            "{name}"
        );
        let path = tmp(&format!("{name}.jpg"));
        std::fs::write(&path, &bytes).unwrap();
        fcn::data::decode::read_image(&path, u64::MAX).unwrap();
    }
}

#[test]
fn a_jpeg_cut_short_with_an_end_marker_appended_is_truncated() {
    // Decoders accept these and fill the missing part with grey.
    for name in JPEGS
        .iter()
        .copied()
        .filter(|n| *n != "progressive")
        .chain(["voc"])
    {
        let bytes = jpeg_fixture(name);
        for cut in [bytes.len() / 2, bytes.len() * 9 / 10, bytes.len() - 40] {
            let mut b = bytes[..cut].to_vec();
            b.extend([0xFF, 0xD9]);
            let path = tmp(&format!("{name}_cut.jpg"));
            std::fs::write(&path, &b).unwrap();
            let m = fcn::data::decode::read_image(&path, u64::MAX)
                .unwrap_err()
                .to_string();
            assert!(
                m.contains("scan data stops after"),
                "{name} cut at {cut}: {m}"
            );
        }
    }
}
