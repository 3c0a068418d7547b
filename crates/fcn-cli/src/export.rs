//! `fcn export WEIGHTS --out FILE.safetensors`

use std::path::PathBuf;

use anyhow::Context;
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
    let device = burn::tensor::Device::flex();
    let model = Fcn::load(&args.weights, &device).context("cannot load weights")?;
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
