//! `fcn convert` and training straight from annotation formats, through the binary.

mod common;

use std::path::{Path, PathBuf};

use common::{fails_with, fcn, s, text, tmp};

fn formats() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fcn/tests/fixtures/formats")
}

/// One epoch of a width-4 network on 48×48 crops; its stderr.
fn tiny_training(data: &Path, run: &Path, extra: &[&str]) -> String {
    let mut args = vec!["train", "--data", s(data), "--out", s(run), "--epochs", "1"];
    args.extend(["--width", "4", "--batch-size", "2", "--crop", "48x48"]);
    args.extend(extra);
    let o = fcn(&args);
    let (_, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    stderr
}

/// COCO in, VOC layout out: it says what it read and wrote, prints the directory,
/// and the result trains and evaluates as VOC; a second run refuses to overwrite.
#[test]
fn convert_writes_voc_that_trains() {
    let dir = tmp("convert");
    let out = dir.join("voc");
    let src = formats().join("coco");
    let o = fcn(&["convert", "--data", s(&src), "--out", s(&out)]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), s(&out));
    assert!(stderr.contains("(COCO, 5 classes)"), "{stderr}");
    assert!(
        stderr.contains("wrote 4 images (train 3, val 1)"),
        "{stderr}"
    );
    let list = std::fs::read_to_string(out.join("ImageSets/Segmentation/train.txt")).unwrap();
    assert_eq!(list.lines().count(), 3);
    let stderr = tiny_training(&out, &dir.join("run"), &["--pad-small"]);
    assert!(
        stderr.contains("(5 classes) from") && stderr.contains("(Pascal VOC)"),
        "{stderr}"
    );
    fails_with(
        &["convert", "--data", s(&src), "--out", s(&out)],
        "already exists",
    );
    fails_with(
        &[
            "convert",
            "--data",
            s(&src),
            "--out",
            s(&dir.join("x")),
            "--format",
            "cityscapes",
        ],
        "in Cityscapes layout",
    );
}

/// LabelMe trains as it is (the image inside a JSON included), and says so.
#[test]
fn labelme_trains_directly() {
    let dir = tmp("labelme-train");
    let stderr = tiny_training(&formats().join("labelme"), &dir.join("run"), &[]);
    assert!(
        stderr.contains("(4 classes) from") && stderr.contains("(LabelMe)"),
        "{stderr}"
    );
}
