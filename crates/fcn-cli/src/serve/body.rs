//! The image in a request: the raw body (`image/png`, `image/jpeg`,
//! `application/octet-stream`) or the `image` field of a `multipart/form-data` form.
//! Axum's extractors enforce the body limit (`DefaultBodyLimit` on the router).

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};

use super::error::ApiError;

const RAW_TYPES: [&str; 4] = [
    "image/png",
    "image/jpeg",
    "image/jpg",
    "application/octet-stream",
];

/// The image bytes of `req`, or why there are none.
pub async fn image_bytes(req: Request, max_body: usize) -> Result<Bytes, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let essence = content_type.as_deref().map(|t| {
        t.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let bytes = match essence.as_deref() {
        Some("multipart/form-data") => multipart_image(req, max_body).await?,
        // A client that names no type sends bytes; they are sniffed like any other.
        None => raw(req, max_body).await?,
        Some(t) if RAW_TYPES.contains(&t) => raw(req, max_body).await?,
        Some(t) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported content type '{t}': send image/png, image/jpeg or \
                     multipart/form-data with a field named 'image'"
                ),
            ));
        }
    };
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "the image is empty: send the bytes of a PNG or JPEG file",
        ));
    }
    Ok(bytes)
}

fn too_large(max_body: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is larger than the limit of {} MiB (see --max-body-mib)",
            max_body >> 20
        ),
    )
}

async fn raw(req: Request, max_body: usize) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, &()).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(max_body)
        } else {
            ApiError::bad_request(format!("cannot read the request body: {}", r.body_text()))
        }
    })
}

async fn multipart_image(req: Request, max_body: usize) -> Result<Bytes, ApiError> {
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|r| ApiError::bad_request(format!("not a multipart form: {}", r.body_text())))?;
    let broken = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(max_body)
        } else {
            ApiError::bad_request(format!("cannot read the multipart form: {}", e.body_text()))
        }
    };
    while let Some(field) = form.next_field().await.map_err(broken)? {
        if field.name() == Some("image") {
            return field.bytes().await.map_err(broken);
        }
    }
    Err(ApiError::bad_request(
        "the multipart form has no field named 'image'",
    ))
}
