//! Augmentation and normalisation, deterministic given a seed: a random rescaling and
//! a random crop applied identically to image and mask, an optional horizontal flip, ImageNet-style
//! normalisation into a `[3, H, W]` buffer.

use image::RgbImage;
use image::imageops::FilterType;
use ndarray::{Array2, s};

use super::Sample;
use super::colormap::IGNORE;

/// A small seeded generator (SplitMix64): the same seed gives the same crops and
/// flips on every machine and with any number of loader threads.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator for one item of one epoch, independent of the order items load in.
    pub fn for_item(seed: u64, epoch: u64, index: usize) -> Self {
        let mut r = Self(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.0 ^= r.next_u64() ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// The `h × w` window at `(top, left)` of image and mask.
pub fn crop(sample: &Sample, top: usize, left: usize, h: usize, w: usize) -> Sample {
    let image =
        image::imageops::crop_imm(&sample.image, left as u32, top as u32, w as u32, h as u32)
            .to_image();
    let mask = sample
        .mask
        .slice(s![top..top + h, left..left + w])
        .to_owned();
    Sample {
        name: sample.name.clone(),
        image,
        mask,
    }
}

/// A random `h × w` crop; the sample must be at least that large.
pub fn random_crop(sample: &Sample, h: usize, w: usize, rng: &mut Rng) -> Sample {
    let (mh, mw) = sample.mask.dim();
    let top = rng.below(mh - h + 1);
    let left = rng.below(mw - w + 1);
    crop(sample, top, left, h, w)
}

/// Pads the bottom and right up to `h × w`: the image with `fill`, the mask with the
/// ignore label, so padding never counts in the loss.
pub fn pad_to(sample: &Sample, h: usize, w: usize, fill: [u8; 3]) -> Sample {
    let (mh, mw) = sample.mask.dim();
    let (nh, nw) = (mh.max(h), mw.max(w));
    let mut image = RgbImage::from_pixel(nw as u32, nh as u32, image::Rgb(fill));
    image::imageops::replace(&mut image, &sample.image, 0, 0);
    let mut mask = Array2::from_elem((nh, nw), IGNORE);
    mask.slice_mut(s![..mh, ..mw]).assign(&sample.mask);
    Sample {
        name: sample.name.clone(),
        image,
        mask,
    }
}

/// Image and mask scaled by `factor` (sides rounded, at least 1 pixel): the image
/// bilinearly, the mask by nearest neighbour so every label stays one that was there
/// (both with `image`'s resizer).
pub fn rescale(sample: &Sample, factor: f64) -> Sample {
    let (h, w) = sample.mask.dim();
    let side = |n: usize| ((n as f64 * factor).round() as u32).max(1);
    let (nw, nh) = (side(w), side(h));
    let image = image::imageops::resize(&sample.image, nw, nh, FilterType::Triangle);
    let labels = image::GrayImage::from_fn(w as u32, h as u32, |x, y| {
        image::Luma([sample.mask[[y as usize, x as usize]]])
    });
    let labels = image::imageops::resize(&labels, nw, nh, FilterType::Nearest);
    let mask = Array2::from_shape_vec((nh as usize, nw as usize), labels.into_raw())
        .expect("a resized mask has the size asked for");
    Sample {
        name: sample.name.clone(),
        image,
        mask,
    }
}

/// Mirrors image and mask left to right.
pub fn hflip(sample: &Sample) -> Sample {
    Sample {
        name: sample.name.clone(),
        image: image::imageops::flip_horizontal(&sample.image),
        mask: sample.mask.slice(s![.., ..;-1]).to_owned(),
    }
}

/// `[3, H, W]` values `(pixel / 255 − mean) / std`, channel-major.
pub fn normalize(image: &RgbImage, mean: [f32; 3], std: [f32; 3]) -> Vec<f32> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut out = vec![0.0f32; 3 * h * w];
    let (r, rest) = out.split_at_mut(h * w);
    let (g, b) = rest.split_at_mut(h * w);
    let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * std[c]));
    let shift: [f32; 3] = std::array::from_fn(|c| mean[c] / std[c]);
    for (i, p) in image.as_raw().chunks_exact(3).enumerate() {
        r[i] = p[0] as f32 * scale[0] - shift[0];
        g[i] = p[1] as f32 * scale[1] - shift[1];
        b[i] = p[2] as f32 * scale[2] - shift[2];
    }
    out
}

/// The colour that normalises to zero (the mean), for padding images.
pub fn mean_color(mean: [f32; 3]) -> [u8; 3] {
    std::array::from_fn(|c| (mean[c] * 255.0).round().clamp(0.0, 255.0) as u8)
}
