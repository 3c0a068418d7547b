//! Masks drawn for people: VOC colours, and overlays with a legend.

use fcn::data::colormap::voc_color;
use image::{Rgb, RgbImage};
use ndarray::Array2;

use crate::font::{draw_text, text_height, text_width};

/// The mask in VOC's colours.
pub fn colorize(mask: &Array2<u8>) -> RgbImage {
    let (h, w) = mask.dim();
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        Rgb(voc_color(mask[[y as usize, x as usize]]))
    })
}

/// The image with the mask's colours blended over it (`alpha` of the colour;
/// background and void stay as they are) and, below it, a legend: a swatch and the
/// name of every class present.
pub fn overlay(image: &RgbImage, mask: &Array2<u8>, names: &[String], alpha: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    let mut seen = [false; 256];
    mask.iter().for_each(|&v| seen[v as usize] = true);
    let present: Vec<u8> = (0..=255u8)
        .filter(|&v| seen[v as usize] && (v as usize) < names.len())
        .collect();
    // Lay the legend entries out in rows that fit the width.
    let (scale, pad, swatch) = (2, 6, 10);
    let line = text_height(scale).max(swatch) + pad;
    let mut places = Vec::new();
    let (mut x, mut y) = (pad, pad);
    for &label in &present {
        let entry = swatch + 4 + text_width(&names[label as usize], scale);
        if x > pad && x + entry > w {
            x = pad;
            y += line;
        }
        places.push((label, x, y));
        x += entry + 2 * pad;
    }
    let legend_h = if present.is_empty() { 0 } else { y + line };
    let mut out = RgbImage::from_pixel(w, h + legend_h, Rgb([255, 255, 255]));
    for (x, y, p) in image.enumerate_pixels() {
        let label = mask[[y as usize, x as usize]];
        let c = voc_color(label);
        let a = if label == 0 || label == 255 {
            0.0
        } else {
            alpha
        };
        let blend = |i: usize| (p[i] as f32 * (1.0 - a) + c[i] as f32 * a).round() as u8;
        out.put_pixel(x, y, Rgb([blend(0), blend(1), blend(2)]));
    }
    for (label, x, y) in places {
        let c = voc_color(label);
        for dy in 0..swatch {
            for dx in 0..swatch {
                if x + dx < w {
                    out.put_pixel(x + dx, h + y + dy, Rgb(c));
                }
            }
        }
        draw_text(
            &mut out,
            x + swatch + 4,
            h + y,
            &names[label as usize],
            scale,
            [0, 0, 0],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::overlay;
    use fcn::data::synthetic;

    #[test]
    fn overlay_has_a_legend_with_the_classes_present() {
        let sample = synthetic::render(5, 3, (96, 144));
        let names: Vec<String> = synthetic::CLASSES.iter().map(|s| s.to_string()).collect();
        let out = overlay(&sample.image, &sample.mask, &names, 0.5);
        assert_eq!(out.width(), 144);
        assert!(out.height() > 96, "a legend strip is added below the image");
        if let Some(dir) = std::env::var_os("FCN_OVERLAY_OUT") {
            out.save(std::path::Path::new(&dir).join("overlay.png"))
                .unwrap();
        }
        // The legend holds black text and the colour of every class present.
        let legend: Vec<[u8; 3]> = (96..out.height())
            .flat_map(|y| (0..out.width()).map(move |x| (x, y)))
            .map(|(x, y)| out.get_pixel(x, y).0)
            .collect();
        assert!(legend.contains(&[0, 0, 0]));
        let mut present: Vec<u8> = sample.mask.iter().copied().filter(|&v| v != 255).collect();
        present.sort();
        present.dedup();
        for label in present {
            let c = fcn::data::colormap::voc_color(label);
            if label != 0 {
                assert!(legend.contains(&c), "no swatch for class {label}");
            }
        }
        // Object pixels are tinted; background pixels are unchanged.
        let (y, x) = sample
            .mask
            .indexed_iter()
            .find(|(_, v)| **v == 0)
            .unwrap()
            .0;
        assert_eq!(
            out.get_pixel(x as u32, y as u32),
            sample.image.get_pixel(x as u32, y as u32)
        );
    }
}
