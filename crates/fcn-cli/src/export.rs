//! `fcn export WEIGHTS --out FILE.safetensors`

use std::path::PathBuf;

use anyhow::{Context, bail};
use fcn::Fcn;

#[derive(clap::Args)]
pub struct Args {
    /// Any weight file `fcn info` reads.
    weights: PathBuf,
    /// Where to write the safetensors checkpoint (textbook key names, loadable by
    /// PyTorch's `load_state_dict(safetensors.torch.load_file(OUT))`).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let same = |a: &PathBuf, b: &PathBuf| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(&args.weights, &args.out) {
        bail!(
            "--out {} is the input file; choose another path",
            args.out.display()
        );
    }
    let device = burn::tensor::Device::flex();
    let model = Fcn::load_trained(&args.weights, &device).context("cannot load weights")?;
    model
        .save(&args.out)
        .context("cannot write the checkpoint")?;
    eprintln!(
        "wrote {} ({} classes, {} parameters)",
        args.out.display(),
        model.num_classes(),
        model.num_params()
    );
    Ok(())
}
