//! The model an `fcn train` run starts from: the run's own when resuming, else
//! `--weights` (retargeted to the data's classes), `--backbone` or a fresh one.

use anyhow::Context;
use fcn::{Fcn, FcnConfig};

use crate::train::Args;

/// The model to train: the run's own when resuming, else from --weights,
/// --backbone or fresh, checked against the data's classes and the memory here.
pub fn build_model(
    args: &Args,
    given: &dyn Fn(&str) -> bool,
    run_dir: &std::path::Path,
    resume: bool,
    classes: &fcn::data::Classes,
) -> anyhow::Result<Fcn> {
    let device = args.device.open()?;
    if resume {
        let model = Fcn::load(run_dir.join("model.safetensors"), &device)
            .context("cannot load the run's model")?;
        let width = model.meta.width;
        anyhow::ensure!(
            !given("width") || args.width == width,
            "--width {} cannot change when resuming: the run's model has width {width}",
            args.width
        );
        let arch = model.meta.arch;
        anyhow::ensure!(
            !given("arch") || args.arch == arch,
            "--arch {} cannot change when resuming: the run's model is an {arch}",
            args.arch
        );
        let m = &model.meta;
        for (flag, asked, has) in [
            ("depth", args.depth, m.depth),
            ("output-stride", args.output_stride, m.output_stride),
        ] {
            anyhow::ensure!(
                asked.is_none_or(|a| a == has),
                "--{flag} cannot change when resuming: the run's model has {has}"
            );
        }
        let classes = model.num_classes();
        anyhow::ensure!(
            args.num_classes.is_none_or(|n| n == classes),
            "--num-classes cannot change when resuming: the run's model has {classes}"
        );
        return Ok(model);
    }
    let num_classes = args.num_classes.unwrap_or(classes.len());
    let mut config = fresh_config(args).with_num_classes(num_classes);
    if num_classes == classes.len() {
        config.class_names = classes.names.clone();
    }
    config
        .validate()
        .context("--arch / --depth / --output-stride / --width / --num-classes")?;
    anyhow::ensure!(
        num_classes >= classes.len(),
        "--num-classes {num_classes} is fewer than the data's {} classes",
        classes.len()
    );
    crate::memory::check_training(&config)?;
    // Every fresh weight (a whole model, or the head beside a backbone) repeats
    // with the seed.
    device.seed(args.seed);
    let model = if let Some(w) = &args.weights {
        let (m, fresh) =
            Fcn::load_for_classes(w, &config, &device).context("cannot load --weights")?;
        anyhow::ensure!(
            !given("arch") || m.meta.arch == args.arch,
            "{} is an {} but --arch says {}",
            w.display(),
            m.meta.arch,
            args.arch
        );
        if !fresh.is_empty() {
            eprintln!(
                "fine-tuning {} to {num_classes} classes: re-initialised {} (every other weight from the file)",
                w.display(),
                fresh.join(", ")
            );
        }
        m
    } else if let Some(b) = &args.backbone {
        let m = Fcn::load_backbone(b, &config, &device).context("cannot load --backbone")?;
        anyhow::ensure!(
            !given("width") || args.width == m.meta.width,
            "{} has width {} but --width says {}",
            b.display(),
            m.meta.width,
            args.width
        );
        anyhow::ensure!(
            args.depth.is_none_or(|d| d == m.meta.depth),
            "{} is a ResNet-{} but --depth says {}",
            b.display(),
            m.meta.depth,
            args.depth.unwrap_or_default()
        );
        m
    } else {
        Fcn::new(&config, &device)
    };
    Ok(model)
}

/// The model the flags describe, before the data's classes: torchvision's head
/// defaults to its own ResNet-50 at output stride 8, the textbook's to ResNet-18 at 32.
fn fresh_config(args: &Args) -> FcnConfig {
    let base = match args.arch {
        fcn::model::Arch::Torchvision => FcnConfig::torchvision(50),
        arch => FcnConfig {
            arch,
            ..FcnConfig::default()
        },
    };
    FcnConfig {
        depth: args.depth.unwrap_or(base.depth),
        output_stride: args.output_stride.unwrap_or(base.output_stride),
        aux: base.aux && args.aux_weight != 0.0,
        width: args.width,
        ..base
    }
}
