//! `tconv`: 2-D convolution and transposed convolution on [`ndarray`] arrays, with
//! PyTorch's semantics and layouts (`torch.nn.functional.conv2d` / `conv_transpose2d`),
//! forward and backward.
//!
//! What it is: the textbook ideas made executable and fast. [`reference`](mod@reference) is the
//! scatter form and a direct loop for every case, [`matrix`] shows a convolution as an
//! explicit matrix `W` (so a transposed convolution is `Wᵀ`), [`bilinear_kernel`] is
//! the FCN's upsampling initialiser, and the public functions below run
//! multithreaded gemm-based kernels that are tested against the reference.
//!
//! [`kernels`] holds the slice kernels for the rest of a segmentation network (max
//! pooling, training BatchNorm, the fused cross-entropy) and the SIMD dispatch they
//! share.
//!
//! What it is not: a deep-learning framework. There are no tensors with autograd, no
//! devices and no layers; callers own their arrays and call these functions.
//!
//! Layouts: input `[N, C, H, W]`; conv2d weight `[C_out, C_in / groups, kH, kW]`;
//! conv_transpose2d weight `[C_in, C_out / groups, kH, kW]`; bias `[C_out]`.
//! No input makes these functions panic: bad parameters or shapes return a
//! [`ConvError`] naming the parameter and the rule it breaks.
//!
//! ```
//! use ndarray::Array4;
//! use tconv::{bilinear_kernel, conv_transpose2d, ConvTranspose2dParams};
//!
//! // The FCN's last layer: 21 class maps of 10×15 upsampled ×32 to 320×480.
//! let scores = Array4::<f32>::zeros((1, 21, 10, 15));
//! let weight = bilinear_kernel(21, 21, 64);
//! let p = ConvTranspose2dParams { stride: [32, 32], padding: [16, 16], ..Default::default() };
//! let up = conv_transpose2d(scores.view(), weight.view(), None, &p)?;
//! assert_eq!(up.dim(), (1, 21, 320, 480));
//! # Ok::<(), tconv::ConvError>(())
//! ```

mod bilinear;
mod error;
mod fast;
pub mod grads;
pub mod kernels;
pub mod matrix;
pub mod reference;
pub mod shape;

use ndarray::{Array1, Array4, ArrayView1, ArrayView4};

pub use bilinear::bilinear_kernel;
pub use error::ConvError;
pub use fast::{Conv3x3Path, conv3x3_path, set_conv3x3_path};
pub use shape::{conv_transpose2d_output_size, conv2d_output_size};

/// Parameters of a 2-D convolution, as `torch.nn.functional.conv2d` takes them.
/// Each pair is `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Default for Conv2dParams {
    /// Stride 1, padding 0, dilation 1, groups 1.
    fn default() -> Self {
        Self {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

/// Parameters of a 2-D transposed convolution, as
/// `torch.nn.functional.conv_transpose2d` takes them. Each pair is `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvTranspose2dParams {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub output_padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Default for ConvTranspose2dParams {
    /// Stride 1, padding 0, output padding 0, dilation 1, groups 1.
    fn default() -> Self {
        Self {
            stride: [1, 1],
            padding: [0, 0],
            output_padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

/// Gradients of a convolution with respect to its input, weight and (when it has
/// one) bias, for a given upstream gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvGrads {
    pub input: Array4<f32>,
    pub weight: Array4<f32>,
    pub bias: Option<Array1<f32>>,
}

/// 2-D convolution (cross-correlation, as in PyTorch). Picks the fastest correct
/// kernel: 3×3 convolutions of stride 1 go through Winograd's minimal filtering
/// where that is faster (many channels and a large enough map), which rounds about
/// as the direct sum does for F(2×2, 3×3) and to about 1e-5 of the output's scale for
/// F(4×4, 3×3). `FCN_CONV3X3` (or [`set_conv3x3_path`]) forces a way.
pub fn conv2d(
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &Conv2dParams,
) -> Result<Array4<f32>, ConvError> {
    let geo = shape::Geometry::conv2d(input.dim(), weight.dim(), bias.map(|b| b.len()), p)?;
    Ok(fast::conv2d(&geo, input, weight, bias, None))
}

/// What holds a weight's values and keeps them from changing while a second
/// reference to it exists: flex's copy-on-write tensor storage, or any `Arc` its
/// holders never mutate through.
pub type WeightOwner = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// [`conv2d`] for a weight that `owner` holds unchanged (inference with a fixed
/// model): what the kernels derive from the weight alone, Winograd's transformed
/// filters, is kept for the next call with the same owner and weight, and dropped
/// once nothing else holds the owner.
pub fn conv2d_kept(
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &Conv2dParams,
    owner: &WeightOwner,
) -> Result<Array4<f32>, ConvError> {
    let geo = shape::Geometry::conv2d(input.dim(), weight.dim(), bias.map(|b| b.len()), p)?;
    Ok(fast::conv2d(&geo, input, weight, bias, Some(owner)))
}

/// 2-D transposed convolution: every input element times the kernel, added into the
/// output (the adjoint of [`conv2d`] with the same parameters). Picks the fastest
/// correct kernel.
pub fn conv_transpose2d(
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &ConvTranspose2dParams,
) -> Result<Array4<f32>, ConvError> {
    let geo =
        shape::Geometry::conv_transpose2d(input.dim(), weight.dim(), bias.map(|b| b.len()), p)?;
    Ok(fast::conv_transpose2d(&geo, input, weight, bias))
}

/// Gradients of [`conv2d`] for the upstream gradient `grad_output` (shaped like its
/// output). `has_bias` asks for the bias gradient too. The input gradient of a 3×3
/// convolution of stride 1 may be computed by Winograd's minimal filtering, as
/// [`conv2d`] is.
pub fn conv2d_backward(
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    has_bias: bool,
    p: &Conv2dParams,
) -> Result<ConvGrads, ConvError> {
    let geo = shape::Geometry::conv2d(input.dim(), weight.dim(), None, p)?;
    geo.check_grad_output(grad_output.dim())?;
    Ok(fast::conv2d_backward(
        &geo,
        input,
        weight,
        grad_output,
        has_bias,
    ))
}

/// Gradients of [`conv_transpose2d`] for the upstream gradient `grad_output` (shaped
/// like its output). `has_bias` asks for the bias gradient too.
pub fn conv_transpose2d_backward(
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    has_bias: bool,
    p: &ConvTranspose2dParams,
) -> Result<ConvGrads, ConvError> {
    let geo = shape::Geometry::conv_transpose2d(input.dim(), weight.dim(), None, p)?;
    geo.check_grad_output(grad_output.dim())?;
    Ok(fast::conv_transpose2d_backward(
        &geo,
        input,
        weight,
        grad_output,
        has_bias,
    ))
}
