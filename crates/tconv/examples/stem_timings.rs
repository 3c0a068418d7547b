//! Times ResNet's stem (3 → 64 channels, 7×7, stride 2, padding 3) forward and its
//! weight gradient at the benchmark's and the demo's sizes, medians of repeated
//! runs, to compare builds or `FCN_SIMD` paths.
//!
//! Run: `cargo run --release -p tconv --example stem_timings`

use std::time::Instant;

use ndarray::Array4;
use tconv::Conv2dParams;

fn median_ms(mut run: impl FnMut()) -> f64 {
    run();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (times.len() < 50 && start.elapsed().as_secs_f64() < 2.0) {
        let t = Instant::now();
        run();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn filled(dim: (usize, usize, usize, usize), seed: u32) -> Array4<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    Array4::from_shape_fn(dim, |_| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as f32 / u32::MAX as f32 - 0.5
    })
}

fn main() {
    let p = Conv2dParams {
        stride: [2, 2],
        padding: [3, 3],
        dilation: [1, 1],
        groups: 1,
    };
    let w = filled((64, 3, 7, 7), 1);
    for (name, dim) in [
        ("b1_320x480", (1, 3, 320, 480)),
        ("b8_320x480", (8, 3, 320, 480)),
        ("b4_128x192 (demo)", (4, 3, 128, 192)),
    ] {
        let x = filled(dim, 2);
        let y = tconv::conv2d(x.view(), w.view(), None, &p).unwrap();
        let gy = filled(y.dim(), 3);
        let forward = median_ms(|| {
            std::hint::black_box(tconv::conv2d(x.view(), w.view(), None, &p).unwrap());
        });
        let weight_grad = median_ms(|| {
            let g = tconv::grads::conv2d_weight_grad(x.view(), w.dim(), gy.view(), &p);
            std::hint::black_box(g.unwrap());
        });
        println!("{name:<18} forward {forward:>8.3} ms   weight gradient {weight_grad:>8.3} ms");
    }
}
