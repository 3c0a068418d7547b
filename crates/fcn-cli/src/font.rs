//! Text in images without system fonts (overlay legends): the 8×8 bitmap glyphs of
//! `font8x8`, Latin letters in both cases, digits and signs.

use font8x8::{BASIC_FONTS, LATIN_FONTS, UnicodeFonts};
use image::{Rgb, RgbImage};

/// Glyph side in pixels at scale 1.
const SIDE: u32 = 8;

/// Rows of `c`'s glyph, top to bottom, bit 0 the left column; `?` where the font
/// has no glyph.
fn glyph(c: char) -> [u8; 8] {
    BASIC_FONTS
        .get(c)
        .or_else(|| LATIN_FONTS.get(c))
        .or_else(|| BASIC_FONTS.get('?'))
        .unwrap_or([0; 8])
}

/// Pixel width of `text` drawn at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * SIDE * scale
}

/// Height of a line of text at `scale`.
pub fn text_height(scale: u32) -> u32 {
    SIDE * scale
}

/// Draws `text` with its top-left corner at `(x, y)`, clipped to the image.
pub fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str, scale: u32, color: [u8; 3]) {
    for (i, c) in text.chars().enumerate() {
        let gx = x + i as u32 * SIDE * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in (0..SIDE).filter(|col| bits & (1 << col) != 0) {
                for (dx, dy) in (0..scale).flat_map(|dx| (0..scale).map(move |dy| (dx, dy))) {
                    let (px, py) = (gx + col * scale + dx, y + row as u32 * scale + dy);
                    if px < img.width() && py < img.height() {
                        img.put_pixel(px, py, Rgb(color));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_case_differs_from_upper_case() {
        assert_ne!(glyph('a'), glyph('A'));
        assert_ne!(glyph('a'), [0; 8]);
        assert_eq!(glyph('\u{1F600}'), glyph('?'));
    }

    #[test]
    fn an_l_is_a_vertical_bar_and_a_foot() {
        let mut img = RgbImage::new(8, 8);
        draw_text(&mut img, 0, 0, "L", 1, [255, 0, 0]);
        let lit: Vec<(u32, u32)> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0 == [255, 0, 0])
            .map(|(x, y, _)| (x, y))
            .collect();
        // Its left column is lit from the top; its bottom row of ink is widest.
        let left = lit.iter().map(|p| p.0).min().unwrap();
        let bottom = lit.iter().map(|p| p.1).max().unwrap();
        let width_at = |y| lit.iter().filter(|p| p.1 == y).count();
        let top = lit.iter().map(|p| p.1).min().unwrap();
        assert!(lit.contains(&(left, top)));
        assert!(width_at(bottom) > width_at(top));
    }
}
