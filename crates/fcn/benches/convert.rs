//! `fcn convert`'s speed on COCO: a generated annotation file of 5,000 images of
//! 640×480 with 35,000 polygons (seven a picture, 12 vertices each), written in
//! VOC layout on one core (images hard-linked, masks rasterised and encoded).
//! Prints images per second. Run: `cargo bench -p fcn --bench convert`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use fcn::data::{self, ReadOptions, export};

const IMAGES: usize = 5_000;
const POLYGONS_PER_IMAGE: usize = 7;
const VERTICES: usize = 12;
const H: usize = 480;
const W: usize = 640;

/// A seeded polygon: a star of `VERTICES` points around a random centre.
fn polygon(seed: &mut u64) -> String {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % 10_000) as f64 / 10_000.0
    };
    let (cx, cy, r) = (W as f64 * next(), H as f64 * next(), 20.0 + 100.0 * next());
    let mut text = String::new();
    for k in 0..VERTICES {
        let a = k as f64 / VERTICES as f64 * std::f64::consts::TAU;
        let rr = r * (0.5 + 0.5 * next());
        let sep = if k == 0 { "" } else { ", " };
        write!(
            text,
            "{sep}{:.2}, {:.2}",
            cx + rr * a.cos(),
            cy + rr * a.sin()
        )
        .unwrap();
    }
    text
}

fn generate(dir: &Path) {
    std::fs::create_dir_all(dir.join("train")).unwrap();
    let first = dir.join("train/000000.jpg");
    image::RgbImage::from_pixel(W as u32, H as u32, image::Rgb([90, 120, 150]))
        .save(&first)
        .unwrap();
    let (mut images, mut annotations, mut seed) = (Vec::new(), Vec::new(), 7u64);
    for i in 0..IMAGES {
        let name = format!("{i:06}.jpg");
        if i > 0 {
            std::fs::hard_link(&first, dir.join("train").join(&name)).unwrap();
        }
        images.push(format!(
            r#"{{"id": {i}, "file_name": "{name}", "height": {H}, "width": {W}}}"#
        ));
        for k in 0..POLYGONS_PER_IMAGE {
            let id = i * POLYGONS_PER_IMAGE + k;
            annotations.push(format!(
                r#"{{"id": {id}, "image_id": {i}, "category_id": {}, "iscrowd": 0, "segmentation": [[{}]]}}"#,
                1 + k % 5,
                polygon(&mut seed)
            ));
        }
    }
    let categories: Vec<String> = (1..=5)
        .map(|c| format!(r#"{{"id": {c}, "name": "class{c}"}}"#))
        .collect();
    let json = format!(
        r#"{{"images": [{}], "annotations": [{}], "categories": [{}]}}"#,
        images.join(","),
        annotations.join(","),
        categories.join(",")
    );
    std::fs::write(dir.join("instances_train.json"), json).unwrap();
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = std::env::temp_dir().join(format!("fcn-convert-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    generate(&root.join("coco"));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let opened = Instant::now();
    let split = data::open(&root.join("coco"), "train", &ReadOptions::default()).unwrap();
    let read_s = opened.elapsed().as_secs_f64();
    let started = Instant::now();
    let summary = pool
        .install(|| export::write_voc(std::slice::from_ref(&split), &root.join("voc"), &|_, _| {}))
        .unwrap();
    let s = started.elapsed().as_secs_f64();
    let n = summary.splits[0].1;
    println!(
        "convert/coco_{IMAGES}_images_{}_polygons: read the JSON in {read_s:.2} s; wrote {n} images in {s:.1} s on one core: {:.0} images/s",
        IMAGES * POLYGONS_PER_IMAGE,
        n as f64 / s
    );
    let _ = std::fs::remove_dir_all(&root);
}
