//! Fine-tuning to another class count: every weight whose shape fits comes from
//! the file, the class-dependent layers start afresh (the scores as a new network's,
//! the transposed convolutions bilinear), and the load says which those were.

mod common;

use std::path::Path;

use common::{golden_sets, golden_sets_of};
use fcn::{Fcn, FcnConfig};

fn seven_classes() -> FcnConfig {
    let names = fcn::data::synthetic::CLASSES;
    FcnConfig {
        class_names: names.iter().map(|s| s.to_string()).collect(),
        ..FcnConfig::default().with_num_classes(7)
    }
}

/// Loads `file` for 7 classes; checks the fresh keys are `expected_fresh` and every
/// other tensor equals the file's.
fn check(file: &Path, expected_fresh: &[&str]) -> Fcn {
    let device = burn::tensor::Device::flex();
    let original = Fcn::load(file, &device).unwrap().net.state_dict();
    let (model, fresh) = Fcn::load_for_classes(file, &seven_classes(), &device).unwrap();
    assert_eq!(model.num_classes(), 7);
    assert_eq!(model.meta.class_names[6], "cross");
    assert_eq!(fresh, expected_fresh, "{}", file.display());
    let tuned = model.net.state_dict();
    for (key, tensor) in &original.tensors {
        if !fresh.contains(key) {
            assert_eq!(&tuned.tensors[key], tensor, "{key} kept from the file");
        } else {
            assert_ne!(tuned.tensors[key].shape, tensor.shape, "{key}");
        }
    }
    model
}

#[test]
fn the_textbook_fcn_keeps_its_backbone_and_restarts_its_head() {
    for g in golden_sets() {
        let fresh = [
            "final_conv.bias",
            "final_conv.weight",
            "transpose_conv.bias",
            "transpose_conv.weight",
        ];
        let model = check(&g.path("fcn_d2l.pth"), &fresh);
        let state = model.net.state_dict();
        let bilinear = tconv::bilinear_kernel(7, 7, 64).into_raw_vec_and_offset().0;
        assert_eq!(state.tensors["transpose_conv.weight"].data, bilinear);
    }
}

#[test]
fn skip_heads_restart_every_class_layer() {
    for g in golden_sets_of("fcn_skip") {
        let fresh = [
            "final_conv.bias",
            "final_conv.weight",
            "score_pool3.bias",
            "score_pool3.weight",
            "score_pool4.bias",
            "score_pool4.weight",
            "upscore2.weight",
            "upscore8.weight",
            "upscore_pool4.weight",
        ];
        check(&g.path("fcn8s.pth"), &fresh);
    }
}

/// torchvision's FCNHead keeps its 3×3 convolution and BatchNorm; only the last
/// 1×1 convolutions (main and auxiliary) depend on the classes.
#[test]
fn torchvision_heads_keep_all_but_their_class_scores() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden_small/tv_fcn/tv_r50.pth");
    let fresh = [
        "aux_classifier.4.bias",
        "aux_classifier.4.weight",
        "classifier.4.bias",
        "classifier.4.weight",
    ];
    check(&file, &fresh);
}

#[test]
fn the_same_class_count_restarts_nothing() {
    let g = common::small_golden();
    let device = burn::tensor::Device::flex();
    let config = FcnConfig::default().with_num_classes(5);
    let (model, fresh) = Fcn::load_for_classes(g.path("fcn_d2l.pth"), &config, &device).unwrap();
    assert!(fresh.is_empty());
    assert_eq!(
        model.net.state_dict(),
        Fcn::load(g.path("fcn_d2l.pth"), &device)
            .unwrap()
            .net
            .state_dict()
    );
}
