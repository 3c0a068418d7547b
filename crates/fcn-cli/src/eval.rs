//! `fcn eval --data DIR --weights W [--split val] [--json] [--tta flip] [--tta-scales S,…]`

use std::path::PathBuf;

use anyhow::Context;
use fcn::data::{self, ReadOptions};
use fcn::infer::{self, TileOptions};
use fcn::metrics::Metrics;
use fcn::{Fcn, FcnConfig};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    weights: PathBuf,
    #[arg(long, default_value = "val")]
    split: String,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Images with a side longer than this run tiled.
    #[arg(long, default_value_t = 1024)]
    tile: usize,
    #[arg(long)]
    skip_bad: bool,
    #[arg(long, default_value_t = data::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    tta: crate::tta::TtaArg,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    crate::threads::build_pool(args.threads, true)?;
    let tta = args.tta.get()?;
    let options = ReadOptions {
        max_pixels: args.max_pixels,
        skip_bad: args.skip_bad,
        // One pass over the split: keeping decoded images would only cost memory.
        cache_bytes: 0,
        ..Default::default()
    };
    let split = data::open(&args.data, &args.split, &options).context("cannot open the dataset")?;
    let device = args.device.open()?;
    let config = FcnConfig::default().with_num_classes(split.classes.len());
    let model = Fcn::load_trained_with(&args.weights, &config, &device)
        .context("cannot load weights")?
        .with_kernels(args.device.kernels());
    anyhow::ensure!(
        model.num_classes() == split.classes.len(),
        "{} has {} classes but the data has {}",
        args.weights.display(),
        model.num_classes(),
        split.classes.len()
    );
    let bar = crate::progress::bar(split.len() as u64, "eval");
    let tiles = TileOptions {
        tile: args.tile,
        overlap: args.tile / 8,
    };
    let eval = infer::evaluate_with(&model, &split, tiles, &tta, |d, _| {
        bar.set_position(d as u64)
    })?;
    bar.finish_and_clear();
    for s in &eval.skipped {
        eprintln!("warning: skipped {s}");
    }
    let m = eval.confusion.metrics(&split.classes.names);
    if args.json {
        println!("{}", serde_json::to_string(&m)?);
    } else {
        print_table(&m);
    }
    if !eval.skipped.is_empty() {
        eprintln!("warning: {} files were skipped", eval.skipped.len());
    }
    Ok(())
}

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |v| format!("{:.1}", v * 100.0))
}

pub fn print_table(m: &Metrics) {
    println!("pixel accuracy      {:.1} %", m.pixel_accuracy * 100.0);
    println!("mean class accuracy {:.1} %", m.mean_accuracy * 100.0);
    println!("mean IoU            {:.1} %", m.miou * 100.0);
    println!("frequency-weighted  {:.1} %", m.fwiou * 100.0);
    println!();
    println!(
        "{:<16} {:>7} {:>9} {:>12}",
        "class", "IoU %", "acc %", "pixels"
    );
    for c in &m.per_class {
        println!(
            "{:<16} {:>7} {:>9} {:>12}",
            c.name,
            pct(c.iou),
            pct(c.accuracy),
            c.pixels
        );
    }
}
