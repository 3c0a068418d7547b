//! Parity with PyTorch on every golden set: the small one committed with the tests,
//! and the full-size checkpoints of `shared/golden/fcn` when `FCN_GOLDEN` names
//! them (CI sets it to `../shared/golden`). A missing file fails the test.

mod common;

use common::{Golden, assert_close, golden_sets, npy, to_array};

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use fcn::model::head::Upsample;
use fcn::{Fcn, FcnConfig};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::read_npy;

fn to_tensor<const D: usize>(a: &ArrayD<f32>, device: &Device) -> Tensor<D> {
    let shape: [usize; D] = a.shape().try_into().unwrap();
    Tensor::from_data(
        TensorData::new(a.iter().copied().collect::<Vec<_>>(), shape),
        device,
    )
}

#[test]
fn torchvision_backbone_features_match_pytorch() {
    for g in golden_sets() {
        torchvision_backbone_features_match_pytorch_on(&g);
    }
}

fn torchvision_backbone_features_match_pytorch_on(g: &Golden) {
    let device = common::test_device();
    let model = Fcn::load(g.path("resnet18_torchvision.pth"), &device).unwrap();
    let report = model.origin.as_ref().unwrap();
    assert!(report.ignored_keys.contains(&"fc.weight".to_string()));
    let x = to_tensor::<4>(&npy(g, "input.npy"), &device);
    let features = to_array(&model.net.backbone.forward(x, model.net.kernels()));
    assert_close(
        "features",
        &features,
        &npy(g, "resnet18_torchvision.features.npy"),
        1e-3,
    );
}

#[test]
fn textbook_fcn_logits_match_pytorch() {
    for g in golden_sets() {
        textbook_fcn_logits_match_pytorch_on(&g);
    }
}

fn textbook_fcn_logits_match_pytorch_on(g: &Golden) {
    let device = common::test_device();
    let model = Fcn::load(g.path("fcn_d2l.pth"), &device).unwrap();
    assert_eq!(model.num_classes(), g.num_classes());
    let input = npy(g, "input.npy").into_dimensionality().unwrap();
    let logits = model.logits(input.view()).unwrap().into_dyn();
    assert_close("logits", &logits, &npy(g, "fcn_d2l.logits.npy"), 1e-3);
}

#[test]
fn one_training_step_matches_pytorch() {
    for g in golden_sets() {
        one_training_step_matches_pytorch_on(&g);
    }
}

fn one_training_step_matches_pytorch_on(g: &Golden) {
    let device = common::test_device();
    let model = Fcn::load_with(g.path("fcn_d2l.pth"), &FcnConfig::default(), &device).unwrap();
    let net = model.net.train();
    let ad = device.clone().autodiff();
    let x = to_tensor::<4>(&npy(g, "train_input.npy"), &ad);
    let labels: ndarray::ArrayD<i64> = read_npy(g.path("train_labels.npy")).unwrap();
    let shape: [usize; 3] = labels.shape().try_into().unwrap();
    let y = Tensor::<3, Int>::from_data(
        TensorData::new(labels.iter().copied().collect::<Vec<_>>(), shape),
        &ad,
    );
    let loss = fcn::loss::cross_entropy(net.forward(x), y, net.kernels());
    let loss_value: f32 = loss.clone().into_scalar();
    let meta = g.meta();
    let want_loss = meta["train_step"]["loss"].as_f64().unwrap() as f32;
    assert!(
        (loss_value - want_loss).abs() <= 1e-4 * want_loss,
        "loss {loss_value} vs {want_loss}"
    );

    let grads = loss.backward();
    let grad = |name: &str, t: Option<Tensor<4>>| {
        let got = to_array(&t.unwrap_or_else(|| panic!("no gradient for {name}")));
        assert_close(name, &got, &npy(g, &format!("train_grad.{name}.npy")), 1e-3);
    };
    grad(
        "final_conv.weight",
        net.head
            .textbook()
            .unwrap()
            .final_conv
            .weight
            .val()
            .grad(&grads),
    );
    let Upsample::X32(x32) = &net.head.textbook().unwrap().upsample else {
        panic!("the textbook's FCN is an FCN-32s");
    };
    grad(
        "transpose_conv.weight",
        x32.transpose_conv.weight.val().grad(&grads),
    );
    grad("0.weight", net.backbone.conv1.weight.val().grad(&grads));
    let gamma = net.gradients(&grads).tensors["7.1.bn2.weight"].clone();
    let gamma = ndarray::ArrayD::from_shape_vec(gamma.shape, gamma.data).unwrap();
    assert_close(
        "7.1.bn2.weight",
        &gamma,
        &npy(g, "train_grad.7.1.bn2.weight.npy"),
        1e-3,
    );

    let mut optim = SgdConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(1e-3)))
        .init();
    let grads = GradientsParams::from_grads(grads, &net);
    let net = optim.step(0.1, net, grads);
    let after = to_array(&net.head.textbook().unwrap().final_conv.weight.val());
    assert_close(
        "final_conv.weight after the step",
        &after,
        &npy(g, "train_after_step.final_conv.weight.npy"),
        1e-3,
    );
    let mean = to_array(&net.backbone.bn1.running_mean.value_sync());
    assert_close(
        "1.running_mean after the step",
        &mean,
        &npy(g, "train_after_step.1.running_mean.npy"),
        1e-3,
    );

    assert_unbiased_running_var(g, &net);
}

/// PyTorch updates the running variance with the unbiased batch variance; recompute
/// it independently from the stem convolution (tconv) and the stored statistics.
fn assert_unbiased_running_var(g: &Golden, net: &fcn::FcnNet) {
    let state = fcn::weights::read(&g.path("fcn_d2l.pth")).unwrap().state;
    let w = &state.tensors["0.weight"];
    let w = ndarray::Array4::from_shape_vec((w.shape[0], 3, 7, 7), w.data.clone()).unwrap();
    let x4 = npy(g, "train_input.npy")
        .into_dimensionality::<ndarray::Ix4>()
        .unwrap();
    let p = tconv::Conv2dParams {
        stride: [2, 2],
        padding: [3, 3],
        ..Default::default()
    };
    let stem = tconv::conv2d(x4.view(), w.view(), None, &p).unwrap();
    let old = &state.tensors["1.running_var"].data;
    let want: Vec<f32> = (0..stem.dim().1)
        .map(|c| {
            let v: Vec<f64> = stem
                .index_axis(ndarray::Axis(1), c)
                .iter()
                .map(|&v| v as f64)
                .collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64;
            (0.9 * old[c] as f64 + 0.1 * var) as f32
        })
        .collect();
    let want = ArrayD::from_shape_vec(IxDyn(&[want.len()]), want).unwrap();
    let var = to_array(&net.backbone.bn1.running_var.value_sync());
    assert_close("1.running_var after the step", &var, &want, 1e-3);
}
