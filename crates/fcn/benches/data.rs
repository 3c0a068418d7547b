//! Data pipeline speed on one core: decode a VOC-sized JPEG (500×375) and its palette
//! mask, random-crop 320×480, flip, normalise. Criterion's throughput line gives
//! images per second. Run: `cargo bench -p fcn --bench data`.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fcn::data::loader::{Augmentation, AugmentedSplit};
use fcn::data::{self, ReadOptions};

fn bench(c: &mut Criterion) {
    let voc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/voc_mini");
    let split = data::open(&voc, "train", &ReadOptions::default()).unwrap();
    let aug = Augmentation {
        crop: Some((320, 480)),
        pad_small: false,
        flip: true,
        scale: None,
        color_jitter: None,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        seed: 0,
    };
    let (ds, _) = AugmentedSplit::new(split, aug);
    let mut group = c.benchmark_group("data");
    group.throughput(Throughput::Elements(1));
    group.bench_function("voc_500x375_decode_crop_normalise", |b| {
        b.iter(|| ds.example(0, 0).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
