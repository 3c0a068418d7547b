//! `fcn serve --weights W`: the model behind an HTTP API and a web page.
//!
//! The pieces: `routes.rs` (the API and the page), `slots.rs` (the bounded pool and
//! queue that shed load with 503), `job.rs` (one image: decode, segment, encode),
//! `body.rs` (the request body: raw or multipart, size limits), `metrics.rs`
//! (Prometheus counters), `page.html` (the page, embedded in the binary).

mod body;
mod error;
mod job;
mod metrics;
mod routes;
mod slots;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fcn::Fcn;

pub use routes::App;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    weights: PathBuf,
    /// Address to listen on; the default takes connections from this machine only.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Images segmented at once, and the kernels' thread count (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Requests waiting for a free thread before the server answers 503 (default: 2× threads).
    #[arg(long)]
    queue: Option<usize>,
    /// Largest request body accepted, in MiB (413 above it).
    #[arg(long, default_value_t = 16)]
    max_body_mib: u64,
    /// Largest image accepted, in pixels, read from its header before decoding (413 above it).
    #[arg(long, default_value_t = fcn::data::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    /// Longest a request may wait and run, in seconds (504 after it).
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
    /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish, in seconds.
    #[arg(long, default_value_t = 30)]
    grace_s: u64,
    /// Images with a side longer than this run tiled (as `fcn segment --tile`).
    #[arg(long, default_value_t = 1024)]
    tile: usize,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

/// The server's settings, checked.
#[derive(Debug, Clone)]
pub struct Limits {
    pub threads: usize,
    pub queue: usize,
    pub max_body: usize,
    pub max_pixels: u64,
    pub timeout: Duration,
    pub tile: usize,
}

impl Args {
    fn limits(&self) -> anyhow::Result<Limits> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = self.threads.unwrap_or(cores);
        anyhow::ensure!(threads > 0, "--threads must be at least 1");
        anyhow::ensure!(
            (1..=1024).contains(&self.max_body_mib),
            "--max-body-mib must be between 1 and 1024, got {}",
            self.max_body_mib
        );
        anyhow::ensure!(self.max_pixels > 0, "--max-pixels must be at least 1");
        anyhow::ensure!(self.timeout_s > 0, "--timeout-s must be at least 1");
        anyhow::ensure!(
            self.tile >= 32,
            "--tile must be at least 32, got {}",
            self.tile
        );
        Ok(Limits {
            threads,
            queue: self.queue.unwrap_or(2 * threads),
            max_body: (self.max_body_mib << 20) as usize,
            max_pixels: self.max_pixels,
            timeout: Duration::from_secs(self.timeout_s),
            tile: self.tile,
        })
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let limits = args.limits()?;
    crate::threads::build_pool(Some(limits.threads), false)?;
    let device = args.device.open()?;
    let model = Fcn::load_trained(&args.weights, &device)
        .with_context(|| format!("cannot load weights {}", args.weights.display()))?
        .with_kernels(args.device.kernels());
    eprintln!("model: {}", model.meta.describe());
    let app = Arc::new(App::new(model, limits.clone())?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(app, args.addr, Duration::from_secs(args.grace_s)))
}

async fn serve(app: Arc<App>, addr: SocketAddr, grace: Duration) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr().context("no local address")?;
    let limits = app.limits();
    eprintln!(
        "serving on http://{local}/ ({} threads, queue {}, bodies up to {} MiB)",
        limits.threads,
        limits.queue,
        limits.max_body >> 20
    );
    let stopping = Arc::new(tokio::sync::Notify::new());
    let notify = stopping.clone();
    let server = axum::serve(listener, routes::router(app)).with_graceful_shutdown(async move {
        shutdown_signal().await;
        eprintln!("stopping: no new connections; finishing the requests in flight");
        notify.notify_one();
    });
    let deadline = async {
        stopping.notified().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => served.context("the server failed")?,
        () = deadline => eprintln!("grace period of {} s over; exiting with requests unfinished", grace.as_secs()),
    }
    eprintln!("stopped");
    Ok(())
}

/// Ctrl-C, or SIGTERM (what `kill`, systemd and Kubernetes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
