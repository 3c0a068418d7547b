//! torchvision's FCN (dilated ResNet, FCNHead, auxiliary head, bilinear
//! interpolation) against PyTorch: logits and one training step on the small
//! committed goldens (`scripts/gen_small_tv_golden.py`: ResNet-50 and a dilated
//! ResNet-18, width 8), and torchvision's own `fcn_resnet50` from
//! `$FCN_GOLDEN/tv_fcn` when it is set.

mod common;

use common::{assert_close, to_array};

use burn::module::Module;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Int, Tensor, TensorData};
use fcn::model::Arch;
use fcn::weights::WeightFormat;
use fcn::{Fcn, FcnNet};
use ndarray::{ArrayD, Ix4};
use ndarray_npy::read_npy;
use std::path::{Path, PathBuf};

fn small() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden_small/tv_fcn")
}

fn read(dir: &Path, name: &str) -> ArrayD<f32> {
    read_npy(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn input(t: &ArrayD<f32>, device: &burn::tensor::Device) -> Tensor<4> {
    let shape: [usize; 4] = t.shape().try_into().unwrap();
    Tensor::from_data(TensorData::new(t.iter().copied().collect(), shape), device)
}

/// `out` through the public API (`Fcn::logits`, which must not pad) and `aux`
/// through the network.
fn check_logits(dir: &Path, name: &str, device: &burn::tensor::Device) -> Fcn {
    let model = Fcn::load(dir.join(format!("{name}.pth")), device).unwrap();
    assert_eq!(model.meta.arch, Arch::Torchvision);
    assert!(model.meta.aux);
    assert_eq!(model.meta.output_stride, 8);
    let x = read(dir, &format!("{name}.input.npy"));
    let out = model
        .logits(x.view().into_dimensionality::<Ix4>().unwrap())
        .unwrap();
    let want = read(dir, &format!("{name}.out.npy"));
    assert_close(&format!("{name} out"), &out.into_dyn(), &want, 1e-3);
    let (_, aux) = model.net.forward_with_aux(input(&x, device), true);
    let aux = to_array(&aux.expect("an auxiliary head"));
    assert_close(
        &format!("{name} aux"),
        &aux,
        &read(dir, &format!("{name}.aux.npy")),
        1e-3,
    );
    model
}

#[test]
fn small_torchvision_fcns_match_pytorch() {
    let device = common::test_device();
    for (name, depth) in [("tv_r50", 50), ("tv_r18", 18)] {
        let model = check_logits(&small(), name, &device);
        assert_eq!(model.meta.depth, depth);
        assert_eq!(model.meta.width, 8);
        let origin = model.origin.as_ref().unwrap();
        assert_eq!(origin.format, WeightFormat::TorchvisionFcn);
    }
}

/// One SGD step in training mode (dropout off, as the generator sets it): the loss
/// with the auxiliary term, gradients through the interpolation, the heads and the
/// dilated stages, and the updated weight.
#[test]
fn one_torchvision_fcn_training_step_matches_pytorch() {
    let dir = small();
    let device = common::test_device();
    for name in ["tv_r50", "tv_r18"] {
        let meta: serde_json::Value = serde_json::from_reader(
            std::fs::File::open(dir.join(format!("{name}.meta.json"))).unwrap(),
        )
        .unwrap();
        let model = Fcn::load(dir.join(format!("{name}.pth")), &device).unwrap();
        let mut net: FcnNet = model.net.train();
        if let fcn::model::fcn::Head::Torchvision(h) = &mut net.head {
            h.classifier.dropout.prob = 0.0;
            h.aux_classifier.as_mut().unwrap().dropout.prob = 0.0;
        }
        let ad = device.clone().autodiff();
        let net = net.fork(&ad);
        let x = input(&read(&dir, &format!("{name}.input.npy")), &ad);
        let labels: ArrayD<i64> = read_npy(dir.join(format!("{name}.train_labels.npy"))).unwrap();
        let shape: [usize; 3] = labels.shape().try_into().unwrap();
        let labels = TensorData::new(labels.iter().copied().collect::<Vec<_>>(), shape);
        let y = Tensor::<3, Int>::from_data(labels, &ad);
        let (out, aux) = net.forward_with_aux(x, true);
        let k = net.kernels();
        let loss = fcn::loss::cross_entropy(out, y.clone(), k)
            + fcn::loss::cross_entropy(aux.unwrap(), y, k).mul_scalar(0.5);
        let value: f32 = loss.clone().into_scalar();
        let want = read(&dir, &format!("{name}.train_loss.npy"))[[0]];
        assert!(
            (value - want).abs() <= 1e-4 * want,
            "{name} loss {value} vs {want}"
        );

        let grads = loss.backward();
        let ours = net.gradients(&grads);
        for key in meta["grads"].as_array().unwrap() {
            let key = key.as_str().unwrap();
            let got = ours
                .tensors
                .get(key)
                .unwrap_or_else(|| panic!("no gradient for {key}"));
            let got = ArrayD::from_shape_vec(got.shape.clone(), got.data.clone()).unwrap();
            let want = read(&dir, &format!("{name}.train_grad.{key}.npy"));
            assert_close(&format!("{name} gradient of {key}"), &got, &want, 1e-3);
        }
        let lr = meta["lr"].as_f64().unwrap();
        let grads = GradientsParams::from_grads(grads, &net);
        let net = SgdConfig::new().init().step(lr, net, grads);
        let after = net.state_dict().tensors["classifier.4.weight"].clone();
        let after = ArrayD::from_shape_vec(after.shape, after.data).unwrap();
        let want = read(&dir, &format!("{name}.train_step.classifier.4.weight.npy"));
        assert_close(
            &format!("{name} classifier.4.weight after the step"),
            &after,
            &want,
            1e-3,
        );
    }
}

/// Saved and read back, a torchvision FCN keeps torchvision's key names (so
/// `fcn_resnet50(...).load_state_dict` takes our file) and its tensors.
#[test]
fn torchvision_fcns_round_trip_under_torchvision_names() {
    let device = burn::tensor::Device::flex();
    let path = small().join("tv_r50.pth");
    let model = Fcn::load(&path, &device).unwrap();
    let out = common::tmp("tv_r50-roundtrip.safetensors");
    model.save(&out).unwrap();
    let back = Fcn::load(&out, &device).unwrap();
    assert_eq!(back.meta, model.meta);
    assert_eq!(back.net.state_dict(), model.net.state_dict());
    let theirs = fcn_keys_in_file(&path);
    let mut ours: Vec<String> = back.net.state_dict().keys().map(String::from).collect();
    ours.sort();
    assert_eq!(ours, theirs);
}

/// The float keys of a torchvision `.pth` as torchvision names them.
fn fcn_keys_in_file(path: &Path) -> Vec<String> {
    let file = fcn::weights::read(path).unwrap();
    let mut keys: Vec<String> = fcn::weights::to_torchvision_fcn(file.state)
        .keys()
        .map(String::from)
        .collect();
    keys.sort();
    assert!(keys.contains(&"backbone.layer4.2.conv3.weight".to_string()));
    assert!(keys.contains(&"aux_classifier.4.bias".to_string()));
    keys
}

/// torchvision's own `fcn_resnet50` (float16 file, 100×150 input), when the shared
/// goldens are there.
#[test]
fn torchvision_fcn_resnet50_matches_pytorch() {
    let Some(dir) = std::env::var_os("FCN_GOLDEN") else {
        eprintln!("FCN_GOLDEN unset: the full-size torchvision FCN is not checked");
        return;
    };
    let dir = PathBuf::from(dir).join("tv_fcn");
    let device = common::test_device();
    let model = check_logits(&dir, "fcn_resnet50_tv", &device);
    assert_eq!(model.meta.depth, 50);
    assert_eq!(model.meta.num_classes, 21);
    let x = input(&read(&dir, "fcn_resnet50_tv.input.npy"), &device);
    let layer4 = to_array(&model.net.backbone.forward(x, model.net.kernels()));
    assert_close(
        "layer4",
        &layer4,
        &npy_at(&dir, "fcn_resnet50_tv.layer4.npy"),
        1e-3,
    );
}

fn npy_at(dir: &Path, name: &str) -> ArrayD<f32> {
    read(dir, name)
}
