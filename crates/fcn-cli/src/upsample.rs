//! `fcn upsample IMAGE --factor F --out OUT`

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    image: PathBuf,
    /// Upsampling factor F: a transposed convolution with kernel 2F, stride F, padding F/2.
    #[arg(long, default_value_t = 2)]
    factor: usize,
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let image = fcn::data::decode::read_image(&args.image, fcn::data::DEFAULT_MAX_PIXELS)?;
    let up = fcn::upsample::upsample_image(&image, args.factor)?;
    up.save(&args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "{}×{} → {}×{}: {}",
        image.width(),
        image.height(),
        up.width(),
        up.height(),
        args.out.display()
    );
    Ok(())
}
