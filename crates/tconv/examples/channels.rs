//! Step 3: many channels. A convolution 10→20 (kernel 5, padding 2, stride 3)
//! shrinks a 16×16 input to 6×6; the transposed convolution 20→10 with the same
//! kernel size, padding and stride brings the shape back.
//!
//! Run: `cargo run --release -p tconv --example channels`

use ndarray::Array4;
use tconv::{Conv2dParams, ConvTranspose2dParams, conv_transpose2d, conv2d};

pub struct Shapes {
    pub input: (usize, usize, usize, usize),
    pub down: (usize, usize, usize, usize),
    pub up: (usize, usize, usize, usize),
}

/// Deterministic stand-in for `torch.rand`: the shapes, not the values, matter here.
fn filled(dim: (usize, usize, usize, usize)) -> Array4<f32> {
    let mut i = 0u32;
    Array4::from_shape_fn(dim, |_| {
        i += 1;
        (i as f32 * 0.618).fract()
    })
}

pub fn compute() -> Shapes {
    let x = filled((1, 10, 16, 16));
    let conv_w = filled((20, 10, 5, 5));
    let tconv_w = filled((20, 10, 5, 5));
    let conv_p = Conv2dParams {
        stride: [3, 3],
        padding: [2, 2],
        ..Default::default()
    };
    let tconv_p = ConvTranspose2dParams {
        stride: [3, 3],
        padding: [2, 2],
        ..Default::default()
    };
    let y = conv2d(x.view(), conv_w.view(), None, &conv_p).unwrap();
    let back = conv_transpose2d(y.view(), tconv_w.view(), None, &tconv_p).unwrap();
    Shapes {
        input: x.dim(),
        down: y.dim(),
        up: back.dim(),
    }
}

pub fn main() {
    let s = compute();
    println!("== Step 3: channels; the transposed convolution restores the shape ==");
    println!("X: {:?}", s.input);
    println!("conv2d(X) 10→20, k5 p2 s3: {:?}", s.down);
    println!("conv_transpose2d(conv2d(X)) 20→10, k5 p2 s3: {:?}", s.up);
}
