//! Convolution as an explicit matrix.
//!
//! For one input `x` of shape `[C, H, W]`, a convolution is linear, so there is a
//! matrix `W` with `vec(conv2d(x)) = W · vec(x)` (`vec` flattens row-major). Row
//! `(c_out, y, x)` of `W` holds the kernel weights that output element reads, placed at
//! the input positions it reads them from. The transposed convolution with the same
//! weight and parameters is `Wᵀ`: every input element is sent back, times the same
//! weights, to the positions it was read from. That is all "transposed" means, and
//! [`conv_transpose2d_matrix`] is built exactly that way.

use ndarray::{Array2, ArrayView2, ArrayView4, s};

use crate::shape::Geometry;
use crate::{Conv2dParams, ConvError, ConvTranspose2dParams};

/// The textbook's single-channel cross-correlation (stride 1, no padding):
/// `Y[i, j] = Σ X[i + a, j + b] · K[a, b]`. A kernel larger than `x` gives an empty result.
pub fn corr2d(x: ArrayView2<f32>, k: ArrayView2<f32>) -> Array2<f32> {
    let (h, w) = x.dim();
    let (kh, kw) = k.dim();
    let oh = (h + 1).saturating_sub(kh);
    let ow = (w + 1).saturating_sub(kw);
    Array2::from_shape_fn((oh, ow), |(i, j)| {
        (&x.slice(s![i..i + kh, j..j + kw]) * &k).sum()
    })
}

/// The matrix `W` of [`crate::conv2d`] for one input of shape `input` = `[C, H, W]`:
/// `vec(conv2d(x, weight)) = W · vec(x)` (no bias). Its shape is
/// `(C_out · H_out · W_out, C · H · W)`.
pub fn conv2d_matrix(
    input: [usize; 3],
    weight: ArrayView4<f32>,
    p: &Conv2dParams,
) -> Result<Array2<f32>, ConvError> {
    let [c, h, w] = input;
    let geo = Geometry::conv2d((1, c, h, w), weight.dim(), None, p)?;
    tap_matrix(&geo, weight)
}

/// The matrix of [`crate::conv_transpose2d`] for one input of shape `input` =
/// `[C, H, W]`: `vec(conv_transpose2d(x, weight)) = M · vec(x)` (no bias). `M` is the
/// transpose of the convolution matrix that maps the transposed convolution's output
/// back to its input with the same weight, stride, padding, dilation and groups.
pub fn conv_transpose2d_matrix(
    input: [usize; 3],
    weight: ArrayView4<f32>,
    p: &ConvTranspose2dParams,
) -> Result<Array2<f32>, ConvError> {
    let [c, h, w] = input;
    let geo = Geometry::conv_transpose2d((1, c, h, w), weight.dim(), None, p)?;
    Ok(tap_matrix(&geo, weight)?.reversed_axes())
}

/// The convolution matrix of `geo`: rows index the column side, columns the image side.
fn tap_matrix(geo: &Geometry, weight: ArrayView4<f32>) -> Result<Array2<f32>, ConvError> {
    let rows = geo.col[0] * geo.col_plane();
    let cols = geo.img[0] * geo.img_plane();
    let elements = rows as u128 * cols as u128;
    crate::shape::check_elements("convolution matrix", elements)?;
    let [_, ih, iw] = geo.img;
    let [_, ch, cw] = geo.col;
    let mut m = Array2::zeros((rows, cols));
    geo.for_each_tap(|_, img_ch, (y, x), col_ch, (oy, ox), wi| {
        m[[(col_ch * ch + oy) * cw + ox, (img_ch * ih + y) * iw + x]] += weight[wi];
    });
    Ok(m)
}
