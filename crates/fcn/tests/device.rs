//! Training and inference on the test device (`FCN_TEST_DEVICE`: the CPU by default;
//! CI runs this file again on the GPU, Mesa's software Vulkan): a short run learns,
//! in f32 and in mixed precision, and its checkpoint segments the same on the CPU.

mod common;

use burn::tensor::Device;
use fcn::data::synthetic::{self, SynthConfig};
use fcn::data::{self, ReadOptions};
use fcn::precision::Precision;
use fcn::train::{self, OptimizerKind, Quiet, TrainConfig};
use fcn::{Fcn, FcnConfig};

/// Trains a small model for six epochs at `precision`; asserts the loss fell and
/// that the checkpoint, read on the CPU in f32, gives at least `agreement` of the
/// trained model's mask on a training image.
fn a_short_run_learns(precision: Precision, agreement: f64) {
    let device = common::test_device();
    let dir = common::tmp(&format!("device_run_{}", precision.name()));
    let _ = std::fs::remove_dir_all(&dir);
    let (data_dir, run) = (dir.join("data"), dir.join("run"));
    let synth = SynthConfig {
        n: 8,
        seed: 5,
        size: (64, 96),
        val_fraction: 0.25,
    };
    synthetic::generate(&data_dir, &synth, |_| {}).unwrap();
    let split = data::open(&data_dir, "train", &ReadOptions::default()).unwrap();
    let mut config = FcnConfig {
        width: 8,
        ..FcnConfig::default()
    }
    .with_num_classes(split.classes.len());
    config.class_names = split.classes.names.clone();
    device.seed(0);
    let model = Fcn::new(&config, &device);
    let train_config = TrainConfig {
        epochs: 6,
        batch_size: 2,
        lr: 0.01,
        weight_decay: 0.0,
        optimizer: OptimizerKind::Adam,
        crop: Some((64, 96)),
        precision,
        ..TrainConfig::DEFAULT
    };
    let image = image::open(&split.items[0].image).unwrap().to_rgb8();
    let trained = train::train(&run, model, split, None, &train_config, false, &mut Quiet).unwrap();
    let history = train::read_state(&run).unwrap().history;
    let (first, last) = (history[0].train_loss, history[5].train_loss);
    assert!(last < 0.8 * first, "{precision:?}: loss {first} → {last}");

    // The checkpoint, read on the CPU, gives the masks the trained model gives.
    let cpu = Fcn::load(run.join("model.safetensors"), &Device::flex()).unwrap();
    let (here, there) = (
        trained.predict(&image).unwrap(),
        cpu.predict(&image).unwrap(),
    );
    let agree = here.iter().zip(&there).filter(|(a, b)| a == b).count();
    assert!(
        agree as f64 >= agreement * here.len() as f64,
        "{precision:?}: {agree} of {} pixels agree",
        here.len()
    );
}

#[test]
fn a_short_run_learns_and_its_checkpoint_segments_alike_on_the_cpu() {
    a_short_run_learns(Precision::F32, 0.999);
}

/// Mixed precision: f32 checkpoints, and masks that differ from the f32 reading
/// only where two classes' scores are within half precision of each other.
#[test]
fn a_short_mixed_precision_run_learns_and_its_f32_checkpoint_segments_alike() {
    for p in common::reduced_precisions(&common::test_device()) {
        let agreement = if p == Precision::F16 { 0.99 } else { 0.98 };
        a_short_run_learns(p, agreement);
    }
}

/// Running out of GPU memory is an error that says so and what to shrink, not a
/// panic or a hang; the device works on afterwards. (GPU only: lavapipe cannot
/// allocate one buffer of 1 GiB, the stem's output for a 4096×4096 image; the CPU
/// would compute it.)
#[test]
fn running_out_of_gpu_memory_is_an_error_naming_the_allocation() {
    let device = common::test_device();
    if fcn::device::is_cpu(&device) {
        eprintln!("on the CPU: nothing to test (FCN_TEST_DEVICE=gpu runs it)");
        return;
    }
    device.seed(0);
    let model = Fcn::new(&FcnConfig::default(), &device);
    let x = burn::tensor::Tensor::<4>::zeros([1, 3, 4096, 4096], &device);
    let during = || "in a test forward pass".to_string();
    let result = fcn::device::catch_failure(&during, "try a smaller image", || {
        let logits = model.net.forward(x);
        logits.sum().into_scalar::<f32>()
    });
    let message = match result {
        Err(e @ fcn::FcnError::OutOfMemory { .. }) => e.to_string(),
        other => panic!("expected an out-of-memory error, got {other:?}"),
    };
    assert!(
        message.starts_with("the GPU ran out of memory in a test forward pass (an allocation of")
            && message.ends_with("MiB failed): try a smaller image"),
        "{message}"
    );
    // The device is not poisoned: a small pass runs after it.
    let small = burn::tensor::Tensor::<4>::zeros([1, 3, 64, 64], &device);
    let logits = model.net.forward(small);
    assert_eq!(logits.dims(), [1, 21, 64, 64]);
    assert!(logits.sum().into_scalar::<f32>().is_finite());
}
