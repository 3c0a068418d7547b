//! Inference of the benchmarked networks with Winograd allowed (the automatic choice)
//! and with im2col + gemm only, the two alternated run by run in one process so that
//! a noisy machine's drifts fall on both alike; prints the fastest and the median
//! run of each.
//!
//! Run: `cargo run --release -p fcn --example winograd_ab [-- RUNS]` (default 8 each).

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use fcn::model::Arch;
use fcn::{Fcn, FcnConfig};
use tconv::{Conv3x3Path, set_conv3x3_path};

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let device = Device::flex();
    let fcn8s = FcnConfig {
        arch: Arch::Fcn8s,
        ..FcnConfig::default()
    };
    let cases = [
        ("fcn_infer_b1", FcnConfig::default(), 1, (320, 480)),
        ("fcn_infer_b8", FcnConfig::default(), 8, (320, 480)),
        ("fcn8s_infer_b1", fcn8s, 1, (320, 480)),
        (
            "tv_fcn50_infer_b1",
            FcnConfig::torchvision(50),
            1,
            (520, 520),
        ),
    ];
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "case", "auto min", "auto med", "gemm min", "gemm med", "gemm/auto"
    );
    for (name, config, batch, (h, w)) in cases {
        let net = Fcn::new(&config, &device).net;
        let x = Tensor::<4>::random([batch, 3, h, w], Distribution::Default, &device);
        let mut times = [Vec::new(), Vec::new()];
        for run in 0..=runs {
            for (k, path) in [Conv3x3Path::Auto, Conv3x3Path::Gemm]
                .into_iter()
                .enumerate()
            {
                set_conv3x3_path(path);
                let t = Instant::now();
                drop(net.forward(x.clone()).into_data());
                // The first round warms both up.
                if run > 0 {
                    times[k].push(t.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        let [auto, gemm] = times.map(|mut t| {
            t.sort_by(f64::total_cmp);
            (t[0], t[t.len() / 2])
        });
        println!(
            "{name:<20} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>7.2}",
            auto.0,
            auto.1,
            gemm.0,
            gemm.1,
            gemm.1 / auto.1
        );
    }
}
