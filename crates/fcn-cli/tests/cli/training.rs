//! Training from the command line: resuming, stopping on divergence, the heads and
//! backbones, fine-tuning with other classes, and the options of the recipe.

use crate::common::{fails_with, fcn, s, text};
use crate::{small_data, small_training, strs};
use std::path::Path;
use std::process::Command;

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
