//! Step 1: the scatter form. Each input element multiplies the whole kernel and the
//! result is added into a larger output at that element's position.
//!
//! Run: `cargo run --release -p tconv --example scatter`

use ndarray::{Array2, Array4, array};
use tconv::{ConvTranspose2dParams, conv_transpose2d, reference::trans_conv};

pub struct Scatter {
    /// `trans_conv(X, K)`, the loop written out.
    pub by_hand: Array2<f32>,
    /// `conv_transpose2d` of the same X and K as 1×1×2×2 arrays.
    pub by_library: Array4<f32>,
}

pub fn compute() -> Scatter {
    let x = array![[0.0f32, 1.0], [2.0, 3.0]];
    let k = array![[0.0f32, 1.0], [2.0, 3.0]];
    let by_hand = trans_conv(x.view(), k.view());
    let x4 = x.into_shape_with_order((1, 1, 2, 2)).unwrap();
    let k4 = k.into_shape_with_order((1, 1, 2, 2)).unwrap();
    let by_library = conv_transpose2d(
        x4.view(),
        k4.view(),
        None,
        &ConvTranspose2dParams::default(),
    )
    .unwrap();
    Scatter {
        by_hand,
        by_library,
    }
}

pub fn main() {
    let s = compute();
    println!("== Step 1: transposed convolution by scattering ==");
    println!("X = K = [[0, 1], [2, 3]]");
    println!("trans_conv(X, K) =\n{}", s.by_hand);
    println!("conv_transpose2d(X, K) =\n{}", s.by_library);
}
