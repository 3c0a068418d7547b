//! The failures found by trying `fcn` with bad input, each now a clear message (or
//! the right behaviour), checked on the real binary.

mod common;

use std::path::{Path, PathBuf};

use common::{fails_with, fcn, s, text, tmp};

/// A synthetic dataset of `n` images of 64×96.
fn synth(dir: &Path, n: usize) -> PathBuf {
    let data = dir.join("data");
    let n = n.to_string();
    let o = fcn(&["synth", "--out", s(&data), "--n", &n, "--size", "64x96"]);
    assert!(o.status.success(), "{:?}", text(&o));
    data
}

/// `fcn train` on `data` at width 4, one epoch unless `extra` says otherwise.
fn train(data: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train",
        "--data",
        s(data),
        "--width",
        "4",
        "--batch-size",
        "2",
    ];
    args.extend_from_slice(extra);
    fcn(&args)
}

#[test]
fn any_crop_size_trains() {
    let dir = tmp("crop_96x100");
    let data = synth(&dir, 5);
    let run = dir.join("run");
    // 60×70 is no multiple of 32: padded inside, the padding ignored by the loss.
    let o = train(
        &data,
        &["--crop", "60x70", "--out", s(&run), "--epochs", "1"],
    );
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("epoch 1: loss"), "{err}");
}

#[test]
fn a_broken_validation_split_stops_the_run() {
    let dir = tmp("broken_val");
    let data = synth(&dir, 5);
    let val = data.join("VOC2012/ImageSets/Segmentation/val.txt");
    std::fs::write(&val, "no_such_image\n").unwrap();
    let run = dir.join("run");
    let o = train(&data, &["--crop", "64x96", "--out", s(&run)]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("validation split") && err.contains("no_such_image"),
        "{err}"
    );
    std::fs::write(&val, "# nothing\n").unwrap();
    let o = train(&data, &["--crop", "64x96", "--out", s(&run)]);
    assert!(text(&o).1.contains("the split is empty"), "{:?}", text(&o));
}

#[test]
fn resume_continues_the_saved_run_exactly() {
    let dir = tmp("resume_exact");
    let data = synth(&dir, 5);
    let run = dir.join("run");
    let o = train(
        &data,
        &["--crop", "64x96", "--out", s(&run), "--epochs", "1"],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    // No --epochs: the saved 1 epoch, not the default 5.
    let o = fcn(&["train", "--resume", s(&run)]);
    assert!(o.status.success(), "{:?}", text(&o));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["config"]["epochs"], 1);
    assert_eq!(state["history"].as_array().unwrap().len(), 1);
    // Repeating a setting is fine; changing one is an error naming it.
    let o = fcn(&["train", "--resume", s(&run), "--batch-size", "2"]);
    assert!(o.status.success(), "{:?}", text(&o));
    fails_with(
        &["train", "--resume", s(&run), "--lr", "0.5"],
        "lr: saved 0.001, given 0.5",
    );
    fails_with(
        &["train", "--resume", s(&run), "--width", "8"],
        "--width 8 cannot change",
    );
}

#[test]
fn a_second_run_into_the_same_directory_is_refused() {
    let dir = tmp("locked");
    let data = synth(&dir, 5);
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let lock = std::fs::File::create(run.join("lock")).unwrap();
    lock.try_lock().unwrap();
    std::fs::write(run.join("lock"), "4242").unwrap();
    fails_with(
        &[
            "train",
            "--data",
            s(&data),
            "--out",
            s(&run),
            "--width",
            "4",
            "--crop",
            "64x96",
        ],
        "in use by another fcn train (process 4242)",
    );
}

#[test]
fn impossible_settings_are_refused_by_name() {
    let dir = tmp("settings");
    let data = synth(&dir, 5);
    let out = dir.join("run");
    let o = s(&out);
    fails_with(
        &["train", "--data", s(&data), "--out", o, "--epochs", "0"],
        "--epochs must be at least 1",
    );
    fails_with(
        &["train", "--data", s(&data), "--out", o, "--width", "0"],
        "width 0",
    );
    fails_with(
        &["train", "--data", s(&data), "--out", o, "--width", "100000"],
        "width 100000",
    );
    fails_with(
        &[
            "train",
            "--data",
            s(&data),
            "--out",
            o,
            "--num-classes",
            "1000",
        ],
        "1000 classes",
    );
    fails_with(
        &["train", "--data", s(&data), "--out", o, "--momentum=-0.5"],
        "--momentum",
    );
    fails_with(
        &["train", "--data", s(&data), "--out", o, "--weight-decay=-1"],
        "--weight-decay",
    );
    fails_with(
        &["train", "--data", s(&data), "--out", o, "--aux-weight=NaN"],
        "--aux-weight must be zero or positive",
    );
    fails_with(
        &[
            "train",
            "--data",
            s(&data),
            "--out",
            o,
            "--class-weights=1,-1,1,1,1,1,1",
        ],
        "--class-weights",
    );
}

