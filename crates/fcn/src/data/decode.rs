//! Reading images and masks from disk, and writing palette masks.
//!
//! Masks are read as label indices: a palette PNG's indices directly (never through
//! an RGB expansion), a grey PNG's values, or an RGB PNG's colours through a
//! [`ColorMap`]. Every error names the file.

use std::io::BufReader;
use std::path::Path;

use image::RgbImage;
use ndarray::Array2;

use super::DataError;
use super::colormap::{ColorMap, IGNORE};

/// Reads an image as RGB, refusing files whose header declares more than
/// `max_pixels` pixels before decoding them, and JPEGs whose structure ends before
/// their end-of-image marker (see [`super::jpeg_end`]).
pub fn read_image(path: &Path, max_pixels: u64) -> Result<RgbImage, DataError> {
    let bytes =
        std::fs::read(path).map_err(|e| DataError::new(path, format!("cannot read: {e}")))?;
    decode_image(&bytes, max_pixels).map_err(|e| DataError::new(path, e.to_string()))
}

/// Why bytes are not a usable image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageProblem {
    /// The header declares more pixels than allowed; nothing was decoded.
    #[error(
        "image is {width}×{height} = {pixels} pixels, more than the limit of {limit} (see --max-pixels)"
    )]
    TooLarge {
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error("image is empty ({width}×{height})")]
    Empty { width: u32, height: u32 },
    /// Not an image format we read, or a header that does not parse.
    #[error("not a readable image: {0}")]
    Unreadable(String),
    /// A readable header followed by broken or missing data.
    #[error("corrupt or truncated image: {0}")]
    Corrupt(String),
}

/// Decodes image bytes (PNG or JPEG) as RGB, with the checks of [`read_image`]: the
/// declared size is checked against `max_pixels` before any pixel is decoded.
pub fn decode_image(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, ImageProblem> {
    declared_size(bytes, max_pixels)?;
    let reader = || {
        image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ImageProblem::Unreadable(e.to_string()))
    };
    let format = reader()?.format();
    if format == Some(image::ImageFormat::Jpeg)
        && let Err(why) = super::jpeg_end::image_end(bytes)
    {
        return Err(ImageProblem::Corrupt(why));
    }
    let img = reader()?
        .decode()
        .map_err(|e| ImageProblem::Corrupt(e.to_string()))?;
    Ok(img.to_rgb8())
}

/// The `(width, height)` that image bytes declare, read from the header alone and
/// checked against `max_pixels`: a header claiming 100000×100000 costs microseconds.
pub fn declared_size(bytes: &[u8], max_pixels: u64) -> Result<(u32, u32), ImageProblem> {
    let (w, h) = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageProblem::Unreadable(e.to_string()))?
        .into_dimensions()
        .map_err(|e| ImageProblem::Unreadable(e.to_string()))?;
    check_pixels(w, h, max_pixels)?;
    Ok((w, h))
}

pub(crate) fn check_pixels(width: u32, height: u32, limit: u64) -> Result<(), ImageProblem> {
    let pixels = width as u64 * height as u64;
    if pixels > limit {
        return Err(ImageProblem::TooLarge {
            width,
            height,
            pixels,
            limit,
        });
    }
    if pixels == 0 {
        return Err(ImageProblem::Empty { width, height });
    }
    Ok(())
}

/// The `(width, height)` an image file declares, without decoding it.
pub fn image_size(path: &Path) -> Result<(u32, u32), DataError> {
    image::image_dimensions(path)
        .map_err(|e| DataError::new(path, format!("not a readable image: {e}")))
}

fn check_size(path: &Path, w: u32, h: u32, max_pixels: u64) -> Result<(), DataError> {
    check_pixels(w, h, max_pixels).map_err(|e| DataError::new(path, e.to_string()))
}

