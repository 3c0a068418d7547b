//! The routes: `/` (the page), `/healthz`, `/v1/model`, `/v1/segment`, `/metrics`,
//! and the middleware that logs and counts every request.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use fcn::Fcn;
use fcn::data::colormap::voc_color;
use tower_http::catch_panic::CatchPanicLayer;

use super::error::ApiError;
use super::job::{self, Format};
use super::metrics::Metrics;
use super::slots::Slots;
use super::{Limits, body};

const PAGE: &str = include_str!("page.html");
const ROUTES: [&str; 5] = ["/", "/healthz", "/v1/model", "/v1/segment", "/metrics"];

/// What every handler shares: the model, the limits, the pool and the metrics.
pub struct App {
    model: Arc<Fcn>,
    limits: Limits,
    slots: Arc<Slots>,
    metrics: Arc<Metrics>,
    /// `GET /v1/model`, made once.
    description: serde_json::Value,
}

impl App {
    pub fn new(model: Fcn, limits: Limits) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::new()?);
        let slots = Slots::new(limits.threads, limits.queue, metrics.clone());
        let description = describe(&model);
        Ok(Self {
            model: Arc::new(model),
            limits,
            slots,
            metrics,
            description,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

fn describe(model: &Fcn) -> serde_json::Value {
    let meta = &model.meta;
    let classes: Vec<serde_json::Value> = meta
        .class_names
        .iter()
        .enumerate()
        .map(|(i, name)| serde_json::json!({"index": i, "name": name, "color": voc_color(i as u8)}))
        .collect();
    serde_json::json!({
        "arch": meta.arch.name(),
        "network": meta.describe(),
        "depth": meta.depth,
        "output_stride": meta.output_stride,
        "width": meta.width,
        "parameters": model.num_params(),
        "classes": classes,
        "normalization": {"mean": meta.mean, "std": meta.std, "input": "RGB scaled to [0, 1], then (x - mean) / std"},
    })
}

pub fn router(app: Arc<App>) -> Router {
    let max_body = app.limits.max_body;
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/model", get(model_info))
        .route("/v1/segment", post(segment))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("the server hit a bug while answering; it is still up")
                .into_response()
        }))
        .layer(middleware::from_fn_with_state(app.clone(), log_and_count))
        .with_state(app)
}

async fn page() -> impl IntoResponse {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; \
             script-src 'unsafe-inline'",
        )],
        Html(PAGE),
    )
}

async fn model_info(State(app): State<Arc<App>>) -> impl IntoResponse {
    axum::Json(app.description.clone())
}

async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}

#[derive(serde::Deserialize)]
struct SegmentQuery {
    format: Option<String>,
}

/// The image's size, for the request log.
#[derive(Clone, Copy)]
struct ImageSize(u32, u32);

async fn segment(
    State(app): State<Arc<App>>,
    query: Result<Query<SegmentQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let query =
        query.map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))?;
    let format = Format::parse(query.format.as_deref())?;
    let limit = app.limits.timeout;
    let bytes = tokio::time::timeout(limit, body::image_bytes(req, app.limits.max_body))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    limit.as_secs()
                ),
            )
        })??;
    // Refuse what the header says is too large before queueing or decoding it.
    let (w, h) = fcn::data::decode::declared_size(&bytes, app.limits.max_pixels)?;
    let queued = app
        .slots
        .admit()
        .ok_or_else(|| ApiError::busy(app.slots.retry_after()))?;
    let work = async {
        let running = queued.start().await;
        let app = app.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let answer = job::segment(
                &app.model,
                &bytes,
                format,
                app.limits.max_pixels,
                app.limits.tile,
            );
            let ms = started.elapsed().as_secs_f64() * 1e3;
            app.slots.record_ms(ms as u64);
            drop(running);
            answer.map(|a| (a, ms))
        })
        .await
        .map_err(|e| ApiError::internal(format!("the worker failed: {e}")))?
    };
    let (answer, ms) = tokio::time::timeout(app.limits.timeout, work)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the image was not segmented within {} s (see --timeout-s)",
                    app.limits.timeout.as_secs()
                ),
            )
        })??;
    app.metrics.images.inc();
    let mut response = ([(header::CONTENT_TYPE, answer.content_type)], answer.body).into_response();
    let timing = format!("infer;dur={ms:.1}");
    if let Ok(v) = HeaderValue::from_str(&timing) {
        response.headers_mut().insert("server-timing", v);
    }
    response.extensions_mut().insert(ImageSize(w, h));
    Ok(response)
}

/// One line per request on stderr (method, path, status, image size, time), and the
/// request counted in the metrics under its route.
async fn log_and_count(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // Unknown paths share one label, so scanners cannot grow the metrics.
    let route = ROUTES.iter().find(|r| **r == path).unwrap_or(&"other");
    let response = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    app.metrics.observe(route, status, seconds);
    let size = response
        .extensions()
        .get::<ImageSize>()
        .map_or(String::new(), |s| format!(" {}x{}", s.0, s.1));
    eprintln!("{method} {path} {status}{size} {:.1} ms", seconds * 1e3);
    response
}
