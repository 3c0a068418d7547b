//! The `fcn` binary run as a process: bad input gives a clear message and a non-zero
//! exit (never a panic), and a small synth → train → eval → segment round trip works.

mod common;

use common::{fails_with, fcn, s, text, tmp};
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn malformed_flags_are_explained() {
    fails_with(&[], "Usage");
    fails_with(&["train", "--out", "x"], "--data");
    fails_with(
        &["synth", "--out", "x", "--size", "0x5"],
        "must be at least 1x1",
    );
    fails_with(
        &["synth", "--out", "x", "--size", "big"],
        "expected HEIGHTxWIDTH",
    );
    fails_with(
        &[
            "segment",
            "a.jpg",
            "--weights",
            "w",
            "--out",
            "o",
            "--shard",
            "3/2",
        ],
        "need 0 ≤ i < n",
    );
    fails_with(
        &["upsample", "a.jpg", "--out", "b.png", "--factor", "x"],
        "invalid value 'x'",
    );
}

#[test]
fn unreadable_weights_name_the_file() {
    let dir = tmp("weights");
    let bad = dir.join("bad.pth");
    std::fs::write(&bad, b"not weights").unwrap();
    fails_with(
        &["info", s(&bad)],
        &format!("{}: not a checkpoint", bad.display()),
    );
    fails_with(
        &["info", "/no/such/file.pth"],
        "/no/such/file.pth: No such file",
    );
}

#[test]
fn upsample_doubles_an_image() {
    let dir = tmp("upsample");
    let input = dir.join("in.png");
    image::RgbImage::from_pixel(10, 6, image::Rgb([10, 200, 30]))
        .save(&input)
        .unwrap();
    let out = dir.join("out.png");
    let o = fcn(&["upsample", s(&input), "--factor", "2", "--out", s(&out)]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(image::open(&out).unwrap().to_rgb8().dimensions(), (20, 12));
    fails_with(
        &["upsample", s(&dir.join("missing.png")), "--out", s(&out)],
        "missing.png",
    );
}

#[test]
fn synth_train_eval_segment_round_trip() {
    let dir = tmp("round_trip");
    let data = dir.join("data");
    let run = dir.join("run");
    let o = fcn(&[
        "synth",
        "--out",
        s(&data),
        "--n",
        "6",
        "--size",
        "64x96",
        "--seed",
        "2",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            s(&data),
            "--crop",
            "64x96",
            "--width",
            "8",
            "--batch-size",
            "2",
            "--lr",
            "0.01",
        ];
        args.extend_from_slice(extra);
        fcn(&args)
    };
    let o = train(&["--out", s(&run), "--epochs", "1"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.trim().ends_with("model.safetensors"), "{out}");
    assert!(err.contains("epoch 1: loss"), "{err}");
    // Resume continues with epoch 2 from the saved state.
    let o = train(&["--resume", s(&run), "--epochs", "2"]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("epoch 2: loss") && !err.contains("epoch 1: loss"),
        "{err}"
    );
    let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2);
    assert!(
        std::fs::read_to_string(run.join("curves.svg"))
            .unwrap()
            .starts_with("<svg")
    );

    let weights = run.join("model.safetensors");
    eval_reports_every_metric(&data, &weights);
    segment_writes_masks_and_reports_failures(&dir, &data, &weights);
    segment_shards_and_eval_checks_the_classes(&dir, &data, &weights);
}

fn eval_reports_every_metric(data: &Path, weights: &Path) {
    let o = fcn(&["eval", "--data", s(data), "--weights", s(weights), "--json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let m: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for key in [
        "pixel_accuracy",
        "mean_accuracy",
        "miou",
        "fwiou",
        "per_class",
    ] {
        assert!(m.get(key).is_some(), "{key} missing from {out}");
    }
    assert_eq!(m["per_class"].as_array().unwrap().len(), 7);
    assert!(m["per_class"][0].get("iou").is_some() && m["per_class"][0]["name"] == "background");
}

/// Two good images and one corrupt file: the good ones are written, the bad one is
/// reported, and the exit status says something failed.
fn segment_writes_masks_and_reports_failures(dir: &Path, data: &Path, weights: &Path) {
    let images = data.join("VOC2012/JPEGImages");
    let corrupt = dir.join("corrupt.jpg");
    std::fs::write(&corrupt, b"\xFF\xD8\xFF garbage").unwrap();
    let out_dir = dir.join("masks");
    let glob = format!("{}/synth_00000[01].jpg", images.display());
    let o = fcn(&[
        "segment",
        &glob,
        s(&corrupt),
        "--weights",
        s(weights),
        "--out",
        s(&out_dir),
        "--overlay",
        "--json",
    ]);
    let (out, err) = text(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("corrupt.jpg") && err.contains("1 of 3 images failed"),
        "{err}"
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    let mask = out_dir.join("synth_000000.png");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&mask).unwrap()));
    assert_eq!(
        decoder.read_info().unwrap().info().color_type,
        png::ColorType::Indexed
    );
    assert!(out_dir.join("synth_000001_overlay.png").exists());
}

