//! Photometric jitter as torchvision's `ColorJitter`: brightness, contrast,
//! saturation and hue factors drawn per image (brightness, contrast and saturation
//! from `[max(0, 1 − v), 1 + v]`, hue from `[−h, h]`), applied in a random order, on
//! RGB values in [0, 1]. Contrast blends with the mean grey level, saturation with
//! each pixel's grey (ITU-R 601 weights, as torchvision), hue turns the HSV hue.

use image::RgbImage;

use super::augment::Rng;

/// `--color-jitter B,C,S,H`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColorJitter {
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    /// At most 0.5 (half a turn of the hue circle).
    pub hue: f32,
}

fn grey([r, g, b]: [f32; 3]) -> f32 {
    0.2989 * r + 0.587 * g + 0.114 * b
}

fn blend(a: [f32; 3], b: [f32; 3], f: f32) -> [f32; 3] {
    std::array::from_fn(|c| (f * a[c] + (1.0 - f) * b[c]).clamp(0.0, 1.0))
}

/// The hue of `p` turned by `shift` (a fraction of a turn).
pub fn turn_hue(p: [f32; 3], shift: f32) -> [f32; 3] {
    let max = p[0].max(p[1]).max(p[2]);
    let min = p[0].min(p[1]).min(p[2]);
    let d = max - min;
    if d == 0.0 {
        return p;
    }
    let h = if max == p[0] {
        ((p[1] - p[2]) / d).rem_euclid(6.0)
    } else if max == p[1] {
        (p[2] - p[0]) / d + 2.0
    } else {
        (p[0] - p[1]) / d + 4.0
    } / 6.0;
    let h = (h + shift).rem_euclid(1.0) * 6.0;
    let (s, v) = (d / max, max);
    let i = h.floor();
    let f = h - i;
    let (a, b, c) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i as u32 % 6 {
        0 => [v, c, a],
        1 => [b, v, a],
        2 => [a, v, c],
        3 => [a, b, v],
        4 => [c, a, v],
        _ => [v, a, b],
    }
}

impl ColorJitter {
    pub fn validate(&self) -> Result<(), String> {
        let [b, c, s, h] = [self.brightness, self.contrast, self.saturation, self.hue];
        if [b, c, s, h].iter().any(|v| !(v.is_finite() && *v >= 0.0)) || h > 0.5 {
            return Err("--color-jitter B,C,S,H needs B, C, S ≥ 0 and 0 ≤ H ≤ 0.5".into());
        }
        Ok(())
    }

    /// `image` with factors drawn from `rng`, applied in a random order.
    pub fn apply(&self, image: &RgbImage, rng: &mut Rng) -> RgbImage {
        let around =
            |rng: &mut Rng, v: f32| rng.range((1.0 - v).max(0.0) as f64, 1.0 + v as f64) as f32;
        let factors = [
            around(rng, self.brightness),
            around(rng, self.contrast),
            around(rng, self.saturation),
            rng.range(-self.hue as f64, self.hue as f64) as f32,
        ];
        let mut order = [0usize, 1, 2, 3];
        rng.shuffle(&mut order);
        let mut px: Vec<[f32; 3]> = (image.pixels())
            .map(|p| p.0.map(|v| v as f32 / 255.0))
            .collect();
        for op in order {
            let f = factors[op];
            match op {
                0 => px.iter_mut().for_each(|p| *p = blend(*p, [0.0; 3], f)),
                1 => {
                    let mean = px.iter().map(|p| grey(*p)).sum::<f32>() / px.len().max(1) as f32;
                    px.iter_mut().for_each(|p| *p = blend(*p, [mean; 3], f));
                }
                2 => px.iter_mut().for_each(|p| *p = blend(*p, [grey(*p); 3], f)),
                _ => px.iter_mut().for_each(|p| *p = turn_hue(*p, f)),
            }
        }
        let raw = px
            .iter()
            .flat_map(|p| p.map(|v| (v * 255.0).round() as u8))
            .collect();
        RgbImage::from_raw(image.width(), image.height(), raw).expect("same size")
    }
}

#[cfg(test)]
mod tests {
    use super::{ColorJitter, turn_hue};
    use crate::data::augment::Rng;

    /// Worked by hand: a third of a turn takes red to green and green to blue;
    /// grey has no hue; a sixth takes red to yellow.
    #[test]
    fn hue_turns_as_the_colour_wheel() {
        let close = |a: [f32; 3], b: [f32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(turn_hue([1.0, 0.0, 0.0], 1.0 / 3.0), [0.0, 1.0, 0.0]));
        assert!(close(turn_hue([0.0, 1.0, 0.0], 1.0 / 3.0), [0.0, 0.0, 1.0]));
        assert!(close(turn_hue([1.0, 0.0, 0.0], 1.0 / 6.0), [1.0, 1.0, 0.0]));
        assert!(close(
            turn_hue([1.0, 0.0, 0.0], -1.0 / 3.0),
            [0.0, 0.0, 1.0]
        ));
        assert!(close(turn_hue([0.4, 0.4, 0.4], 0.3), [0.4, 0.4, 0.4]));
    }

    /// Brightness alone (the other ranges empty) scales every value by one factor
    /// in [0.5, 1.5]; the same generator state gives the same image.
    #[test]
    fn brightness_scales_and_repeats_with_the_seed() {
        let jitter = ColorJitter {
            brightness: 0.5,
            contrast: 0.0,
            saturation: 0.0,
            hue: 0.0,
        };
        let image = image::RgbImage::from_fn(8, 4, |x, y| {
            image::Rgb([20 + 10 * x as u8, 40 + 5 * y as u8, 60])
        });
        let a = jitter.apply(&image, &mut Rng::new(3));
        assert_eq!(a, jitter.apply(&image, &mut Rng::new(3)));
        let f = a.get_pixel(7, 3).0[0] as f32 / image.get_pixel(7, 3).0[0] as f32;
        assert!((0.5..=1.5).contains(&f));
        for (p, q) in image.pixels().zip(a.pixels()) {
            for c in 0..3 {
                let want = (p.0[c] as f32 * f).round().min(255.0);
                assert!(
                    (q.0[c] as f32 - want).abs() <= 1.5,
                    "{:?} → {:?} with {f}",
                    p.0,
                    q.0
                );
            }
        }
    }

    #[test]
    fn impossible_ranges_are_refused() {
        let j = |h| ColorJitter {
            brightness: 0.2,
            contrast: 0.2,
            saturation: 0.2,
            hue: h,
        };
        assert!(j(0.1).validate().is_ok());
        assert!(j(0.6).validate().is_err());
        assert!(j(-0.1).validate().is_err());
    }
}
