//! Times ResNet's stem (3 → 64 channels, 7×7, stride 2, padding 3) forward and its
//! weight gradient at the benchmark's and the demo's sizes, and the demo's own stem
//! (width 8: 8 channels, at full and half resolution), medians of repeated runs, to
//! compare builds or `FCN_SIMD` paths.
//!
//! Run: `cargo run --release -p tconv --example stem_timings`

mod common;

use common::{median_ms, random};
use tconv::Conv2dParams;

fn main() {
    let p = Conv2dParams {
        stride: [2, 2],
        padding: [3, 3],
        dilation: [1, 1],
        groups: 1,
    };
    for (name, dim, channels) in [
        ("b1_320x480", (1, 3, 320, 480), 64),
        ("b8_320x480", (8, 3, 320, 480), 64),
        ("b4_128x192", (4, 3, 128, 192), 64),
        ("b4_128x192 w8", (4, 3, 128, 192), 8),
        ("b4_64x96 w8", (4, 3, 64, 96), 8),
    ] {
        let w = random((channels, 3, 7, 7), 1);
        let x = random(dim, 2);
        let y = tconv::conv2d(x.view(), w.view(), None, &p).unwrap();
        let gy = random(y.dim(), 3);
        let forward = median_ms(2.0, 50, || {
            std::hint::black_box(tconv::conv2d(x.view(), w.view(), None, &p).unwrap());
        });
        let weight_grad = median_ms(2.0, 50, || {
            let g = tconv::grads::conv2d_weight_grad(x.view(), w.dim(), gy.view(), &p);
            std::hint::black_box(g.unwrap());
        });
        println!("{name:<18} forward {forward:>8.3} ms   weight gradient {weight_grad:>8.3} ms");
    }
}
