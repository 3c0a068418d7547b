//! One image through the model, on a worker thread: decode, segment (tiled when
//! large, as `fcn segment`), and encode the answer in the format asked for.

use std::io::Cursor;

use axum::http::StatusCode;
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

/// What a client or the operator can shrink when an image does not fit in the
/// device's memory.
const OUT_OF_MEMORY_HINT: &str = "send a smaller image, or start the server with a smaller --tile (larger images run in tiles of it)";

/// A failed inference as the API reports it: running out of device memory is 503
/// (the server is up, and a smaller image or a quieter moment may fit), naming the
/// image and what to shrink; anything else is a 500.
fn inference_error(e: fcn::FcnError) -> ApiError {
    match e {
        e @ fcn::FcnError::OutOfMemory { .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        e => ApiError::internal(format!("inference failed: {e}")),
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
    let during = || format!("segmenting an image of {width}×{height}");
    let mask = fcn::device::catch_failure(&during, OUT_OF_MEMORY_HINT, || {
        infer::predict(model, &image, opts)
    })
    .and_then(|r| r)
    .map_err(inference_error)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that ran out of memory answers 503 with the image, the failed
    /// allocation and what to shrink; another failure stays a 500.
    #[test]
    fn out_of_memory_is_503_naming_the_image_and_the_cure() {
        let message = "can't allocate buffer of size: 1073741824";
        let during = "segmenting an image of 4096×4096";
        let oom = fcn::device::failure(message, during, OUT_OF_MEMORY_HINT);
        let e = inference_error(oom);
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            e.message,
            "the GPU ran out of memory segmenting an image of 4096×4096 (an allocation of 1024 \
             MiB failed): send a smaller image, or start the server with a smaller --tile \
             (larger images run in tiles of it)"
        );
        let other = fcn::device::failure("Execution(lost)", during, OUT_OF_MEMORY_HINT);
        assert_eq!(
            inference_error(other).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
