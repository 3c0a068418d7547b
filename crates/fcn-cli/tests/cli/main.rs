//! The `fcn` binary run as a process: bad input gives a clear message and a non-zero
//! exit (never a panic), and a small synth → train → eval → segment round trip works.
//! The round trip and segmentation are in `segment.rs`, training's options in
//! `training.rs`.

#[path = "../common/mod.rs"]
mod common;
mod segment;
mod training;

use common::{fails_with, fcn, s, text, tmp};
use std::path::{Path, PathBuf};

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

/// A folder for test `name` with `n` synthetic 64×96 images in `data/`; returns
/// the folder, the data and `run/` (not created).
pub(crate) fn small_data(name: &str, n: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = tmp(name);
    let (data, run) = (dir.join("data"), dir.join("run"));
    let o = fcn(&["synth", "--out", s(&data), "--n", n, "--size", "64x96"]);
    assert!(o.status.success(), "{}", text(&o).1);
    (dir, data, run)
}

/// `fcn train` of a width-8 network on `data` into `run`, 64×96 crops, batches of 2.
pub(crate) fn small_training(data: &Path, run: &Path) -> Vec<String> {
    let (data, run) = (s(data), s(run));
    ["train", "--data", data, "--out", run, "--crop", "64x96"]
        .into_iter()
        .chain(["--width", "8", "--batch-size", "2"])
        .map(String::from)
        .collect()
}

pub(crate) fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