/// Reads a class mask as labels. Palette and grey PNGs give their indices and values;
/// RGB(A) PNGs are mapped through `colors` (an unknown colour is an error).
pub fn read_mask(path: &Path, colors: &ColorMap, max_pixels: u64) -> Result<Array2<u8>, DataError> {
    let bad = |m: String| DataError::new(path, m);
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder
        .read_info()
        .map_err(|e| bad(format!("not a readable PNG mask: {e}")))?;
    let (w, h) = (reader.info().width, reader.info().height);
    check_size(path, w, h, max_pixels)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("PNG mask too large to decode".into()))?;
    let mut buf = vec![0; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(format!("corrupt or truncated PNG mask: {e}")))?;
    let (w, h) = (w as usize, h as usize);
    let depth = match frame.bit_depth {
        png::BitDepth::One => 1,
        png::BitDepth::Two => 2,
        png::BitDepth::Four => 4,
        png::BitDepth::Eight => 8,
        png::BitDepth::Sixteen => 16,
    };
    let row = |y: usize| &buf[y * frame.line_size..(y + 1) * frame.line_size];
    use png::ColorType::*;
    match (frame.color_type, depth) {
        (Indexed | Grayscale, 8) => Ok(Array2::from_shape_fn((h, w), |(y, x)| row(y)[x])),
        (Indexed | Grayscale, 1 | 2 | 4) => Ok(Array2::from_shape_fn((h, w), |(y, x)| {
            let per_byte = 8 / depth;
            let byte = row(y)[x / per_byte];
            let shift = 8 - depth * (x % per_byte + 1);
            (byte >> shift) & ((1u16 << depth) - 1) as u8
        })),
        (Rgb | Rgba, 8) => {
            let channels = if frame.color_type == Rgb { 3 } else { 4 };
            let mut mask = Array2::zeros((h, w));
            for y in 0..h {
                for x in 0..w {
                    let p = &row(y)[x * channels..x * channels + 3];
                    let rgb = [p[0], p[1], p[2]];
                    mask[[y, x]] = colors.label(rgb).ok_or_else(|| {
                        bad(format!(
                            "unknown mask colour {rgb:?} at ({x}, {y}), which is no class's colour"
                        ))
                    })?;
                }
            }
            Ok(mask)
        }
        (t, d) => Err(bad(format!(
            "unsupported PNG mask type {t:?} with {d}-bit samples"
        ))),
    }
}

/// Reads a grey PNG of ids and maps each through `table` (Cityscapes' label ids
/// to train ids, ADE20K's ids to labels).
pub fn read_ids(path: &Path, table: &[u8; 256], max_pixels: u64) -> Result<Array2<u8>, DataError> {
    // No colour is a class here, so a colour PNG is refused by its first pixel.
    let mut ids = read_mask(path, &ColorMap::new(&[], None), max_pixels)?;
    ids.mapv_inplace(|id| table[id as usize]);
    Ok(ids)
}

/// Checks that every label is a class (`< num_classes`) or the ignore label.
pub fn check_labels(path: &Path, mask: &Array2<u8>, num_classes: usize) -> Result<(), DataError> {
    if let Some(((y, x), v)) = mask
        .indexed_iter()
        .find(|(_, v)| **v != IGNORE && **v as usize >= num_classes)
    {
        return Err(DataError::new(
            path,
            format!(
                "mask value {v} at ({x}, {y}) is neither a class (0–{}) nor the ignore value {IGNORE}",
                num_classes - 1
            ),
        ));
    }
    Ok(())
}

/// Writes `mask` as an 8-bit palette PNG with `palette` (as VOC's masks are).
pub fn write_palette_png(
    path: &Path,
    mask: &Array2<u8>,
    palette: &[[u8; 3]],
) -> Result<(), DataError> {
    let bad = |m: String| DataError::new(path, m);
    let bytes =
        encode_palette_png(mask, palette).map_err(|e| bad(format!("cannot encode PNG: {e}")))?;
    std::fs::write(path, bytes).map_err(|e| bad(format!("cannot write: {e}")))
}

/// `mask` as the bytes of an 8-bit palette PNG with `palette`.
pub fn encode_palette_png(
    mask: &Array2<u8>,
    palette: &[[u8; 3]],
) -> Result<Vec<u8>, png::EncodingError> {
    let (h, w) = mask.dim();
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w as u32, h as u32);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(palette.iter().flatten().copied().collect::<Vec<u8>>());
        let mut writer = enc.write_header()?;
        let data: Vec<u8> = mask.iter().copied().collect();
        writer.write_image_data(&data)?;
    }
    Ok(bytes)
}
