//! Every failure the API reports: a status and a JSON body `{"error": "..."}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fcn::data::decode::ImageProblem;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for `Retry-After` (with 503 for a full queue).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn busy(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy: every thread and queue place is taken; retry later",
            )
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<ImageProblem> for ApiError {
    fn from(p: ImageProblem) -> Self {
        let status = match p {
            ImageProblem::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ImageProblem::Empty { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ImageProblem::Unreadable(_) | ImageProblem::Corrupt(_) => StatusCode::BAD_REQUEST,
        };
        Self::new(status, p.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}
