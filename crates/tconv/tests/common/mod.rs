//! Random convolution cases shared by the property tests.

#![allow(dead_code)]

use ndarray::{Array1, Array4};
use proptest::prelude::*;
use tconv::{Conv2dParams, ConvTranspose2dParams};

/// Deterministic pseudo-random values in [-1, 1) from a seed (a small LCG: the
/// property tests need variety, not statistical quality).
pub fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

pub fn array4(seed: u64, dim: (usize, usize, usize, usize)) -> Array4<f32> {
    Array4::from_shape_vec(dim, values(seed, dim.0 * dim.1 * dim.2 * dim.3)).unwrap()
}

pub fn array1(seed: u64, n: usize) -> Array1<f32> {
    Array1::from(values(seed, n))
}

/// One random, usually valid, case of either operation.
#[derive(Debug, Clone)]
pub struct Case {
    pub batch: usize,
    pub groups: usize,
    pub in_per_group: usize,
    pub out_per_group: usize,
    pub size: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub output_padding: [usize; 2],
    pub bias: bool,
    pub seed: u64,
}

impl Case {
    pub fn in_channels(&self) -> usize {
        self.groups * self.in_per_group
    }

    pub fn out_channels(&self) -> usize {
        self.groups * self.out_per_group
    }

    pub fn conv_params(&self) -> Conv2dParams {
        Conv2dParams {
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    pub fn transpose_params(&self) -> ConvTranspose2dParams {
        ConvTranspose2dParams {
            stride: self.stride,
            padding: self.padding,
            output_padding: self.output_padding,
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    pub fn input(&self) -> Array4<f32> {
        array4(
            self.seed,
            (self.batch, self.in_channels(), self.size[0], self.size[1]),
        )
    }

    /// A conv2d weight `[C_out, C_in/g, kH, kW]`.
    pub fn conv_weight(&self) -> Array4<f32> {
        array4(
            self.seed + 1,
            (
                self.out_channels(),
                self.in_per_group,
                self.kernel[0],
                self.kernel[1],
            ),
        )
    }

    /// A conv_transpose2d weight `[C_in, C_out/g, kH, kW]`.
    pub fn transpose_weight(&self) -> Array4<f32> {
        array4(
            self.seed + 1,
            (
                self.in_channels(),
                self.out_per_group,
                self.kernel[0],
                self.kernel[1],
            ),
        )
    }

    pub fn bias(&self) -> Option<Array1<f32>> {
        self.bias
            .then(|| array1(self.seed + 2, self.out_channels()))
    }
}

fn pair(range: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = [usize; 2]> {
    (range.clone(), range).prop_map(|(a, b)| [a, b])
}

/// Small random cases with every parameter in play; padding and output padding are
/// drawn in the ranges PyTorch accepts (some still leave an empty output).
pub fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..=3, 1usize..=3, 1usize..=3, 1usize..=3),
        (pair(1..=9), pair(1..=5), pair(1..=4), pair(1..=3)),
        (any::<[u16; 4]>(), any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |((batch, groups, ipg, opg), (size, kernel, stride, dilation), (r, bias, seed))| {
                let pick = |r: u16, n: usize| r as usize % n;
                let padding = [
                    pick(r[0], (kernel[0] - 1) * dilation[0] + 1),
                    pick(r[1], (kernel[1] - 1) * dilation[1] + 1),
                ];
                let output_padding = [
                    pick(r[2], stride[0].max(dilation[0])),
                    pick(r[3], stride[1].max(dilation[1])),
                ];
                Case {
                    batch,
                    groups,
                    in_per_group: ipg,
                    out_per_group: opg,
                    size,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    output_padding,
                    bias,
                    seed,
                }
            },
        )
}

/// Max abs difference, and the scale `max(1, max |want|)` it is judged against.
pub fn error<D: ndarray::Dimension>(
    got: &ndarray::Array<f32, D>,
    want: &ndarray::Array<f32, D>,
) -> (f32, f32) {
    assert_eq!(got.shape(), want.shape());
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want.iter())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    (err, scale)
}

/// Cases the sub-pixel kernel takes: no groups or dilation, each kernel side a
/// multiple (1–3) of its stride, a stride across of 8 or more.
pub fn subpixel_case() -> impl Strategy<Value = Case> {
    (
        case(),
        pair(1..=3),
        (1usize..=4, 8usize..=10),
        any::<[u16; 4]>(),
    )
        .prop_map(|(c, m, s, r)| {
            let stride = [s.0, s.1];
            let kernel = [m[0] * stride[0], m[1] * stride[1]];
            let pick = |r: u16, n: usize| r as usize % n;
            Case {
                groups: 1,
                dilation: [1, 1],
                kernel,
                stride,
                padding: [pick(r[0], kernel[0]), pick(r[1], kernel[1])],
                output_padding: [pick(r[2], stride[0]), pick(r[3], stride[1])],
                ..c
            }
        })
}

/// One group, no dilation, 1–4 image channels, kernels of 25 taps or more, the same
/// stride 1 or 2 both ways, and rows up to 150 pixels: the shapes the direct
/// convolution takes (ResNet's stem is 3 channels, 7×7, stride 2, padding 3).
pub fn direct_case() -> impl Strategy<Value = Case> {
    (
        (1usize..=2, 1usize..=4, 1usize..=13),
        (5usize..=7, 5usize..=7, 1usize..=2),
        (8usize..=20, 8usize..=150),
        (any::<[u16; 2]>(), any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |((batch, ipg, opg), (kh, kw, s), (h, w), (r, bias, seed))| {
                let pick = |r: u16, n: usize| r as usize % n;
                Case {
                    batch,
                    groups: 1,
                    in_per_group: ipg,
                    out_per_group: opg,
                    size: [h, w],
                    kernel: [kh, kw],
                    stride: [s, s],
                    padding: [pick(r[0], kh), pick(r[1], kw)],
                    dilation: [1, 1],
                    output_padding: [0, 0],
                    bias,
                    seed,
                }
            },
        )
}
