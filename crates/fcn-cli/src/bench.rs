//! `fcn bench [--json]`

use crate::bench_cases::{self as bench, BenchOptions, BenchRow};

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON array of {"name", "ms", "baseline_ms", "gflops"} instead of a table.
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
    crate::train::set_threads(args.threads)?;
    let options = BenchOptions {
        only: args.only.clone(),
        seconds: args.seconds,
        skip_baseline: args.skip_baseline,
        device,
    };
    match gpu {
        true => eprintln!("timing the network on the GPU with Burn's kernels, median ms"),
        false => eprintln!(
            "timing on {} threads: tconv kernels (ours) and Burn's flex ops (baseline), median ms",
            rayon::current_num_threads()
        ),
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
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    Ok(())
}
