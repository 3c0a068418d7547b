//! How far each way of computing a 3×3 convolution lands from the exact (float64)
//! sum: im2col + gemm, F(2×2, 3×3) and F(4×4, 3×3), on ResNet layer1's shape for two
//! kinds of input: ReLU outputs, and values with a large mean and a small spread
//! (where a later BatchNorm would subtract the mean and divide by the spread, so the
//! error that counts is the one relative to the spread).
//!
//! Run: `cargo run --release -p tconv --example winograd_error`

mod common;

use common::random;
use ndarray::{Array4, Axis};
use tconv::{Conv2dParams, Conv3x3Path, conv2d, set_conv3x3_path};

/// The convolution summed in float64, by definition (stride 1, padding 1).
/// `tconv::reference::conv2d` sums in float64 too but rounds its result to float32,
/// an error as large as a fifth of the one measured here for im2col + gemm.
fn exact(x: &Array4<f32>, w: &Array4<f32>) -> Array4<f64> {
    let (n, c, h, wd) = x.dim();
    let m = w.dim().0;
    let at = |b, ci, y: isize, xx: isize| match (y, xx) {
        (y, xx) if y < 0 || xx < 0 || y >= h as isize || xx >= wd as isize => 0.0,
        (y, xx) => f64::from(x[[b, ci, y as usize, xx as usize]]),
    };
    Array4::from_shape_fn((n, m, h, wd), |(b, o, y, xx)| {
        let mut acc = 0.0;
        for ci in 0..c {
            for ky in 0..3 {
                for kx in 0..3 {
                    let v = at(b, ci, (y + ky) as isize - 1, (xx + kx) as isize - 1);
                    acc += v * f64::from(w[[o, ci, ky, kx]]);
                }
            }
        }
        acc
    })
}

/// Each output channel's standard deviation over batch and pixels.
fn channel_spreads(y: &Array4<f64>) -> Vec<f64> {
    y.axis_iter(Axis(1))
        .map(|plane| {
            let mean = plane.mean().unwrap_or(0.0);
            plane
                .mapv(|v| (v - mean) * (v - mean))
                .mean()
                .unwrap_or(0.0)
                .sqrt()
        })
        .collect()
}

/// (largest error / largest |output|, largest error / its channel's spread).
fn errors(got: &Array4<f32>, want: &Array4<f64>, spreads: &[f64]) -> (f64, f64) {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let (mut worst, mut worst_spread) = (0.0f64, 0.0f64);
    for ((b, o, y, x), v) in got.indexed_iter() {
        let e = (f64::from(*v) - want[[b, o, y, x]]).abs();
        worst = worst.max(e);
        worst_spread = worst_spread.max(e / spreads[o]);
    }
    (worst / scale, worst_spread)
}

fn main() {
    let (dim, out) = ((2, 64, 24, 40), 64);
    let weight = random((out, dim.1, 3, 3), 7).mapv(|v| v * 0.2);
    let inputs = [
        ("ReLU outputs", random(dim, 11).mapv(|v| v.max(0.0))),
        (
            "mean 5, spread 0.1",
            random(dim, 13).mapv(|v| 5.0 + 0.35 * v),
        ),
    ];
    let p = Conv2dParams {
        padding: [1, 1],
        ..Conv2dParams::default()
    };
    println!("| input | way | error / max abs | error / channel spread |");
    println!("| --- | --- | ---: | ---: |");
    for (name, x) in &inputs {
        let want = exact(x, &weight);
        let spreads = channel_spreads(&want);
        for (way, path) in [
            ("im2col + gemm", Conv3x3Path::Gemm),
            ("F(2×2, 3×3)", Conv3x3Path::F2),
            ("F(4×4, 3×3)", Conv3x3Path::F4),
        ] {
            set_conv3x3_path(path);
            let got = conv2d(x.view(), weight.view(), None, &p).expect("a valid shape");
            let (by_max, by_spread) = errors(&got, &want, &spreads);
            println!("| {name} | {way} | {by_max:.1e} | {by_spread:.1e} |");
        }
    }
}
