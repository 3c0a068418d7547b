//! `fcn export WEIGHTS --out FILE.onnx|FILE.safetensors [--format onnx|safetensors]
//! [--fp16] [--with-preprocessing] [--argmax]`

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fcn::Fcn;
use fcn::onnx::OnnxOptions;

#[derive(clap::Args)]
pub struct Args {
    /// Any weight file `fcn info` reads.
    weights: PathBuf,
    /// Where to write: `.onnx` for ONNX, `.safetensors` for an fcn checkpoint
    /// (textbook key names, loadable by PyTorch's
    /// `load_state_dict(safetensors.torch.load_file(OUT))`).
    #[arg(long)]
    out: PathBuf,
    /// The format, when the extension does not say it.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// ONNX: store the weights as float16 (half the file; the graph computes in float32).
    #[arg(long)]
    fp16: bool,
    /// ONNX: take uint8 RGB `[N, H, W, 3]` named `image` and normalise in the graph.
    #[arg(long)]
    with_preprocessing: bool,
    /// ONNX: add `classes`, the per-pixel class (int64 `[N, H, W]`), as a second output.
    #[arg(long)]
    argmax: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Onnx,
    Safetensors,
}

fn format_of(args: &Args) -> anyhow::Result<Format> {
    if let Some(f) = args.format {
        return Ok(f);
    }
    let ext = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    match ext.as_deref() {
        Some("onnx") => Ok(Format::Onnx),
        Some("safetensors") => Ok(Format::Safetensors),
        _ => bail!(
            "--out {}: cannot tell the format from the extension; name it .onnx or \
             .safetensors, or give --format onnx|safetensors",
            args.out.display()
        ),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    if same_file(&args.weights, &args.out) {
        bail!(
            "--out {} is the input file; choose another path",
            args.out.display()
        );
    }
    let format = format_of(args)?;
    let onnx_only = args.fp16 || args.with_preprocessing || args.argmax;
    if format == Format::Safetensors && onnx_only {
        bail!("--fp16, --with-preprocessing and --argmax apply to ONNX files only");
    }
    let device = burn::tensor::Device::flex();
    let model = Fcn::load_trained(&args.weights, &device).context("cannot load weights")?;
    match format {
        Format::Safetensors => model
            .save(&args.out)
            .context("cannot write the checkpoint")?,
        Format::Onnx => {
            let opts = OnnxOptions {
                fp16: args.fp16,
                with_preprocessing: args.with_preprocessing,
                argmax: args.argmax,
            };
            fcn::onnx::write(&model, &args.out, opts).context("cannot write the ONNX file")?
        }
    }
    let size = std::fs::metadata(&args.out).map_or(0, |m| m.len());
    eprintln!(
        "wrote {} ({}, {} classes, {} parameters, {:.1} MB)",
        args.out.display(),
        model.meta.describe(),
        model.num_classes(),
        model.num_params(),
        size as f64 / 1e6
    );
    Ok(())
}
