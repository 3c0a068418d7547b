//! Times the three products of every distinct convolution in a ResNet-18 of a given
//! width (the forward pass, the input gradient and the weight gradient), at the
//! demo's batch and image size by default, to show where a training step goes.
//!
//! Run: `cargo run --release -p tconv --example layer_timings [-- WIDTH BATCH HxW
//! OUTPUT_STRIDE]`. Output stride 16 or 8 dilates layer4, or layer3 and layer4, as
//! torchvision does; the demo's network is `-- 8 4 128x192 8`.

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

/// One distinct convolution of the network and how often it occurs.
struct Layer {
    name: String,
    channels: (usize, usize),
    kernel: usize,
    stride: usize,
    dilation: usize,
    /// The input's side is the image's divided by this.
    divisor: usize,
    count: usize,
}

/// ResNet-18's convolutions at `width`. A stage past `output_stride` keeps its
/// input's size and dilates instead of striding; its first 3×3 keeps the previous
/// dilation, as torchvision's `replace_stride_with_dilation` does.
fn layers(width: usize, output_stride: usize) -> Vec<Layer> {
    let layer = |name: String, (ci, co), kernel, stride, dilation, divisor, count| Layer {
        name,
        channels: (ci, co),
        kernel,
        stride,
        dilation,
        divisor,
        count,
    };
    let mut out = vec![
        layer("stem 7x7/2".into(), (3, width), 7, 2, 1, 1, 1),
        layer("layer1 3x3".into(), (width, width), 3, 1, 1, 4, 4),
    ];
    let (mut divisor, mut dilation) = (4, 1);
    for (i, stage) in ["layer2", "layer3", "layer4"].into_iter().enumerate() {
        let (ci, co) = (width << i, width << (i + 1));
        let dilate = divisor * 2 > output_stride;
        let stride = if dilate { 1 } else { 2 };
        let first = format!("{stage} 3x3/{stride}");
        out.push(layer(first, (ci, co), 3, stride, dilation, divisor, 1));
        out.push(layer(
            format!("{stage} 1x1/{stride}"),
            (ci, co),
            1,
            stride,
            1,
            divisor,
            1,
        ));
        if dilate {
            dilation *= 2;
        } else {
            divisor *= 2;
        }
        let rest = format!("{stage} 3x3 d{dilation}");
        out.push(layer(rest, (co, co), 3, 1, dilation, divisor, 3));
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let width: usize = args.first().map_or(8, |a| a.parse().expect("WIDTH"));
    let batch: usize = args.get(1).map_or(8, |a| a.parse().expect("BATCH"));
    let (h, w) = args.get(2).map_or((256, 384), |a| {
        let (h, w) = a.split_once('x').expect("HxW");
        (h.parse().expect("H"), w.parse().expect("W"))
    });
    let output_stride: usize = args
        .get(3)
        .map_or(32, |a| a.parse().expect("OUTPUT_STRIDE"));
    assert!(
        [8, 16, 32].contains(&output_stride),
        "output stride 32, 16 or 8"
    );
    println!(
        "{:<16} {:>5} {:>9} {:>9} {:>9}   (ms, median of 5; x count)",
        "layer", "count", "forward", "grad in", "grad w"
    );
    let mut total = [0.0f64; 3];
    for l in layers(width, output_stride) {
        let ((ci, co), k, div) = (l.channels, l.kernel, l.divisor);
        let x = filled((batch, ci, h / div, w / div), 0.37);
        let wt = filled((co, ci, k, k), 0.91);
        let p = Conv2dParams {
            stride: [l.stride; 2],
            padding: [l.dilation * (k / 2); 2],
            dilation: [l.dilation; 2],
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
            *t += v * l.count as f64;
        }
        println!(
            "{:<16} {:>5} {:>9.2} {:>9.2} {:>9.2}",
            l.name, l.count, times[0], times[1], times[2]
        );
    }
    println!(
        "{:<16} {:>5} {:>9.2} {:>9.2} {:>9.2}   (the stem's input gradient is never needed)",
        "total", "", total[0], total[1], total[2]
    );
}
