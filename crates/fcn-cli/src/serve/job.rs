//! One image through the model, on a worker thread: decode, segment (tiled when
//! large, as `fcn segment`), and encode the answer in the format asked for.

use std::io::Cursor;

use base64::Engine;
use fcn::Fcn;
use fcn::data::colormap::{voc_color, voc_palette};
use fcn::data::decode::{decode_image, encode_palette_png};
use fcn::infer::{self, TileOptions};
use ndarray::Array2;

use super::error::ApiError;

/// What `POST /v1/segment?format=…` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The VOC palette PNG mask, as `fcn segment` writes it.
    Png,
    /// The image with the classes blended over it and a legend, as `--overlay`.
    Overlay,
    /// Size, class fractions and the mask PNG in base64.
    Json,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Result<Self, ApiError> {
        match s {
            None | Some("png") => Ok(Self::Png),
            Some("overlay") => Ok(Self::Overlay),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(ApiError::bad_request(format!(
                "unknown format '{other}': use png, overlay or json"
            ))),
        }
    }
}

/// A finished job's answer.
pub struct Answer {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

pub fn segment(
    model: &Fcn,
    bytes: &[u8],
    format: Format,
    max_pixels: u64,
    tile: usize,
) -> Result<Answer, ApiError> {
    let image = decode_image(bytes, max_pixels)?;
    let (width, height) = image.dimensions();
    let opts = TileOptions {
        tile,
        overlap: tile / 8,
    };
    let mask = infer::predict(model, &image, opts)
        .map_err(|e| ApiError::internal(format!("inference failed: {e}")))?;
    let png = || {
        encode_palette_png(&mask, &voc_palette())
            .map_err(|e| ApiError::internal(format!("cannot encode the mask: {e}")))
    };
    let (content_type, body) = match format {
        Format::Png => ("image/png", png()?),
        Format::Overlay => {
            let picture = crate::render::overlay(&image, &mask, &model.meta.class_names, 0.55);
            let mut out = Cursor::new(Vec::new());
            picture
                .write_to(&mut out, image::ImageFormat::Png)
                .map_err(|e| ApiError::internal(format!("cannot encode the overlay: {e}")))?;
            ("image/png", out.into_inner())
        }
        Format::Json => {
            let value = summary(model, &mask, width, height, &png()?);
            ("application/json", value.to_string().into_bytes())
        }
    };
    Ok(Answer { content_type, body })
}

/// `{"width", "height", "classes": [{"index", "name", "color", "fraction"}],
/// "mask_png_base64"}`, listing the classes present.
fn summary(
    model: &Fcn,
    mask: &Array2<u8>,
    width: u32,
    height: u32,
    png: &[u8],
) -> serde_json::Value {
    let fractions = infer::class_fractions(mask, model.num_classes());
    let classes: Vec<serde_json::Value> = model
        .meta
        .class_names
        .iter()
        .zip(&fractions)
        .enumerate()
        .filter(|(_, (_, f))| **f > 0.0)
        .map(|(i, (name, f))| {
            serde_json::json!({
                "index": i,
                "name": name,
                "color": voc_color(i as u8),
                "fraction": (f * 1e6).round() / 1e6,
            })
        })
        .collect();
    serde_json::json!({
        "width": width,
        "height": height,
        "classes": classes,
        "mask_png_base64": base64::engine::general_purpose::STANDARD.encode(png),
    })
}
