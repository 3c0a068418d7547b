//! Segmenting: the round trip from synthetic data through training to masks, and
//! `fcn segment`'s outputs.

use crate::common::{fails_with, fcn, s, text, tmp};
use crate::small_data;
use std::path::Path;

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
