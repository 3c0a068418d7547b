//! `fcn demo [--out DIR]`: the whole tool on the built-in synthetic data, with no
//! download: generate the dataset, train, evaluate on the held-out split, segment a
//! few held-out images and write `DIR/report.html`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::report::{self, SampleRow};
use anyhow::Context;
use fcn::data::synthetic::{self, SynthConfig};
use fcn::data::{self, ReadOptions, Split};
use fcn::infer::{self, TileOptions};
use fcn::train::{OptimizerKind, Schedule, TrainConfig};
use fcn::{Fcn, FcnConfig};

use crate::synth::parse_size;

#[derive(clap::Args)]
pub struct Args {
    /// Where the dataset, the run and the report go.
    #[arg(long, default_value = "fcn-demo")]
    out: PathBuf,
    /// Synthetic images to generate (80 % train, 20 % held out).
    #[arg(long, default_value_t = 2000)]
    n: usize,
    /// Image size; a stride-32 network needs objects several cells of 32 pixels wide.
    #[arg(long, default_value = "256x384", value_parser = parse_size)]
    size: (usize, usize),
    #[arg(long, default_value_t = 14)]
    epochs: usize,
    /// Backbone width (64 is ResNet-18); 8 learns the synthetic shapes fastest per
    /// second here.
    #[arg(long, default_value_t = 8)]
    width: usize,
    /// The head (see `fcn train --arch`).
    #[arg(long, value_enum, default_value_t = fcn::model::Arch::Fcn32s)]
    arch: fcn::model::Arch,
    /// ResNet depth (see `fcn train --depth`).
    #[arg(long, default_value_t = 18)]
    depth: usize,
    /// The backbone's output stride (see `fcn train --output-stride`) [default: 32;
    /// 8 with --arch torchvision].
    #[arg(long)]
    output_stride: Option<usize>,
    /// 8 reaches a given mIoU in fewer epochs than 16 at the same cost per epoch.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    #[arg(long, default_value_t = 0.003)]
    lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    crate::train::set_threads(args.threads)?;
    let started = Instant::now();
    let data_dir = args.out.join("data");
    let run_dir = args.out.join("run");
    let samples_dir = args.out.join("samples");
    for d in [&data_dir, &run_dir, &samples_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    generate(args, &data_dir)?;
    let (model, val_split) = train_model(args, &data_dir, &run_dir)?;

    eprintln!(
        "[3/4] evaluating on the {} held-out images",
        val_split.len()
    );
    let eval_bar = crate::progress::bar(val_split.len() as u64, "eval");
    let eval = infer::evaluate(&model, &val_split, TileOptions::default(), |d, _| {
        eval_bar.set_position(d as u64)
    })?;
    eval_bar.finish_and_clear();
    let metrics = eval.confusion.metrics(&model.meta.class_names);
    crate::eval::print_table(&metrics);

    eprintln!("[4/4] segmenting held-out images and writing the report");
    let rows = samples(&model, &val_split, &samples_dir)?;
    let elapsed = started.elapsed().as_secs_f64();
    let report_path = args.out.join("report.html");
    write_report(args, &report_path, &run_dir, &metrics, &rows, elapsed)?;
    println!("report: {}", report_path.display());
    println!("weights: {}", run_dir.join("model.safetensors").display());
    println!("elapsed: {elapsed:.1} s");
    println!("val mIoU: {:.3}", metrics.miou);
    Ok(())
}

/// Step 1: the synthetic dataset in `data_dir`.
fn generate(args: &Args, data_dir: &Path) -> anyhow::Result<()> {
    eprintln!(
        "[1/4] generating {} synthetic images of {}x{} in {}",
        args.n,
        args.size.0,
        args.size.1,
        data_dir.display()
    );
    let bar = crate::progress::bar(args.n as u64, "synth");
    let synth = SynthConfig {
        n: args.n,
        seed: args.seed,
        size: args.size,
        val_fraction: 0.2,
    };
    synthetic::generate(data_dir, &synth, |d| bar.set_position(d as u64))?;
    bar.finish_and_clear();
    Ok(())
}

/// Step 2: a fresh FCN trained on the data; returns it with the held-out split.
fn train_model(args: &Args, data_dir: &Path, run_dir: &Path) -> anyhow::Result<(Fcn, Split)> {
    let options = ReadOptions::default();
    let train_split = data::open(data_dir, "train", &options)?;
    let val_split = data::open(data_dir, "val", &options)?;
    let classes = train_split.classes.clone();
    let torchvision = args.arch == fcn::model::Arch::Torchvision;
    let mut config = FcnConfig {
        arch: args.arch,
        depth: args.depth,
        output_stride: args
            .output_stride
            .unwrap_or(if torchvision { 8 } else { 32 }),
        aux: torchvision,
        width: args.width,
        ..FcnConfig::default()
    }
    .with_num_classes(classes.len());
    config.class_names = classes.names.clone();
    config
        .validate()
        .context("--arch / --depth / --output-stride / --width")?;
    let device = args.device.open()?;
    device.seed(args.seed);
    let model = Fcn::new(&config, &device);
    let train_config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        weight_decay: 0.0,
        momentum: 0.0,
        optimizer: OptimizerKind::Adam,
        schedule: Schedule::Poly,
        crop: Some(args.size),
        pad_small: false,
        flip: true,
        seed: args.seed,
        workers: args.threads.unwrap_or(2).max(1),
        ..TrainConfig::default()
    };
    eprintln!(
        "[2/4] training an FCN ({}) for {} epochs on {} images; validating on {}",
        config.describe(),
        args.epochs,
        train_split.len(),
        val_split.len()
    );
    let mut bar = crate::train::Bar::new(run_dir, Vec::new());
    let val = Some(val_split.clone());
    let model = fcn::train::train(
        run_dir,
        model,
        train_split,
        val,
        &train_config,
        false,
        &mut bar,
    )?;
    Ok((model, val_split))
}

