//! Fast CPU kernels. Each is tested against [`crate::reference`].
//!
//! Today: im2col + gemm for convolution and gemm + col2im for transposed convolution
//! (the same three products serve every forward and backward pass, see [`lowered`]),
//! with Winograd for 3×3 layers, the sub-pixel form for transposed convolutions
//! whose kernel is a multiple of the stride, and a direct form for the stem.

mod direct;
mod fill;
mod gemm;
mod grad_block;
mod lowered;
mod lowering;
mod scratch;
mod subpixel;
mod winograd;

pub use winograd::{Conv3x3Path, conv3x3_path, set_conv3x3_path};

use ndarray::{Array1, Array4, ArrayView1, ArrayView4};
use rayon::prelude::*;

use crate::ConvGrads;
use crate::shape::Geometry;

fn dense(a: &ArrayView4<f32>) -> Vec<f32> {
    a.as_standard_layout().iter().copied().collect()
}

fn contiguous<'a>(a: &'a ArrayView4<'a, f32>) -> std::borrow::Cow<'a, [f32]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(dense(a)),
    }
}

fn into_array(dim: (usize, usize, usize, usize), data: Vec<f32>) -> Array4<f32> {
    Array4::from_shape_vec(dim, data).expect("kernel output has the geometry's shape")
}

fn add_bias(out: &mut Array4<f32>, bias: Option<ArrayView1<f32>>) {
    let (Some(bias), plane) = (bias, out.dim().2 * out.dim().3) else {
        return;
    };
    let bias = bias.to_vec();
    let out = out.as_slice_mut().expect("kernel outputs are dense");
    fill::add_bias(out, &bias, plane);
}

/// Per-channel sums of `a` laid out `[batch, channels, plane]`, in parallel over
/// channels; each plane is summed in independent f32 lanes (a loop that
/// vectorises) and the lanes and planes in f64.
fn channel_sums(a: &[f32], batch: usize, channels: usize) -> Array1<f32> {
    let plane = a.len().checked_div(batch * channels).unwrap_or(0);
    let plane_sum = |p: &[f32]| crate::kernels::lanes::lane_sum(p, p, |v, _| v);
    (0..channels)
        .into_par_iter()
        .map(|ch| {
            let total: f64 = (0..batch)
                .map(|b| plane_sum(&a[(b * channels + ch) * plane..][..plane]))
                .sum();
            total as f32
        })
        .collect::<Vec<f32>>()
        .into()
}

fn img_dim(geo: &Geometry) -> (usize, usize, usize, usize) {
    (geo.batch, geo.img[0], geo.img[1], geo.img[2])
}

/// The weight's shape, `[col_channels, img_channels / groups, kH, kW]` both ways.
fn weight_dim(geo: &Geometry) -> (usize, usize, usize, usize) {
    (
        geo.col[0],
        geo.img_group_channels(),
        geo.kernel[0],
        geo.kernel[1],
    )
}

fn col_dim(geo: &Geometry) -> (usize, usize, usize, usize) {
    (geo.batch, geo.col[0], geo.col[1], geo.col[2])
}

/// A convolution's forward pass: the direct stem, Winograd where it pays (see
/// [`winograd::plan`]), else im2col + gemm.
pub(crate) fn conv2d(
    geo: &Geometry,
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    owner: Option<&crate::WeightOwner>,
) -> Array4<f32> {
    let (img, weight) = (contiguous(&input), contiguous(&weight));
    let out = if direct::applies(geo) {
        direct::forward(geo, &img, &weight)
    } else {
        let mut out = fill::zeros(geo.batch * geo.col[0] * geo.col_plane());
        let kept = owner.map(|o| (o, &weight[..]));
        let plan = winograd::Conv3x3::forward(geo).and_then(|p| winograd::plan(p, kept));
        let filters = owner.map_or(winograd::Filters::AsIs, winograd::Filters::Kept);
        match plan {
            Some(w) => winograd::conv(&w, &img, &weight, filters, &mut out),
            None => correlate(geo, &img, &weight, &mut out),
        }
        out
    };
    let mut out = into_array(col_dim(geo), out);
    add_bias(&mut out, bias);
    out
}

