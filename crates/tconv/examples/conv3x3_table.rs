//! Times 3×3 convolutions of stride 1 (forward and input gradient) by Winograd and
//! by im2col + gemm on the shapes of ResNet's stages, one line per shape with the
//! speed-up; the table behind the automatic choice.
//!
//! Run: `cargo run --release -p tconv --example conv3x3_table [-- --threads N]`

mod common;

use common::random;
use ndarray::Array4;
use tconv::{Conv2dParams, Conv3x3Path, conv2d, conv2d_backward, set_conv3x3_path};

/// (forward, input gradient) milliseconds on `path`.
fn time(
    path: Conv3x3Path,
    (x, w, gy): (&Array4<f32>, &Array4<f32>, &Array4<f32>),
    p: &Conv2dParams,
) -> (f64, f64) {
    set_conv3x3_path(path);
    let fwd = common::median_ms(1.5, 30, || {
        std::hint::black_box(conv2d(x.view(), w.view(), None, p).unwrap());
    });
    // The backward pass computes both gradients; only the input's path changes.
    let bwd = common::median_ms(1.5, 30, || {
        std::hint::black_box(conv2d_backward(x.view(), w.view(), gy.view(), false, p).unwrap());
    });
    (fwd, bwd)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        let n = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(2);
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .unwrap();
    }
    println!(
        "{:<22} {:>9} {:>9} {:>6} {:>9} {:>6} {:>9} {:>9} {:>6}",
        "shape (N,C,H,W)→M", "fwd gemm", "fwd F4", "×", "fwd F2", "×", "bwd gemm", "bwd F4", "×"
    );
    // (N, C, H, W, M, dilation): ResNet-18's stages at the demo's width and at 64,
    // for one image and eight; ResNet-50's dilated layer3 and layer4 at 520×520.
    let shapes = [
        (1, 8, 64, 96, 8, 1),
        (8, 8, 64, 96, 8, 1),
        (8, 16, 32, 48, 16, 1),
        (8, 32, 16, 24, 32, 1),
        (8, 64, 8, 12, 64, 1),
        (1, 16, 80, 120, 16, 1),
        (1, 32, 40, 60, 32, 1),
        (1, 64, 80, 120, 64, 1),
        (8, 64, 56, 56, 64, 1),
        (1, 128, 40, 60, 128, 1),
        (1, 256, 20, 30, 256, 1),
        (1, 512, 10, 15, 512, 1),
        (8, 128, 40, 60, 128, 1),
        (8, 256, 20, 30, 256, 1),
        (8, 512, 10, 15, 512, 1),
        (1, 256, 65, 65, 256, 2),
        (1, 512, 65, 65, 512, 4),
    ];
    for (n, c, h, w, m, d) in shapes {
        let p = Conv2dParams {
            padding: [d, d],
            dilation: [d, d],
            ..Default::default()
        };
        let (x, wt, gy) = (
            random((n, c, h, w), 1),
            random((m, c, 3, 3), 2),
            random((n, m, h, w), 3),
        );
        let arrays = (&x, &wt, &gy);
        let (fg, bg) = time(Conv3x3Path::Gemm, arrays, &p);
        let (fw, bw) = time(Conv3x3Path::F4, arrays, &p);
        let (f2, _) = time(Conv3x3Path::F2, arrays, &p);
        println!(
            "{:<22} {fg:>9.3} {fw:>9.3} {:>6.2} {f2:>9.3} {:>6.2} {bg:>9.3} {bw:>9.3} {:>6.2}",
            format!(
                "({n},{c},{h},{w})→{m}{}",
                if d > 1 {
                    format!(" d{d}")
                } else {
                    String::new()
                }
            ),
            fg / fw,
            fg / f2,
            bg / bw
        );
    }
}
