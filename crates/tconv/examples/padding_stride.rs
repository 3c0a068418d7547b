//! Step 2: padding and stride. In a transposed convolution, padding trims rows and
//! columns off the output; stride spreads the scattered kernels apart.
//!
//! Run: `cargo run --release -p tconv --example padding_stride`

use ndarray::{Array4, array};
use tconv::{ConvTranspose2dParams, conv_transpose2d};

pub struct PaddingStride {
    pub padded: Array4<f32>,
    pub strided: Array4<f32>,
}

pub fn compute() -> PaddingStride {
    let x = array![[0.0f32, 1.0], [2.0, 3.0]]
        .into_shape_with_order((1, 1, 2, 2))
        .unwrap();
    let k = x.clone();
    let padded = conv_transpose2d(
        x.view(),
        k.view(),
        None,
        &ConvTranspose2dParams {
            padding: [1, 1],
            ..Default::default()
        },
    )
    .unwrap();
    let strided = conv_transpose2d(
        x.view(),
        k.view(),
        None,
        &ConvTranspose2dParams {
            stride: [2, 2],
            ..Default::default()
        },
    )
    .unwrap();
    PaddingStride { padded, strided }
}

pub fn main() {
    let r = compute();
    println!("== Step 2: padding trims, stride spreads ==");
    println!("padding 1: {}", r.padded);
    println!("stride 2:\n{}", r.strided);
}
