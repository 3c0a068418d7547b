//! `fcn bench [--json]`

use crate::bench_cases::{self as bench, BenchOptions, BenchRow};

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of a table: {"machine": {"cpu", "simd", "threads", "device"},
    /// "cases": [{"name", "ms", "baseline_ms", "gflops"}, ...]}.
    #[arg(long)]
    json: bool,
    /// Measure only this case (repeatable); `--list` shows the names.
    #[arg(long, value_name = "NAME")]
    only: Vec<String>,
    /// List the case names and exit.
    #[arg(long)]
    list: bool,
    /// Seconds to spend timing each side of each case (at least three runs each).
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Time only our kernels (for profiling).
    #[arg(long)]
    skip_baseline: bool,
    /// Compute threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

/// Where the timings were taken: the CPU, the vector path, the threads, the device.
#[derive(serde::Serialize)]
struct Machine {
    cpu: String,
    simd: &'static str,
    threads: usize,
    device: String,
}

impl Machine {
    fn here(device: &str) -> Self {
        Self {
            cpu: cpu_model(),
            simd: tconv::kernels::simd::path().name(),
            threads: rayon::current_num_threads(),
            device: device.to_string(),
        }
    }
}

/// The CPU's model name (`/proc/cpuinfo` on Linux), or "unknown CPU".
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

fn line(row: &BenchRow) -> String {
    format!(
        "{:<24} {:>10.3} {:>10.3} {:>7.2}× {:>8.1}",
        row.name,
        row.ms,
        row.baseline_ms,
        row.baseline_ms / row.ms,
        row.gflops
    )
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    // Before anything starts rayon's global pool (opening the device does).
    crate::threads::build_pool(args.threads, true)?;
    let device = args.device.open()?;
    let gpu = !fcn::device::is_cpu(&device);
    if args.list {
        for name in bench::names(gpu) {
            println!("{name}");
        }
        return Ok(());
    }
    let known = bench::names(gpu);
    for name in &args.only {
        anyhow::ensure!(
            known.contains(&name.as_str()),
            "--only {name}: no such case (one of: {})",
            known.join(", ")
        );
    }
    anyhow::ensure!(
        args.seconds.is_finite() && args.seconds >= 0.0,
        "--seconds must be a non-negative number"
    );
    let options = BenchOptions {
        only: args.only.clone(),
        seconds: args.seconds,
        skip_baseline: args.skip_baseline,
        device,
        precision: args.device.precision,
    };
    let machine = Machine::here(if gpu { "gpu" } else { "cpu" });
    eprintln!(
        "machine: {}, SIMD path {}, {} threads",
        machine.cpu, machine.simd, machine.threads
    );
    match gpu {
        true => eprintln!("timing the network on the GPU with Burn's kernels, median ms"),
        false => eprintln!("timing tconv kernels (ours) and Burn's flex ops (baseline), median ms"),
    }
    let header = format!(
        "{:<24} {:>10} {:>10} {:>8} {:>8}",
        "name", "ours ms", "flex ms", "speed-up", "GFLOP/s"
    );
    if !args.json {
        println!("{header}");
    }
    let rows = bench::run(&options, |row| {
        if args.json {
            eprintln!("{}", line(row));
        } else {
            println!("{}", line(row));
        }
    });
    if args.json {
        let report = serde_json::json!({ "machine": machine, "cases": rows });
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
