//! Test-time augmentation: the mean of the softmax over the image at several scales
//! and, optionally, mirrored. Each scale resizes the normalised image bilinearly
//! with `align_corners=False` (PyTorch's `F.interpolate`, the same op torchvision's
//! head uses), runs the network (tiled when large, as [`crate::infer::logits`]),
//! resizes the logits back, and takes their softmax.

use image::RgbImage;
use ndarray::{Array2, Array3, Array4, ArrayView4, Axis};

use crate::error::{FcnError, Result};
use crate::infer::{TileOptions, logits, softmax};
use crate::model::Fcn;
use crate::model::fcn::argmax_classes;
use crate::model::layers::{named, tensor};

/// Which augmentations to average.
#[derive(Debug, Clone, PartialEq)]
pub struct Tta {
    /// Also run the horizontally mirrored image (and mirror its logits back).
    pub flip: bool,
    /// Scale factors of the image's sides; `[1.0]` is the image as it is.
    pub scales: Vec<f32>,
}

impl Default for Tta {
    fn default() -> Self {
        Self {
            flip: false,
            scales: vec![1.0],
        }
    }
}

/// Scale factors accepted: from a tenth to four times the image's sides.
pub const SCALES: std::ops::RangeInclusive<f32> = 0.1..=4.0;

impl Tta {
    /// Whether this is plain inference (one pass at scale 1).
    pub fn is_identity(&self) -> bool {
        !self.flip && self.scales == [1.0]
    }

    pub fn validate(&self) -> Result<()> {
        if self.scales.is_empty() {
            return Err(FcnError::Input(
                "--tta-scales needs at least one scale".into(),
            ));
        }
        if let Some(s) = self.scales.iter().find(|s| !SCALES.contains(*s)) {
            return Err(FcnError::Input(format!(
                "--tta-scales {s}: each scale must be between {} and {}",
                SCALES.start(),
                SCALES.end()
            )));
        }
        Ok(())
    }
}

/// `x` `[N, C, h, w]` resized to `[N, C, height, width]` by the model's bilinear op.
fn resize(model: &Fcn, x: &Array4<f32>, size: [usize; 2]) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    if [h, w] == size {
        return x.clone();
    }
    let t = tensor(x.iter().copied().collect(), [n, c, h, w], &model.device);
    let out = named(&crate::ops::resize_bilinear(t, size, model.net.kernels()));
    Array4::from_shape_vec((n, c, size[0], size[1]), out.data).expect("the resized shape")
}

/// `x` mirrored left to right.
fn mirror(x: &Array4<f32>) -> Array4<f32> {
    let mut m = x.clone();
    m.invert_axis(Axis(3));
    m.as_standard_layout().to_owned()
}

/// The mean softmax `[N, K, H, W]` over the augmentations of a normalised batch.
pub fn probabilities_of(
    model: &Fcn,
    x: ArrayView4<f32>,
    opts: TileOptions,
    tta: &Tta,
) -> Result<Array4<f32>> {
    tta.validate()?;
    let (n, _, h, w) = x.dim();
    let x = x.to_owned();
    let mut sum = Array4::<f32>::zeros((n, model.num_classes(), h, w));
    let mut runs = 0.0f32;
    for &s in &tta.scales {
        let side = |len: usize| ((len as f32 * s).round() as usize).max(1);
        let scaled = resize(model, &x, [side(h), side(w)]);
        for flipped in [false, true].into_iter().take(1 + tta.flip as usize) {
            let input = if flipped {
                mirror(&scaled)
            } else {
                scaled.clone()
            };
            let mut l = logits(model, input.view(), opts)?;
            if flipped {
                l = mirror(&l);
            }
            sum += &softmax(&resize(model, &l, [h, w]));
            runs += 1.0;
        }
    }
    Ok(sum / runs)
}

/// The mean probabilities `[K, H, W]` of an RGB image over the augmentations.
pub fn probabilities(
    model: &Fcn,
    image: &RgbImage,
    opts: TileOptions,
    tta: &Tta,
) -> Result<Array3<f32>> {
    let p = probabilities_of(model, model.normalize(image).view(), opts, tta)?;
    Ok(p.index_axis_move(Axis(0), 0))
}

/// The class of every pixel: the argmax of the mean probabilities (plain
/// [`crate::infer::predict`] when `tta` is the identity).
pub fn predict(model: &Fcn, image: &RgbImage, opts: TileOptions, tta: &Tta) -> Result<Array2<u8>> {
    if tta.is_identity() {
        return crate::infer::predict(model, image, opts);
    }
    Ok(argmax_classes(&probabilities(model, image, opts, tta)?))
}
