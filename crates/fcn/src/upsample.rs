//! The textbook's bilinear upsampling by a transposed convolution: kernel `2F`,
//! stride `F`, padding `F/2`, the bilinear kernel, each channel on its own.

use image::{Rgb, RgbImage};
use ndarray::{Array4, ArrayView4, s};
use tconv::{ConvTranspose2dParams, bilinear_kernel, conv_transpose2d};

use crate::FcnError;

/// Upsamples every channel of `x` (`[N, C, H, W]`) by `factor`; the result is
/// `[N, C, F·H, F·W]` (for odd factors the transposed convolution gives one more row
/// and column, which is cropped).
pub fn upsample(x: ArrayView4<f32>, factor: usize) -> Result<Array4<f32>, FcnError> {
    if factor == 0 || factor > 64 {
        return Err(FcnError::Input(format!(
            "--factor {factor} must be between 1 and 64"
        )));
    }
    let (n, c, h, w) = x.dim();
    // Depthwise: one group per channel, each with the 1-channel bilinear kernel.
    let k = 2 * factor;
    let one = bilinear_kernel(1, 1, k);
    let weight = Array4::from_shape_fn((c, 1, k, k), |(_, _, a, b)| one[[0, 0, a, b]]);
    let p = ConvTranspose2dParams {
        stride: [factor, factor],
        padding: [factor / 2, factor / 2],
        groups: c.max(1),
        ..Default::default()
    };
    let y = conv_transpose2d(x, weight.view(), None, &p)?;
    Ok(y.slice(s![..n, .., ..h * factor, ..w * factor]).to_owned())
}

/// Upsamples an RGB image by `factor`.
pub fn upsample_image(image: &RgbImage, factor: usize) -> Result<RgbImage, FcnError> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let x = Array4::from_shape_fn((1, 3, h, w), |(_, c, y, x)| {
        image.get_pixel(x as u32, y as u32)[c] as f32
    });
    let y = upsample(x.view(), factor)?;
    let (_, _, oh, ow) = y.dim();
    Ok(RgbImage::from_fn(ow as u32, oh as u32, |x, yy| {
        Rgb(std::array::from_fn(|c| {
            y[[0, c, yy as usize, x as usize]].round().clamp(0.0, 255.0) as u8
        }))
    }))
}
