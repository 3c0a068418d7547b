//! The service's Prometheus metrics, in a registry of its own (`GET /metrics`).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub queue_depth: IntGauge,
    pub in_flight: IntGauge,
    pub images: IntCounter,
}

/// Latency buckets in seconds: from a small image on a fast machine to a timeout.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

impl Metrics {
    pub fn new() -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new("fcn_http_requests_total", "HTTP requests answered"),
            &["path", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "fcn_http_request_duration_seconds",
                "Time from a request's arrival to its answer",
            )
            .buckets(BUCKETS.to_vec()),
            &["path"],
        )?;
        let queue_depth = IntGauge::new("fcn_queue_depth", "Requests waiting for a thread")?;
        let in_flight = IntGauge::new("fcn_inference_in_flight", "Images being segmented")?;
        let images = IntCounter::new("fcn_images_segmented_total", "Images segmented")?;
        let registry = Registry::new();
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(images.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            queue_depth,
            in_flight,
            images,
        })
    }

    /// Records one answered request.
    pub fn observe(&self, path: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[path, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[path]).observe(seconds);
    }

    /// Everything in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding gathered metrics into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}
