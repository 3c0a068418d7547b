//! `fcn synth --out DIR --n N --seed S --size HxW`

use std::path::PathBuf;

use anyhow::Context;
use fcn::data::synthetic::{self, SynthConfig};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the dataset (as DIR/VOC2012/…).
    #[arg(long)]
    out: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 200)]
    n: usize,
    /// Seed: the same seed gives the same dataset.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Image size, HEIGHTxWIDTH.
    #[arg(long, default_value = "160x240", value_parser = parse_size)]
    size: (usize, usize),
    /// Fraction of the images in the validation split.
    #[arg(long, default_value_t = 0.2)]
    val_fraction: f64,
}

/// Parses `HxW` (e.g. `320x480`).
pub fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (h, w) = s
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("expected HEIGHTxWIDTH such as 320x480, got '{s}'"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{v}' in '{s}' is not a whole number"))
    };
    let (h, w) = (parse(h)?, parse(w)?);
    if h == 0 || w == 0 || h * w > 50_000_000 {
        return Err(format!(
            "size {h}x{w} must be at least 1x1 and at most 50 megapixels"
        ));
    }
    Ok((h, w))
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.n > 0, "--n must be at least 1");
    anyhow::ensure!(
        (0.0..1.0).contains(&args.val_fraction),
        "--val-fraction must be in [0, 1), got {}",
        args.val_fraction
    );
    let config = SynthConfig {
        n: args.n,
        seed: args.seed,
        size: args.size,
        val_fraction: args.val_fraction,
    };
    let bar = crate::progress::bar(args.n as u64, "synth");
    synthetic::generate(&args.out, &config, |done| bar.set_position(done as u64))
        .context("cannot write the synthetic dataset")?;
    bar.finish_and_clear();
    eprintln!(
        "wrote {} images of {}x{} to {} ({} classes: {})",
        args.n,
        args.size.0,
        args.size.1,
        args.out.join("VOC2012").display(),
        synthetic::CLASSES.len(),
        synthetic::CLASSES.join(", ")
    );
    Ok(())
}
