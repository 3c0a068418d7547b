//! Step 5: the bilinear kernel. A transposed convolution with kernel 2f, stride f,
//! padding f/2 and this weight upsamples each channel by f with bilinear
//! interpolation; the FCN starts its last layer from it.
//!
//! Run: `cargo run --release -p tconv --example bilinear`

use ndarray::{Array4, array, s};
use tconv::{ConvTranspose2dParams, bilinear_kernel, conv_transpose2d};

pub struct Bilinear {
    pub kernel_4: Array4<f32>,
    pub image: Array4<f32>,
    pub upsampled: Array4<f32>,
}

pub fn compute() -> Bilinear {
    let kernel_4 = bilinear_kernel(1, 1, 4);
    let image = array![[1.0f32, 2.0], [3.0, 4.0]]
        .into_shape_with_order((1, 1, 2, 2))
        .unwrap();
    let upsampled = conv_transpose2d(
        image.view(),
        kernel_4.view(),
        None,
        &ConvTranspose2dParams {
            stride: [2, 2],
            padding: [1, 1],
            ..Default::default()
        },
    )
    .unwrap();
    Bilinear {
        kernel_4,
        image,
        upsampled,
    }
}

pub fn main() {
    let b = compute();
    println!("== Step 5: the bilinear kernel upsamples ==");
    println!(
        "bilinear_kernel(1, 1, 4) =\n{}",
        b.kernel_4.slice(s![0, 0, .., ..])
    );
    println!("image =\n{}", b.image.slice(s![0, 0, .., ..]));
    println!(
        "upsampled ×2 (k4 s2 p1) =\n{}",
        b.upsampled.slice(s![0, 0, .., ..])
    );
}
