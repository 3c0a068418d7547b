//! `fcn convert --data SRC --out DIR [--format auto|voc|coco|labelme|cityscapes|ade20k|folders]`

use std::path::PathBuf;

use anyhow::{Context, bail};
use fcn::data::{self, Format, ReadOptions, export};

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Auto,
    Voc,
    Coco,
    Labelme,
    Cityscapes,
    Ade20k,
    Folders,
}

#[derive(clap::Args)]
pub struct Args {
    /// The dataset to read (any layout `--data` of `fcn train` reads).
    #[arg(long)]
    data: PathBuf,
    /// Where to write it in Pascal VOC layout; must not exist yet.
    #[arg(long)]
    out: PathBuf,
    /// The source's layout; `auto` detects it from its files.
    #[arg(long, value_enum, default_value = "auto")]
    format: FormatArg,
    /// The splits to convert (those missing from the source are left out).
    #[arg(long, value_delimiter = ',', default_value = "train,val")]
    splits: Vec<String>,
    /// Skip unusable images and annotations with a warning instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// Images (and masks) declaring more pixels are refused.
    #[arg(long, default_value_t = data::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    /// For data without split lists (LabelMe, own folders): the validation fraction.
    #[arg(long, default_value_t = 0.2)]
    val_fraction: f64,
}

impl FormatArg {
    fn resolve(self, dir: &std::path::Path) -> Format {
        match self {
            FormatArg::Auto => Format::detect(dir),
            FormatArg::Voc => Format::Voc,
            FormatArg::Coco => Format::Coco,
            FormatArg::Labelme => Format::LabelMe,
            FormatArg::Cityscapes => Format::Cityscapes,
            FormatArg::Ade20k => Format::Ade20k,
            FormatArg::Folders => Format::Folders,
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..1.0).contains(&args.val_fraction),
        "--val-fraction must be in [0, 1), got {}",
        args.val_fraction
    );
    if args.out.exists() {
        bail!(
            "--out {}: already exists; choose a new directory",
            args.out.display()
        );
    }
    if args.data.canonicalize().ok() == args.out.canonicalize().ok() {
        bail!("--out must differ from --data");
    }
    let format = args.format.resolve(&args.data);
    let options = ReadOptions {
        max_pixels: args.max_pixels,
        skip_bad: args.skip_bad,
        val_fraction: args.val_fraction,
        cache_bytes: 0,
        ..Default::default()
    };
    let mut splits = Vec::new();
    for name in &args.splits {
        let split = match format {
            Format::LabelMe | Format::Folders => {
                Some(data::open_as(&args.data, format, name, &options))
            }
            _ => data::open_optional_as(&args.data, format, name, &options).transpose(),
        };
        match split {
            Some(s) => splits.push(s.with_context(|| format!("cannot open split '{name}'"))?),
            None => eprintln!("{}: no split '{name}'; left out", args.data.display()),
        }
    }
    if splits.is_empty() {
        bail!(
            "--data {}: none of the splits {} is there in {} layout",
            args.data.display(),
            args.splits.join(", "),
            format.name()
        );
    }
    let first = &splits[0];
    eprintln!(
        "converting {} ({}, {} classes) to {}",
        args.data.display(),
        format.name(),
        first.classes.len(),
        args.out.display()
    );
    for e in splits.iter().flat_map(|s| &s.skipped) {
        eprintln!("warning: {e}");
    }
    let total: usize = splits.iter().map(|s| s.len()).sum();
    let bar = crate::progress::bar(total as u64, "convert");
    let started = std::time::Instant::now();
    let summary = export::write_voc(&splits, &args.out, &|done, _| bar.set_position(done as u64))
        .context("conversion stopped; run the same command again to resume")?;
    bar.finish_and_clear();
    for e in &summary.skipped {
        eprintln!("warning: skipped: {e}");
    }
    let seconds = started.elapsed().as_secs_f64();
    let written: usize = summary.splits.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = summary
        .splits
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    eprintln!(
        "wrote {written} images ({}) in {seconds:.1} s ({:.0} images/s){}",
        parts.join(", "),
        written as f64 / seconds.max(1e-9),
        if summary.resumed > 0 {
            format!("; {} were already done", summary.resumed)
        } else {
            String::new()
        }
    );
    println!("{}", args.out.display());
    Ok(())
}