pub(crate) fn conv_transpose2d(
    geo: &Geometry,
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
) -> Array4<f32> {
    let mut out = fill::zeros(geo.batch * geo.img[0] * geo.img_plane());
    scatter(geo, &contiguous(&input), &contiguous(&weight), &mut out);
    let mut out = into_array(img_dim(geo), out);
    add_bias(&mut out, bias);
    out
}

pub(crate) fn conv2d_backward(
    geo: &Geometry,
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    has_bias: bool,
) -> ConvGrads {
    ConvGrads {
        input: conv2d_input_grad(geo, weight, grad_output),
        weight: conv2d_weight_grad(geo, input, grad_output),
        bias: has_bias.then(|| bias_grad(grad_output)),
    }
}

pub(crate) fn conv_transpose2d_backward(
    geo: &Geometry,
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    has_bias: bool,
) -> ConvGrads {
    ConvGrads {
        input: conv_transpose2d_input_grad(geo, weight, grad_output),
        weight: conv_transpose2d_weight_grad(geo, input, grad_output),
        bias: has_bias.then(|| bias_grad(grad_output)),
    }
}

/// `img += col2im(Wᵀ · col)`, by Winograd for the ×2 decoder layer where it pays
/// and by the sub-pixel form where it applies.
fn scatter(geo: &Geometry, col: &[f32], weight: &[f32], img: &mut [f32]) {
    if let Some(p) = winograd::upsample2::plan(geo) {
        winograd::upsample2::scatter(&p, col, weight, img);
    } else if subpixel::applies(geo) {
        subpixel::scatter(geo, col, weight, img);
    } else {
        lowered::scatter(geo, col, weight, img);
    }
}

/// `col = W · im2col(img)`, by the sub-pixel form or the direct one where they
/// apply.
fn correlate(geo: &Geometry, img: &[f32], weight: &[f32], col: &mut [f32]) {
    if direct::applies(geo) {
        direct::correlate(geo, img, weight, col);
    } else if subpixel::applies(geo) {
        subpixel::gather(geo, img, weight, col);
    } else {
        lowered::correlate(geo, img, weight, col);
    }
}

/// `gW = Σ col · im2col(img)ᵀ`, by the sub-pixel form where it applies.
fn weight_grad(geo: &Geometry, img: &[f32], col: &[f32]) -> Vec<f32> {
    if subpixel::applies(geo) {
        subpixel::weight_grad(geo, img, col)
    } else {
        lowered::weight_grad(geo, img, col)
    }
}

/// `grad_input` of a convolution (a transposed convolution of `grad_output`).
pub(crate) fn conv2d_input_grad(
    geo: &Geometry,
    weight: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
) -> Array4<f32> {
    let mut gx = fill::zeros(geo.batch * geo.img[0] * geo.img_plane());
    let (gy, weight) = (contiguous(&grad_output), contiguous(&weight));
    if let Some(w) = winograd::Conv3x3::input_grad(geo).and_then(|p| winograd::plan(p, None)) {
        winograd::conv(&w, &gy, &weight, winograd::Filters::Flipped, &mut gx);
    } else {
        scatter(geo, &gy, &weight, &mut gx);
    }
    into_array(img_dim(geo), gx)
}

pub(crate) fn conv2d_weight_grad(
    geo: &Geometry,
    input: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
) -> Array4<f32> {
    let gw = weight_grad(geo, &contiguous(&input), &contiguous(&grad_output));
    into_array(weight_dim(geo), gw)
}

/// `grad_input` of a transposed convolution (a convolution of `grad_output`).
pub(crate) fn conv_transpose2d_input_grad(
    geo: &Geometry,
    weight: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
) -> Array4<f32> {
    let mut gx = fill::zeros(geo.batch * geo.col[0] * geo.col_plane());
    correlate(
        geo,
        &contiguous(&grad_output),
        &contiguous(&weight),
        &mut gx,
    );
    into_array(col_dim(geo), gx)
}

pub(crate) fn conv_transpose2d_weight_grad(
    geo: &Geometry,
    input: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
) -> Array4<f32> {
    let gw = weight_grad(geo, &contiguous(&grad_output), &contiguous(&input));
    into_array(weight_dim(geo), gw)
}

/// The bias gradient of either convolution: `grad_output` summed per channel.
pub(crate) fn bias_grad(grad_output: ArrayView4<f32>) -> Array1<f32> {
    let (n, c, _, _) = grad_output.dim();
    channel_sums(&contiguous(&grad_output), n, c)
}