#[test]
fn segment_never_overwrites_inputs_and_keeps_clashing_names_apart() {
    let dir = tmp("segment_names");
    let weights = dir.join("model.safetensors");
    let pth = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fcn/tests/fixtures/golden_small/fcn/fcn_d2l.pth");
    let o = fcn(&["export", s(&pth), "--out", s(&weights)]);
    assert!(o.status.success(), "{:?}", text(&o));
    let images = dir.join("images");
    std::fs::create_dir_all(images.join("a")).unwrap();
    std::fs::create_dir_all(images.join("b")).unwrap();
    let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 5, y as u8 * 7, 90]));
    img.save(images.join("a/x.png")).unwrap();
    img.save(images.join("a/x.jpg")).unwrap();
    img.save(images.join("b/x.png")).unwrap();
    let before = std::fs::read(images.join("a/x.png")).unwrap();
    // --out as the input folder would replace a/x.png by its own mask.
    fails_with(
        &[
            "segment",
            s(&images.join("a/x.png")),
            "--weights",
            s(&weights),
            "--out",
            s(&images.join("a")),
        ],
        "would overwrite input images",
    );
    assert_eq!(std::fs::read(images.join("a/x.png")).unwrap(), before);
    let out = dir.join("masks");
    let o = fcn(&[
        "segment",
        s(&images.join("a")),
        s(&images.join("b")),
        "--weights",
        s(&weights),
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    for mask in ["a/x.jpg.png", "a/x.png.png", "b/x.png"] {
        assert!(out.join(mask).is_file(), "{mask} missing");
    }
    // A backbone alone is refused, naming the missing head.
    let backbone = pth.with_file_name("resnet18_torchvision.pth");
    fails_with(
        &[
            "segment",
            s(&images.join("b")),
            "--weights",
            s(&backbone),
            "--out",
            s(&out),
        ],
        "a backbone only",
    );
    // More shards than images: nothing to do is not a failure.
    let o = fcn(&[
        "segment",
        s(&images.join("b")),
        "--weights",
        s(&weights),
        "--out",
        s(&out),
        "--shard",
        "3/4",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
}

/// Without the `gpu` feature, asking for a GPU says how to build one; `auto` and the
/// environment variable fall back to, or choose, the CPU.
#[cfg(not(feature = "gpu"))]
#[test]
fn a_gpu_needs_the_gpu_feature() {
    let needle = "needs a build with the `gpu` feature";
    fails_with(&["bench", "--device", "gpu", "--list"], needle);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_fcn"))
        .args(["bench", "--list"])
        .env("FCN_DEVICE", "gpu")
        .output()
        .unwrap();
    assert!(text(&o).1.contains(needle), "{}", text(&o).1);
    let o = fcn(&["bench", "--device", "auto", "--list"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("device: CPU"), "{err}");
    assert!(out.contains("conv7x7_stem"), "{out}");
    fails_with(
        &["bench", "--device", "tpu"],
        "invalid value 'tpu' for '--device",
    );
}

/// Half precision is for GPUs: on the CPU every command that takes it says so.
#[test]
fn half_precision_on_the_cpu_is_refused_by_name() {
    fails_with(
        &["bench", "--precision", "f16", "--list"],
        "--precision f16 is for GPUs (--device gpu)",
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_fcn"))
        .args([
            "segment",
            "--weights",
            "none.safetensors",
            "--out",
            "none",
            "x.png",
        ])
        .env("FCN_PRECISION", "bf16")
        .output()
        .unwrap();
    let err = text(&o).1;
    assert!(err.contains("--precision bf16 is for GPUs"), "{err}");
    fails_with(
        &["bench", "--precision", "f64"],
        "invalid value 'f64' for '--precision",
    );
}

#[test]
fn export_picks_the_format_from_the_extension_and_names_bad_inputs() {
    let dir = tmp("export_formats");
    let pth = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fcn/tests/fixtures/golden_small/fcn/fcn_d2l.pth");
    let onnx = dir.join("model.onnx");
    let o = fcn(&["export", s(&pth), "--out", s(&onnx), "--argmax"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        text(&o).1.contains("FCN-32s on ResNet-18"),
        "{:?}",
        text(&o)
    );
    // An ONNX file is a protobuf ModelProto: field 1 (ir_version) as a varint first.
    let bytes = std::fs::read(&onnx).unwrap();
    assert_eq!(&bytes[..2], &[0x08, 8], "ir_version 8");
    let forced = dir.join("model.bin");
    let o = fcn(&["export", s(&pth), "--out", s(&forced), "--format", "onnx"]);
    assert!(o.status.success(), "{:?}", text(&o));
    fails_with(
        &["export", s(&pth), "--out", s(&dir.join("model.bin"))],
        "cannot tell the format from the extension",
    );
    fails_with(
        &[
            "export",
            s(&pth),
            "--out",
            s(&dir.join("m.safetensors")),
            "--fp16",
        ],
        "apply to ONNX files only",
    );
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "not a model").unwrap();
    fails_with(&["export", s(&notes), "--out", s(&onnx)], "notes.txt");
    fails_with(
        &["export", s(&onnx), "--out", s(&dir.join("again.onnx"))],
        "model.onnx",
    );
}