fn segment_shards_and_eval_checks_the_classes(dir: &Path, data: &Path, weights: &Path) {
    let glob = format!(
        "{}/synth_00000[01].jpg",
        data.join("VOC2012/JPEGImages").display()
    );
    // Sharding: 1/2 takes the second of the two images.
    let shard_dir = dir.join("shard");
    let o = fcn(&[
        "segment",
        &glob,
        "--weights",
        s(weights),
        "--out",
        s(&shard_dir),
        "--shard",
        "1/2",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        shard_dir.join("synth_000001.png").exists() && !shard_dir.join("synth_000000.png").exists()
    );

    // Weights for another number of classes than the data.
    let voc_weights = dir.join("voc.safetensors");
    let o = fcn(&["export", s(weights), "--out", s(&voc_weights)]);
    assert!(o.status.success());
    let voc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fcn/tests/fixtures/voc_mini");
    fails_with(
        &[
            "eval",
            "--data",
            s(&voc),
            "--weights",
            s(&voc_weights),
            "--split",
            "train",
        ],
        "has 7 classes but the data has 21",
    );
}

/// A folder for test `name` with `n` synthetic 64×96 images in `data/`; returns
/// the folder, the data and `run/` (not created).
fn small_data(name: &str, n: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = tmp(name);
    let (data, run) = (dir.join("data"), dir.join("run"));
    let o = fcn(&["synth", "--out", s(&data), "--n", n, "--size", "64x96"]);
    assert!(o.status.success(), "{}", text(&o).1);
    (dir, data, run)
}

/// `fcn train` of a width-8 network on `data` into `run`, 64×96 crops, batches of 2.
fn small_training(data: &Path, run: &Path) -> Vec<String> {
    let (data, run) = (s(data), s(run));
    ["train", "--data", data, "--out", run, "--crop", "64x96"]
        .into_iter()
        .chain(["--width", "8", "--batch-size", "2"])
        .map(String::from)
        .collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_run_killed_mid_epoch_resumes_from_its_last_checkpoint() {
    let (dir, data, run) = small_data("sigkill", "12");
    let train = |run: &Path| {
        let mut args = small_training(&data, run);
        // Half the epochs at low resolution: the schedule and the optimiser's fresh
        // start at the full-size phase must survive the kill wherever it lands, with
        // Adam, whose moments start afresh there.
        let phases = ["--epochs", "20", "--lr", "0.003", "--low-res-epochs", "10"];
        args.extend(phases.map(String::from));
        args.extend(["--optimizer", "adam"].map(String::from));
        args
    };
    let args = train(&run);
    let mut child = Command::new(env!("CARGO_BIN_EXE_fcn"))
        .args(args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let metrics = run.join("metrics.jsonl");
    let started = std::time::Instant::now();
    while !metrics.exists() {
        assert!(started.elapsed().as_secs() < 120, "no epoch finished");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let done = fcn::train::read_state(&run).unwrap().history.len();
    assert!((1..20).contains(&done), "{done} epochs before the kill");
    // Resuming continues to the run's 20 epochs, starting after the last saved one.
    let o = fcn(&["train", "--resume", s(&run)]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(&format!("epoch {}: loss", done + 1)), "{err}");
    assert!(!err.contains(&format!("epoch {done}: loss")), "{err}");
    let epochs: Vec<u64> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(epochs, (1..=20).collect::<Vec<u64>>());
    // The seed fixes the initial weights, the batches and every crop, so the run
    // killed and resumed ends with the very weights of a run left alone.
    let whole = dir.join("whole");
    let o = fcn(&strs(&train(&whole)));
    assert!(o.status.success(), "{}", text(&o).1);
    let weights = |run: &Path| std::fs::read(run.join("model.safetensors")).unwrap();
    assert!(weights(&run) == weights(&whole), "resumed weights differ");
}

#[test]
fn a_diverging_loss_stops_with_a_message() {
    let (dir, data, run) = small_data("nan", "6");
    let base = small_training(&data, &run);
    let ok = fcn(&[&strs(&base)[..], &["--epochs", "1", "--lr", "0.01"]].concat());
    assert!(ok.status.success(), "{:?}", text(&ok));
    let saved = std::fs::read(run.join("model.safetensors")).unwrap();
    // A second run in the same directory with an absurd learning rate diverges.
    let run2 = dir.join("run2");
    std::fs::create_dir_all(&run2).unwrap();
    let o = fcn(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&run2),
        "--crop",
        "64x96",
        "--width",
        "8",
        "--batch-size",
        "2",
        "--epochs",
        "3",
        "--lr",
        "1e30",
        "--optimizer",
        "sgd",
    ]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("the loss became") && err.contains("try a lower --lr"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        std::fs::read(run.join("model.safetensors")).unwrap(),
        saved,
        "the good run is untouched"
    );
}

#[test]
fn an_fcn8s_trains_says_what_it_is_and_keeps_its_head_on_resume() {
    let (_dir, data, run) = small_data("fcn8s", "6");
    let mut args = small_training(&data, &run);
    args.extend(["--arch", "fcn8s", "--epochs", "1", "--lr", "0.01"].map(String::from));
    let o = fcn(&strs(&args));
    assert!(o.status.success(), "{}", text(&o).1);
    let weights = run.join("model.safetensors");
    let o = fcn(&["info", s(&weights)]);
    assert!(text(&o).0.contains("arch:         fcn8s"), "{}", text(&o).0);
    fails_with(
        &[
            "train",
            "--resume",
            s(&run),
            "--arch",
            "fcn32s",
            "--epochs",
            "2",
        ],
        "--arch fcn32s cannot change when resuming: the run's model is an fcn8s",
    );
}

/// torchvision's head on a dilated ResNet-50 trains from the command line, `fcn info`
/// describes it, `fcn segment` runs it, and impossible combinations are refused.
#[test]
fn a_torchvision_fcn_trains_segments_and_describes_itself() {
    let (dir, data, run) = small_data("tvfcn", "4");
    let mut args = small_training(&data, &run);
    args.extend(["--arch", "torchvision", "--epochs", "1", "--lr", "0.01"].map(String::from));
    let o = fcn(&strs(&args));
    assert!(o.status.success(), "{}", text(&o).1);
    let weights = run.join("model.safetensors");
    let o = fcn(&["info", s(&weights)]);
    let out = text(&o).0;
    assert!(out.contains("arch:         torchvision"), "{out}");
    assert!(
        out.contains("network:      torchvision FCNHead with aux head on ResNet-50 (output stride 8, width 8)"),
        "{out}"
    );
    let masks = dir.join("masks");
    let o = fcn(&[
        "segment",
        "--weights",
        s(&weights),
        "--out",
        s(&masks),
        &format!(
            "{}/synth_00000[0-3].jpg",
            data.join("VOC2012/JPEGImages").display()
        ),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(std::fs::read_dir(&masks).unwrap().count() >= 4);
    let mut bad = small_training(&data, &dir.join("run2"));
    bad.extend(["--arch", "fcn8s", "--output-stride", "8"].map(String::from));
    fails_with(&strs(&bad), "fcn8s needs output stride 32");
    let mut bad = small_training(&data, &dir.join("run3"));
    bad.extend(["--depth", "42"].map(String::from));
    fails_with(&strs(&bad), "depth 42 is not one of 18, 34, 50, 101");
    fails_with(
        &[
            "train",
            "--resume",
            s(&run),
            "--depth",
            "101",
            "--epochs",
            "2",
        ],
        "--depth cannot change when resuming: the run's model has 50",
    );
    // Fine-tuning a torchvision FCN (5 classes) on data with 7: its backbone, a
    // fresh head.
    let tv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fcn/tests/fixtures/golden_small/tv_fcn/tv_r50.pth");
    let tuned = dir.join("tuned");
    let o = fcn(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&tuned),
        "--crop",
        "64x96",
        "--batch-size",
        "2",
        "--arch",
        "torchvision",
        "--backbone",
        s(&tv),
        "--epochs",
        "1",
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let o = fcn(&["info", s(&tuned.join("model.safetensors"))]);
    assert!(text(&o).0.contains("classes:      7"), "{}", text(&o).0);
    let mut bad = vec![
        "train",
        "--data",
        s(&data),
        "--out",
        "unused",
        "--arch",
        "torchvision",
    ];
    bad.extend(["--backbone", s(&tv), "--depth", "101"]);
    fails_with(&bad, "is a ResNet-50 but --depth says 101");
}

#[test]
fn segment_writes_probabilities_and_confidences() {
    let dir = tmp("probs");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fcn/tests/fixtures");
    let weights = fixtures.join("golden_small/fcn/fcn_d2l.pth");
    let image = fixtures.join("voc_mini/VOC2012/JPEGImages/2011_003271.jpg");
    let out = dir.join("out");
    let o = fcn(&[
        "segment",
        s(&image),
        "--weights",
        s(&weights),
        "--out",
        s(&out),
    ]
    .into_iter()
    .chain(["--probs", "--json"])
    .collect::<Vec<_>>());
    assert!(o.status.success(), "{:?}", text(&o));
    let probs: ndarray::Array3<f32> =
        ndarray_npy::read_npy(out.join("2011_003271.probs.npy")).unwrap();
    assert_eq!(probs.dim(), (5, 375, 500));
    let mask = fcn::data::decode::read_mask(
        &out.join("2011_003271.png"),
        &fcn::data::colormap::ColorMap::voc(),
        u64::MAX,
    )
    .unwrap();
    assert_eq!(mask.dim(), (375, 500));
    for ((y, x), &label) in mask.indexed_iter() {
        let lane = probs.slice(ndarray::s![.., y, x]);
        assert!((lane.sum() - 1.0).abs() < 1e-4);
        let best = (0..5).fold(0, |b, c| if lane[c] > lane[b] { c } else { b });
        assert_eq!(best, label as usize, "the mask is the argmax at ({x}, {y})");
    }
    let line: serde_json::Value = serde_json::from_str(text(&o).0.trim()).unwrap();
    let fractions = line["fractions"].as_object().unwrap();
    let confidence = line["confidence"].as_object().unwrap();
    assert_eq!(
        fractions.keys().collect::<Vec<_>>(),
        confidence.keys().collect::<Vec<_>>()
    );
    for v in confidence.values() {
        let p = v.as_f64().unwrap();
        assert!(
            (0.2..=1.0).contains(&p),
            "a winning class has at least 1/5: {p}"
        );
    }
}

/// `--weights` of a 5-class FCN on the 7-class synthetic data: the class layers
/// start afresh, a one-line message says which, and a 7-class model is saved.
#[test]
fn weights_for_other_classes_fine_tune_with_a_fresh_head() {
    let (_dir, data, run) = small_data("finetune", "8");
    let pth = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fcn/tests/fixtures/golden_small/fcn/fcn_d2l.pth");
    let mut args = small_training(&data, &run);
    args.extend(["--weights", s(&pth), "--epochs", "1", "--freeze-backbone"].map(String::from));
    let o = fcn(&strs(&args));
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let line = "to 7 classes: re-initialised final_conv.bias, final_conv.weight, \
                transpose_conv.bias, transpose_conv.weight (every other weight from the file)";
    assert!(err.contains(line), "{err}");
    let info = fcn(&["info", s(&run.join("model.safetensors")), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["num_classes"], 7);
    assert_eq!(info["class_names"][6], "cross");
}

/// `--tta flip --tta-scales` on `segment` and `eval`: they run, probabilities stay
/// normalised, and bad scales are refused naming the flag.
#[test]
fn test_time_augmentation_runs_on_segment_and_eval() {
    let (dir, data, _) = small_data("tta", "5");
    let pth = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fcn/tests/fixtures/golden_small/fcn/fcn_d2l.pth");
    let weights = dir.join("model.safetensors");
    let o = fcn(&["export", s(&pth), "--out", s(&weights)]);
    assert!(o.status.success(), "{:?}", text(&o));
    let image = data.join("VOC2012/JPEGImages/synth_000000.jpg");
    let out = dir.join("out");
    let tta = ["--tta", "flip", "--tta-scales", "0.75,1,1.25"];
    let mut args = vec![
        "segment",
        s(&image),
        "--weights",
        s(&weights),
        "--out",
        s(&out),
        "--probs",
    ];
    args.extend(tta);
    let o = fcn(&args);
    assert!(o.status.success(), "{:?}", text(&o));
    let probs: ndarray::Array3<f32> =
        ndarray_npy::read_npy(out.join("synth_000000.probs.npy")).unwrap();
    assert_eq!(probs.dim(), (5, 64, 96));
    assert!(
        probs
            .lanes(ndarray::Axis(0))
            .into_iter()
            .all(|l| (l.sum() - 1.0).abs() < 1e-4)
    );
    // The synthetic data has 7 classes and this model 5: eval needs its own model.
    let seven = dir.join("seven.safetensors");
    let o = fcn(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&dir.join("run")),
        "--epochs",
        "1",
    ]
    .into_iter()
    .chain(["--width", "4", "--batch-size", "2", "--crop", "64x96"])
    .collect::<Vec<_>>());
    assert!(o.status.success(), "{:?}", text(&o));
    std::fs::copy(dir.join("run/model.safetensors"), &seven).unwrap();
    let mut args = vec!["eval", "--data", s(&data), "--weights", s(&seven), "--json"];
    args.extend(tta);
    let o = fcn(&args);
    assert!(o.status.success(), "{:?}", text(&o));
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(m["pixel_accuracy"].as_f64().is_some(), "{m}");
    fails_with(
        &[
            "segment",
            s(&image),
            "--weights",
            s(&weights),
            "--out",
            s(&out),
            "--tta-scales",
            "0",
        ],
        "--tta-scales 0",
    );
}

/// `--class-weights auto`: the weights come from the training masks, are printed,
/// kept in the run's state, and a resume with the same flag keeps them.
#[test]
fn automatic_class_weights_are_printed_kept_and_resumed() {
    let (_dir, data, run) = small_data("auto-weights", "10");
    let mut args = small_training(&data, &run);
    args.extend(["--epochs", "1", "--class-weights", "auto"].map(String::from));
    let o = fcn(&strs(&args));
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("class weights (median frequency, from 8 masks):"),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.trim_start().starts_with("background")),
        "{err}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("state.json")).unwrap()).unwrap();
    let weights = state["config"]["class_weights"]
        .as_array()
        .expect("weights saved");
    assert_eq!(weights.len(), 7);
    // The background covers most pixels: it weighs least.
    let w: Vec<f64> = weights.iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(w.iter().all(|&x| x >= 0.0) && w[0] < w[1..].iter().cloned().fold(f64::MAX, f64::min));
    let resume = [
        "train",
        "--resume",
        s(&run),
        "--epochs",
        "2",
        "--class-weights",
        "auto",
    ];
    let o = fcn(&resume);
    assert!(o.status.success(), "{:?}", text(&o));
}

/// `--scale MIN,MAX` and `--color-jitter` train, and bad ranges are refused.
#[test]
fn scale_jitter_trains_and_bad_ranges_are_refused() {
    let (dir, data, run) = small_data("scale", "6");
    let mut args = small_training(&data, &run);
    args.extend(["--epochs", "1", "--scale", "0.5,2.0", "--pad-small"].map(String::from));
    args.extend(["--color-jitter", "0.3,0.3,0.3,0.05"].map(String::from));
    let o = fcn(&strs(&args));
    assert!(o.status.success(), "{:?}", text(&o));
    let mut bad = small_training(&data, &dir.join("bad"));
    bad.extend(["--scale", "2,1"].map(String::from));
    fails_with(&strs(&bad), "--scale MIN,MAX");
    let mut bad = small_training(&data, &dir.join("bad2"));
    bad.extend(["--color-jitter", "0,0,0,0.9"].map(String::from));
    fails_with(&strs(&bad), "--color-jitter B,C,S,H");
}

/// `--low-res-epochs` trains its first epochs on half-size crops and is saved with
/// the run; leaving no full-size epoch, or a scale out of range, is refused.
#[test]
fn low_res_epochs_train_and_bad_values_are_refused() {
    let (dir, data, run) = small_data("low-res", "6");
    let mut args = small_training(&data, &run);
    args.extend(["--epochs", "2", "--low-res-epochs", "1"].map(String::from));
    let o = fcn(&strs(&args));
    assert!(o.status.success(), "{:?}", text(&o));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["config"]["low_res_epochs"], 1);
    assert_eq!(state["history"].as_array().unwrap().len(), 2);
    let mut bad = small_training(&data, &dir.join("bad"));
    bad.extend(["--epochs", "2", "--low-res-epochs", "2"].map(String::from));
    fails_with(&strs(&bad), "--low-res-epochs must be fewer than --epochs");
    let mut bad = small_training(&data, &dir.join("bad2"));
    bad.extend(["--low-res-scale", "0.05"].map(String::from));
    fails_with(&strs(&bad), "--low-res-scale must be between 0.1 and 1");
}

/// `fcn bench --json` says where it ran: the CPU, the vector path (as `FCN_SIMD`
/// forced it) and the threads, beside the cases.
#[test]
fn bench_json_names_the_machine() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_fcn"))
        .args(["bench", "--json", "--only", "convT_small", "--seconds", "0"])
        .args(["--skip-baseline", "--threads", "1"])
        .env("FCN_SIMD", "scalar")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("SIMD path scalar, 1 threads"), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["machine"]["simd"], "scalar");
    assert_eq!(report["machine"]["threads"], 1);
    assert!(!report["machine"]["cpu"].as_str().unwrap().is_empty());
    assert_eq!(report["cases"][0]["name"], "convT_small");
    assert!(report["cases"][0]["ms"].as_f64().unwrap() > 0.0);
}
