//! Step 4: the connection to matrix transposition. A convolution is `W · vec(X)` for
//! a sparse matrix `W` built from the kernel; the transposed convolution is
//! `Wᵀ · vec(Y)`. That gives back a 3×3 matrix, but not X: `Wᵀ` is not an inverse.
//!
//! Run: `cargo run --release -p tconv --example conv_matrix`

use ndarray::{Array1, Array2, array};
use tconv::matrix::{conv2d_matrix, corr2d};
use tconv::{Conv2dParams, ConvTranspose2dParams, conv_transpose2d};

pub struct MatrixView {
    pub x: Array2<f32>,
    pub w: Array2<f32>,
    /// `corr2d(X, K)`.
    pub y: Array2<f32>,
    /// `W · vec(X)`, reshaped to 2×2.
    pub wx: Array2<f32>,
    /// The transposed convolution of `y` by K.
    pub z: Array2<f32>,
    /// `Wᵀ · vec(y)`, reshaped to 3×3.
    pub wty: Array2<f32>,
}

pub fn compute() -> MatrixView {
    let x = array![[0.0f32, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]];
    let k = array![[1.0f32, 2.0], [3.0, 4.0]];
    let y = corr2d(x.view(), k.view());
    let k4 = k.clone().into_shape_with_order((1, 1, 2, 2)).unwrap();
    let w = conv2d_matrix([1, 3, 3], k4.view(), &Conv2dParams::default()).unwrap();
    let vec_x: Array1<f32> = x.iter().copied().collect();
    let wx = w.dot(&vec_x).into_shape_with_order((2, 2)).unwrap();
    let y4 = y.clone().into_shape_with_order((1, 1, 2, 2)).unwrap();
    let z = conv_transpose2d(
        y4.view(),
        k4.view(),
        None,
        &ConvTranspose2dParams::default(),
    )
    .unwrap()
    .into_shape_with_order((3, 3))
    .unwrap();
    let vec_y: Array1<f32> = y.iter().copied().collect();
    let wty = w.t().dot(&vec_y).into_shape_with_order((3, 3)).unwrap();
    MatrixView {
        x,
        w,
        y,
        wx,
        z,
        wty,
    }
}

pub fn main() {
    let m = compute();
    println!("== Step 4: convolution as a matrix ==");
    println!("X =\n{}", m.x);
    println!("W (4×9) =\n{}", m.w);
    println!("corr2d(X, K) =\n{}\nW · vec(X) =\n{}", m.y, m.wx);
    println!(
        "conv_transpose2d(Y, K) =\n{}\nWᵀ · vec(Y) =\n{}",
        m.z, m.wty
    );
    println!("equal to X? {}", m.wty == m.x);
}
