//! Times 3×3 convolutions of stride 1 the way inference runs them, with their
//! transformed filters kept from call to call (`conv2d_kept`), by each way: the
//! automatic choice, F(4×4, 3×3), F(2×2, 3×3) and im2col + gemm, alternated round by
//! round in one process so that a noisy machine's drifts fall on all alike. Prints
//! the median and the fastest of the rounds; the table behind the kept-filter rules
//! of the automatic choice.
//!
//! Run: `cargo run --release -p tconv --example conv3x3_kept [-- ROUNDS]` (default 10).

mod common;

use std::sync::Arc;

use common::random;
use tconv::{Conv2dParams, Conv3x3Path, WeightOwner, conv2d_kept, set_conv3x3_path};

/// (N, C, H, W) → output channels: ResNet-18's stages of 320×480 images, one and
/// eight, and a smaller image's layer3 and layer4.
const SHAPES: [((usize, usize, usize, usize), usize); 7] = [
    ((1, 128, 40, 60), 128),
    ((1, 256, 20, 30), 256),
    ((1, 512, 10, 15), 512),
    ((8, 512, 10, 15), 512),
    ((1, 128, 20, 30), 128),
    ((1, 256, 16, 24), 256),
    ((1, 512, 8, 12), 512),
];

const PATHS: [Conv3x3Path; 4] = [
    Conv3x3Path::Auto,
    Conv3x3Path::F4,
    Conv3x3Path::F2,
    Conv3x3Path::Gemm,
];

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .max(1);
    let p = Conv2dParams {
        stride: [1, 1],
        padding: [1, 1],
        dilation: [1, 1],
        groups: 1,
    };
    let data: Vec<_> = SHAPES
        .iter()
        .map(|&(x, m)| (random(x, 1), Arc::new(random((m, x.1, 3, 3), 2))))
        .collect();
    let mut times = vec![vec![Vec::new(); PATHS.len()]; SHAPES.len()];
    for _ in 0..rounds {
        for (k, &path) in PATHS.iter().enumerate() {
            set_conv3x3_path(path);
            for (i, (x, w)) in data.iter().enumerate() {
                let owner: WeightOwner = w.clone();
                let ms = common::median_ms(0.3, 20, || {
                    let y = conv2d_kept(x.view(), w.view(), None, &p, &owner).unwrap();
                    std::hint::black_box(y);
                });
                times[i][k].push(ms);
            }
        }
    }
    print!("{:<22}", "shape (N,C,H,W)→M");
    PATHS
        .iter()
        .for_each(|p| print!(" {:>16}", format!("{p:?} med/min")));
    println!();
    for (&(x, m), per_path) in SHAPES.iter().zip(&mut times) {
        print!("{:<22}", format!("{x:?}→{m}"));
        for t in per_path.iter_mut() {
            t.sort_by(f64::total_cmp);
            print!(" {:>16}", format!("{:.3}/{:.3}", t[t.len() / 2], t[0]));
        }
        println!();
    }
}
