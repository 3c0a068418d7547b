//! One gradient at a time. [`crate::conv2d_backward`] returns every gradient; a
//! framework's autodiff asks only for those its graph needs (no input gradient for
//! the image entering the first layer, no weight gradient for a frozen layer), and
//! each one skipped is a whole product saved.

use ndarray::{Array1, Array4, ArrayView4};

use crate::fast;
use crate::shape::{Dim4, Geometry};
use crate::{Conv2dParams, ConvError, ConvTranspose2dParams};

/// Gradient of [`crate::conv2d`] with respect to its input of shape `input_shape`.
pub fn conv2d_input_grad(
    input_shape: Dim4,
    weight: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    p: &Conv2dParams,
) -> Result<Array4<f32>, ConvError> {
    let geo = Geometry::conv2d(input_shape, weight.dim(), None, p)?;
    geo.check_grad_output(grad_output.dim())?;
    Ok(fast::conv2d_input_grad(&geo, weight, grad_output))
}

/// Gradient of [`crate::conv2d`] with respect to its weight of shape `weight_shape`.
pub fn conv2d_weight_grad(
    input: ArrayView4<f32>,
    weight_shape: Dim4,
    grad_output: ArrayView4<f32>,
    p: &Conv2dParams,
) -> Result<Array4<f32>, ConvError> {
    let geo = Geometry::conv2d(input.dim(), weight_shape, None, p)?;
    geo.check_grad_output(grad_output.dim())?;
    Ok(fast::conv2d_weight_grad(&geo, input, grad_output))
}

/// Gradient of [`crate::conv_transpose2d`] with respect to its input of shape
/// `input_shape`.
pub fn conv_transpose2d_input_grad(
    input_shape: Dim4,
    weight: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    p: &ConvTranspose2dParams,
) -> Result<Array4<f32>, ConvError> {
    let geo = Geometry::conv_transpose2d(input_shape, weight.dim(), None, p)?;
    geo.check_grad_output(grad_output.dim())?;
    Ok(fast::conv_transpose2d_input_grad(&geo, weight, grad_output))
}

/// Gradient of [`crate::conv_transpose2d`] with respect to its weight of shape
/// `weight_shape`.
pub fn conv_transpose2d_weight_grad(
    input: ArrayView4<f32>,
    weight_shape: Dim4,
    grad_output: ArrayView4<f32>,
    p: &ConvTranspose2dParams,
) -> Result<Array4<f32>, ConvError> {
    let geo = Geometry::conv_transpose2d(input.dim(), weight_shape, None, p)?;
    geo.check_grad_output(grad_output.dim())?;
    Ok(fast::conv_transpose2d_weight_grad(&geo, input, grad_output))
}

/// Gradient of the bias of either convolution: `grad_output` summed over batch,
/// height and width, per channel.
pub fn bias_grad(grad_output: ArrayView4<f32>) -> Array1<f32> {
    fast::bias_grad(grad_output)
}
