//! `fcn info WEIGHTS`

use std::path::PathBuf;

use anyhow::Context;
use fcn::Fcn;

#[derive(clap::Args)]
pub struct Args {
    /// A weight file: torchvision ResNet-18 or textbook FCN `.pth`, or an fcn checkpoint.
    weights: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let device = burn::tensor::Device::flex();
    let model = Fcn::load(&args.weights, &device).context("cannot load weights")?;
    let report = model
        .origin
        .as_ref()
        .context("the model was not read from a file")?;
    let params = model.num_params();
    if args.json {
        let value = serde_json::json!({
            "file": args.weights.display().to_string(),
            "format": report.format.to_string(),
            "arch": model.meta.arch.name(),
            "depth": model.meta.depth,
            "output_stride": model.meta.output_stride,
            "aux": model.meta.aux,
            "network": model.meta.describe(),
            "dtype": report.dtype,
            "num_classes": model.num_classes(),
            "class_names": model.meta.class_names,
            "width": model.meta.width,
            "parameters": params,
            "ignored_keys": report.ignored_keys,
        });
        println!("{value}");
        return Ok(());
    }
    println!("file:         {}", args.weights.display());
    println!("format:       {}", report.format);
    println!("dtype:        {}", report.dtype);
    println!("arch:         {}", model.meta.arch);
    println!("network:      {}", model.meta.describe());
    println!(
        "classes:      {} ({})",
        model.num_classes(),
        model.meta.class_names.join(", ")
    );
    println!("width:        {} (torchvision's is 64)", model.meta.width);
    println!("parameters:   {}", thousands(params));
    if report.ignored_keys.is_empty() {
        println!("ignored keys: none");
    } else {
        // The counters of a ResNet-101's BatchNorms alone are over a hundred keys.
        let keys = &report.ignored_keys;
        let shown = keys.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        let more = if keys.len() > 3 { ", …" } else { "" };
        println!("ignored keys: {} ({shown}{more})", keys.len());
    }
    Ok(())
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
