//! Times the three products of every distinct convolution in a ResNet-18 of a given
//! width (the forward pass, the input gradient and the weight gradient), at the
//! demo's batch and image size by default, to show where a training step goes.
//!
//! Run: `cargo run --release -p tconv --example layer_timings [-- WIDTH BATCH HxW]`

use std::time::Instant;

use ndarray::Array4;
use tconv::{Conv2dParams, grads};

fn median_ms(mut run: impl FnMut()) -> f64 {
    run();
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

fn filled(dim: (usize, usize, usize, usize), k: f32) -> Array4<f32> {
    let mut i = 0.0f32;
    Array4::from_shape_fn(dim, |_| {
        i += 1.0;
        (i * k).sin()
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let width: usize = args.first().map_or(8, |a| a.parse().expect("WIDTH"));
    let batch: usize = args.get(1).map_or(8, |a| a.parse().expect("BATCH"));
    let (h, w) = args.get(2).map_or((256, 384), |a| {
        let (h, w) = a.split_once('x').expect("HxW");
        (h.parse().expect("H"), w.parse().expect("W"))
    });
    // (name, in channels, out channels, kernel, stride, input side divisor, count)
    let c = |m: usize| width * m;
    let layers = [
        ("stem 7x7/2", 3, c(1), 7, 2, 1, 1),
        ("layer1 3x3", c(1), c(1), 3, 1, 4, 4),
        ("layer2 3x3/2", c(1), c(2), 3, 2, 4, 1),
        ("layer2 1x1/2", c(1), c(2), 1, 2, 4, 1),
        ("layer2 3x3", c(2), c(2), 3, 1, 8, 3),
        ("layer3 3x3/2", c(2), c(4), 3, 2, 8, 1),
        ("layer3 1x1/2", c(2), c(4), 1, 2, 8, 1),
        ("layer3 3x3", c(4), c(4), 3, 1, 16, 3),
        ("layer4 3x3/2", c(4), c(8), 3, 2, 16, 1),
        ("layer4 1x1/2", c(4), c(8), 1, 2, 16, 1),
        ("layer4 3x3", c(8), c(8), 3, 1, 32, 3),
    ];
    println!(
        "{:<14} {:>5} {:>9} {:>9} {:>9}   (ms, median of 5; x count)",
        "layer", "count", "forward", "grad in", "grad w"
    );
    let mut total = [0.0f64; 3];
    for (name, ci, co, k, s, div, count) in layers {
        let x = filled((batch, ci, h / div, w / div), 0.37);
        let wt = filled((co, ci, k, k), 0.91);
        let p = Conv2dParams {
            stride: [s, s],
            padding: [k / 2, k / 2],
            dilation: [1, 1],
            groups: 1,
        };
        let y = tconv::conv2d(x.view(), wt.view(), None, &p).expect("valid layer");
        let g = filled(y.dim(), 0.53);
        let times = [
            median_ms(|| {
                std::hint::black_box(tconv::conv2d(x.view(), wt.view(), None, &p).unwrap());
            }),
            median_ms(|| {
                std::hint::black_box(
                    grads::conv2d_input_grad(x.dim(), wt.view(), g.view(), &p).unwrap(),
                );
            }),
            median_ms(|| {
                std::hint::black_box(
                    grads::conv2d_weight_grad(x.view(), wt.dim(), g.view(), &p).unwrap(),
                );
            }),
        ];
        for (t, v) in total.iter_mut().zip(times) {
            *t += v * count as f64;
        }
        println!(
            "{name:<14} {count:>5} {:>9.2} {:>9.2} {:>9.2}",
            times[0], times[1], times[2]
        );
    }
    println!(
        "{:<14} {:>5} {:>9.2} {:>9.2} {:>9.2}   (the stem's input gradient is never needed)",
        "total", "", total[0], total[1], total[2]
    );
}