/// Step 4a: the first held-out images with their truth and prediction, as PNGs.
fn samples(model: &Fcn, val_split: &Split, samples_dir: &Path) -> anyhow::Result<Vec<SampleRow>> {
    let mut rows = Vec::new();
    for i in 0..val_split.len().min(6) {
        let sample = val_split.load(i)?;
        let pred = infer::predict(model, &sample.image, TileOptions::default())?;
        let name = sample.name.clone();
        let files = [
            format!("{name}_input.png"),
            format!("{name}_truth.png"),
            format!("{name}_prediction.png"),
        ];
        sample.image.save(samples_dir.join(&files[0]))?;
        crate::render::colorize(&sample.mask).save(samples_dir.join(&files[1]))?;
        crate::render::colorize(&pred).save(samples_dir.join(&files[2]))?;
        let [input, truth, prediction] = files.map(|f| format!("samples/{f}"));
        rows.push(SampleRow {
            name,
            input,
            truth,
            prediction,
        });
    }
    Ok(rows)
}

/// Step 4b: the HTML report.
fn write_report(
    args: &Args,
    path: &Path,
    run_dir: &Path,
    metrics: &fcn::metrics::Metrics,
    rows: &[SampleRow],
    elapsed: f64,
) -> anyhow::Result<()> {
    let state = fcn::train::read_state(run_dir)?;
    let notes = vec![
        format!(
            "{} synthetic images of {}x{} (seed {}), {} classes; FCN with a ResNet-18 backbone of width {}; {} epochs of Adam (lr {}, poly schedule), batch {}.",
            args.n,
            args.size.0,
            args.size.1,
            args.seed,
            metrics.per_class.len(),
            args.width,
            args.epochs,
            args.lr,
            args.batch_size
        ),
        format!("Finished in {elapsed:.0} s."),
    ];
    let curves = crate::plot::curves(&state.history);
    let page = report::html("fcn demo", &curves, &state.history, metrics, rows, &notes);
    std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))
}
