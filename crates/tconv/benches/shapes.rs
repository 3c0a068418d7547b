//! The shapes that matter to the FCN, shared by the criterion benches and the
//! `kernel_timings` example (and mirrored in `scripts/bench_pytorch.py`).

use ndarray::Array4;
use tconv::{Conv2dParams, ConvTranspose2dParams};

pub enum Op {
    Conv(Conv2dParams),
    Transpose(ConvTranspose2dParams),
}

pub struct Shape {
    pub name: &'static str,
    pub input: (usize, usize, usize, usize),
    pub out_channels: usize,
    pub kernel: usize,
    pub op: Op,
}

fn conv(stride: usize, padding: usize) -> Op {
    Op::Conv(Conv2dParams {
        stride: [stride; 2],
        padding: [padding; 2],
        ..Default::default()
    })
}

fn transpose(stride: usize, padding: usize) -> Op {
    Op::Transpose(ConvTranspose2dParams {
        stride: [stride; 2],
        padding: [padding; 2],
        ..Default::default()
    })
}

pub fn shapes() -> Vec<Shape> {
    let s = |name, input, out_channels, kernel, op| Shape {
        name,
        input,
        out_channels,
        kernel,
        op,
    };
    vec![
        s("convT_fcn_head", (1, 21, 10, 15), 21, 64, transpose(32, 16)),
        s(
            "convT_fcn_head_b4_512",
            (4, 512, 10, 15),
            21,
            64,
            transpose(32, 16),
        ),
        s("convT_decoder", (8, 256, 32, 32), 128, 4, transpose(2, 1)),
        s("convT_small", (1, 20, 6, 6), 10, 5, transpose(3, 2)),
        s("conv3x3_80x120", (1, 64, 80, 120), 64, 3, conv(1, 1)),
        s("conv3x3_b8_56", (8, 64, 56, 56), 64, 3, conv(1, 1)),
        s("conv7x7_stem", (1, 3, 320, 480), 64, 7, conv(2, 3)),
    ]
}

fn filled(dim: (usize, usize, usize, usize)) -> Array4<f32> {
    let mut i = 0u32;
    Array4::from_shape_fn(dim, |_| {
        i = i.wrapping_add(1);
        (i as f32 * 0.618_034).fract() - 0.5
    })
}

impl Shape {
    pub fn input(&self) -> Array4<f32> {
        filled(self.input)
    }

    pub fn weight(&self) -> Array4<f32> {
        let c = self.input.1;
        let k = self.kernel;
        match self.op {
            Op::Conv(_) => filled((self.out_channels, c, k, k)),
            Op::Transpose(_) => filled((c, self.out_channels, k, k)),
        }
    }

    /// Runs the forward pass once and returns the output.
    pub fn forward(&self, x: &Array4<f32>, w: &Array4<f32>) -> Array4<f32> {
        match &self.op {
            Op::Conv(p) => tconv::conv2d(x.view(), w.view(), None, p).unwrap(),
            Op::Transpose(p) => tconv::conv_transpose2d(x.view(), w.view(), None, p).unwrap(),
        }
    }

    /// Runs the backward pass (input, weight and bias gradients) once.
    pub fn backward(&self, x: &Array4<f32>, w: &Array4<f32>, gy: &Array4<f32>) -> tconv::ConvGrads {
        match &self.op {
            Op::Conv(p) => tconv::conv2d_backward(x.view(), w.view(), gy.view(), true, p).unwrap(),
            Op::Transpose(p) => {
                tconv::conv_transpose2d_backward(x.view(), w.view(), gy.view(), true, p).unwrap()
            }
        }
    }

    /// Multiply-adds of the forward pass, counted as 2 FLOPs each.
    pub fn flops(&self, out: (usize, usize, usize, usize)) -> f64 {
        let (n, c, h, w) = self.input;
        let k2 = (self.kernel * self.kernel) as f64;
        match self.op {
            Op::Conv(_) => 2.0 * (out.0 * out.1 * out.2 * out.3) as f64 * c as f64 * k2,
            Op::Transpose(_) => 2.0 * (n * c * h * w) as f64 * self.out_channels as f64 * k2,
        }
    }
}
