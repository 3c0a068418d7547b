//! A bounded load test of `fcn serve` on loopback, beside `fcn segment`'s time for
//! the same image.
//!
//! ```sh
//! cargo build --release -p fcn-cli
//! cargo run --release -p fcn-cli --example load -- --weights W --concurrency 1,4,16 --requests 200
//! ```
//!
//! It starts `target/release/fcn serve` itself on an ephemeral loopback port, sends a
//! fixed number of requests at each concurrency (stopping early at `--time-limit-s`),
//! and prints throughput, latency percentiles, the share answered 503 and the
//! server's peak RSS as a Markdown table.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    weights: PathBuf,
    /// The image sent (default: a 320×480 picture drawn here).
    #[arg(long)]
    image: Option<PathBuf>,
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    concurrency: Vec<usize>,
    /// Requests at each concurrency.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Stop a concurrency level after this many seconds even if requests remain.
    #[arg(long, default_value_t = 120)]
    time_limit_s: u64,
    /// Passed to `fcn serve --threads` and `fcn segment --threads`.
    #[arg(long)]
    threads: Option<usize>,
    /// Passed to `fcn serve --queue`.
    #[arg(long)]
    queue: Option<usize>,
}

struct Level {
    concurrency: usize,
    ok: usize,
    busy: usize,
    other: usize,
    seconds: f64,
    latencies_ms: Vec<f64>,
    peak_rss_mb: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.requests > 0, "--requests must be at least 1");
    let body = match &args.image {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => default_image(),
    };
    let fcn = fcn_binary()?;
    let cli_ms = cli_time(&fcn, &args.weights, args.threads, &body)?;
    eprintln!("fcn segment: {cli_ms:.1} ms an image");
    let mut server = start_server(&fcn, &args)?;
    let mut levels = Vec::new();
    for &c in &args.concurrency {
        let level = run_level(&server, &body, c, args.requests, args.time_limit_s)?;
        eprintln!(
            "concurrency {c}: {} ok, {} busy in {:.1} s",
            level.ok, level.busy, level.seconds
        );
        levels.push(level);
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    print_table(cli_ms, &levels);
    Ok(())
}

/// 320×480 with shapes and texture, as PNG.
fn default_image() -> Vec<u8> {
    let img = image::RgbImage::from_fn(480, 320, |x, y| {
        let disc = (x as i32 - 240).pow(2) + (y as i32 - 160).pow(2) < 90 * 90;
        let base = if disc { [200, 60, 40] } else { [40, 90, 160] };
        image::Rgb(base.map(|c: i32| (c + ((x * 7 + y * 3) % 31) as i32).min(255) as u8))
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("PNG into memory");
    out.into_inner()
}

/// `fcn segment`'s time per image in milliseconds: a run over 21 copies of the image
/// less a run over one (which cancels the process start and the model's loading).
fn cli_time(
    fcn: &Path,
    weights: &Path,
    threads: Option<usize>,
    body: &[u8],
) -> anyhow::Result<f64> {
    let dir = std::env::temp_dir().join(format!("fcn-load-{}", std::process::id()));
    let run = |n: usize| -> anyhow::Result<f64> {
        let images = dir.join(format!("in{n}"));
        std::fs::create_dir_all(&images)?;
        for i in 0..n {
            std::fs::write(images.join(format!("image{i}.png")), body)?;
        }
        let mut cmd = Command::new(fcn);
        cmd.arg("segment")
            .arg(&images)
            .arg("--weights")
            .arg(weights);
        cmd.arg("--out").arg(dir.join(format!("out{n}")));
        if let Some(t) = threads {
            cmd.args(["--threads", &t.to_string()]);
        }
        let started = Instant::now();
        let status = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status()?;
        anyhow::ensure!(status.success(), "fcn segment failed");
        Ok(started.elapsed().as_secs_f64() * 1e3)
    };
    let per_image = (run(21)? - run(1)?) / 20.0;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(per_image)
}

fn fcn_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let fcn = exe
        .parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("fcn"))
        .context("no target directory")?;
    if !fcn.exists() {
        bail!(
            "{} is missing: run `cargo build --release -p fcn-cli` first",
            fcn.display()
        );
    }
    Ok(fcn)
}

struct Server {
    child: Child,
    url: String,
}

fn start_server(fcn: &Path, args: &Args) -> anyhow::Result<Server> {
    let mut cmd = Command::new(fcn);
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--weights"])
        .arg(&args.weights);
    if let Some(t) = args.threads {
        cmd.args(["--threads", &t.to_string()]);
    }
    if let Some(q) = args.queue {
        cmd.args(["--queue", &q.to_string()]);
    }
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    let stderr = child.stderr.take().context("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let Some(line) = lines.next().transpose()? else {
            bail!("fcn serve exited before listening");
        };
        if let Some(rest) = line.strip_prefix("serving on ") {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_end_matches('/')
                .to_owned();
        }
    };
    // Keep draining the request log so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok(Server { child, url })
}

fn run_level(
    server: &Server,
    body: &[u8],
    concurrency: usize,
    requests: usize,
    limit_s: u64,
) -> anyhow::Result<Level> {
    let next = AtomicUsize::new(0);
    let url = format!("{}/v1/segment", server.url);
    let deadline = Instant::now() + Duration::from_secs(limit_s);
    let started = Instant::now();
    let results: Vec<(u16, f64)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let client = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(limit_s.max(1)))
                        .build()
                        .expect("an HTTP client");
                    let mut mine = Vec::new();
                    while next.fetch_add(1, Ordering::Relaxed) < requests
                        && Instant::now() < deadline
                    {
                        let t = Instant::now();
                        let status = client
                            .post(&url)
                            .header("content-type", "image/png")
                            .body(body.to_vec())
                            .send()
                            .and_then(|r| {
                                let s = r.status().as_u16();
                                r.bytes().map(|_| s)
                            })
                            .unwrap_or(0);
                        mine.push((status, t.elapsed().as_secs_f64() * 1e3));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies_ms: Vec<f64> = results.iter().filter(|r| r.0 == 200).map(|r| r.1).collect();
    latencies_ms.sort_by(f64::total_cmp);
    Ok(Level {
        concurrency,
        ok: latencies_ms.len(),
        busy: results.iter().filter(|r| r.0 == 503).count(),
        other: results.iter().filter(|r| r.0 != 200 && r.0 != 503).count(),
        seconds,
        latencies_ms,
        peak_rss_mb: peak_rss_mb(server.child.id()),
    })
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}

fn peak_rss_mb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib / 1024)
}

fn print_table(cli_ms: f64, levels: &[Level]) {
    println!(
        "fcn segment: {cli_ms:.1} ms an image, {:.2} images/s",
        1e3 / cli_ms
    );
    println!();
    println!(
        "| concurrency | images/s | p50 ms | p95 ms | p99 ms | 503 share | other errors | server peak RSS |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for l in levels {
        let mut lat = l.latencies_ms.clone();
        let total = (l.ok + l.busy + l.other).max(1);
        println!(
            "| {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} % | {} | {} MB |",
            l.concurrency,
            l.ok as f64 / l.seconds,
            percentile(&mut lat, 50.0),
            percentile(&mut lat, 95.0),
            percentile(&mut lat, 99.0),
            100.0 * l.busy as f64 / total as f64,
            l.other,
            l.peak_rss_mb,
        );
    }
}
