//! Criterion benches of the FCN's convolution shapes, forward and backward.
//! Run: `cargo bench -p tconv` (add a shape name to filter).

use criterion::{Criterion, criterion_group, criterion_main};

#[allow(dead_code)]
mod shapes;

fn bench(c: &mut Criterion) {
    for shape in shapes::shapes() {
        let x = shape.input();
        let w = shape.weight();
        let y = shape.forward(&x, &w);
        let mut group = c.benchmark_group(shape.name);
        group.sample_size(10);
        group.bench_function("forward", |b| b.iter(|| shape.forward(&x, &w)));
        group.bench_function("backward", |b| b.iter(|| shape.backward(&x, &w, &y)));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
