//! Data pipeline speed on one core: decode a VOC-sized JPEG (500×375) and its palette
//! mask, random-crop 320×480, flip, normalise. Criterion's throughput line gives
//! images per second. The `_uncached` pair reads the same image with its labels from
//! the VOC mask and from a COCO file (six polygons of 16 vertices), every time from
//! disk. Run: `cargo bench -p fcn --bench data`.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fcn::data::loader::{Augmentation, AugmentedSplit};
use fcn::data::{self, ReadOptions};

fn augmentation() -> Augmentation {
    Augmentation {
        crop: Some((320, 480)),
        pad_small: false,
        flip: true,
        scale: None,
        color_jitter: None,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        seed: 0,
    }
}

/// A COCO file in `dir` for the VOC fixture's first image, with six polygons.
fn coco_for(image: &Path, dir: &Path) -> std::path::PathBuf {
    let (w, h) = image::image_dimensions(image).unwrap();
    std::fs::create_dir_all(dir.join("train")).unwrap();
    let _ = std::fs::remove_file(dir.join("train/a.jpg"));
    std::fs::copy(image, dir.join("train/a.jpg")).unwrap();
    let polygons: Vec<String> = (0..6)
        .map(|k| {
            let (cx, cy, r) = (
                60.0 + 70.0 * k as f64,
                80.0 + 30.0 * k as f64,
                40.0 + 5.0 * k as f64,
            );
            let xy: Vec<String> = (0..16)
                .map(|i| {
                    let a = i as f64 / 16.0 * std::f64::consts::TAU;
                    let rr = r * (0.7 + 0.3 * ((i * 7 + k) % 5) as f64 / 4.0);
                    format!("{:.2},{:.2}", cx + rr * a.cos(), cy + rr * a.sin())
                })
                .collect();
            format!(
                r#"{{"id": {k}, "image_id": 1, "category_id": {}, "segmentation": [[{}]]}}"#,
                1 + k % 3,
                xy.join(",")
            )
        })
        .collect();
    let json = format!(
        r#"{{"images": [{{"id": 1, "file_name": "a.jpg", "height": {h}, "width": {w}}}],
            "categories": [{{"id": 1, "name": "a"}}, {{"id": 2, "name": "b"}}, {{"id": 3, "name": "c"}}],
            "annotations": [{}]}}"#,
        polygons.join(",")
    );
    std::fs::write(dir.join("instances_train.json"), json).unwrap();
    dir.to_path_buf()
}

fn bench(c: &mut Criterion) {
    let voc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/voc_mini");
    let split = data::open(&voc, "train", &ReadOptions::default()).unwrap();
    let uncached = ReadOptions {
        cache_bytes: 0,
        ..Default::default()
    };
    let coco = coco_for(
        &split.items[0].image,
        &std::env::temp_dir().join("fcn-bench-coco"),
    );
    let (ds, _) = AugmentedSplit::new(split, augmentation());
    let mut group = c.benchmark_group("data");
    group.throughput(Throughput::Elements(1));
    group.bench_function("voc_500x375_decode_crop_normalise", |b| {
        b.iter(|| ds.example(0, 0).unwrap())
    });
    for (name, dir) in [("voc", voc), ("coco", coco)] {
        let split = data::open(&dir, "train", &uncached).unwrap();
        let (ds, _) = AugmentedSplit::new(split, augmentation());
        group.bench_function(format!("{name}_500x375_uncached"), |b| {
            b.iter(|| ds.example(0, 0).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
