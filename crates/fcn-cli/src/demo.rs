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

use crate::demo_budget::Counts;
use crate::synth::parse_size;

#[derive(clap::Args)]
pub struct Args {
    /// Where the dataset, the run and the report go.
    #[arg(long, default_value = "fcn-demo")]
    out: PathBuf,
    /// Synthetic images to generate (80 % train, 20 % held out).
    #[arg(long, default_value_t = 2000)]
    n: usize,
    /// Image size: the default network keeps a stride-8 grid (16×24 here), fine
    /// enough for these shapes; a stride-32 head (`--arch fcn32s`) wants 256x384.
    #[arg(long, default_value = "128x192", value_parser = parse_size)]
    size: (usize, usize),
    /// Training epochs [default: as many as fit in --minutes on this machine, from 3
    /// to 12].
    #[arg(long)]
    epochs: Option<usize>,
    /// The time budget for the whole demo when --epochs is not given: two short
    /// timed epochs of a throwaway model first measure this machine.
    #[arg(long, default_value_t = 5.0)]
    minutes: f64,
    /// Backbone width (64 is ResNet-18); 8 learns the synthetic shapes fastest per
    /// second here.
    #[arg(long, default_value_t = 8)]
    width: usize,
    /// The head (see `fcn train --arch`); torchvision's FCNHead on a dilated
    /// backbone learns these shapes fastest per second.
    #[arg(long, value_enum, default_value_t = fcn::model::Arch::Torchvision)]
    arch: fcn::model::Arch,
    /// ResNet depth (see `fcn train --depth`).
    #[arg(long, default_value_t = 18)]
    depth: usize,
    /// The backbone's output stride (see `fcn train --output-stride`) [default: 32;
    /// 8 with --arch torchvision].
    #[arg(long)]
    output_stride: Option<usize>,
    /// Weight of torchvision's auxiliary head's loss; 0 (the default) leaves that
    /// head out, which here learns faster and costs less.
    #[arg(long, default_value_t = 0.0)]
    aux_weight: f64,
    /// 4 reaches a given mIoU in fewer epochs than 8 or 2 at about the same cost.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Each phase (the low-resolution epochs, then the full-size ones) warms up over
    /// 200 steps to this rate and decays it to zero (poly).
    #[arg(long, default_value_t = 0.02)]
    lr: f64,
    /// Epochs at half resolution before the full-size ones (progressive resizing:
    /// they cost about half as much and learn the shapes; the full-size epochs then
    /// learn their edges) [default: 2 of every 3 epochs, 8 of 12].
    #[arg(long)]
    low_res_epochs: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    if !(args.minutes.is_finite() && args.minutes > 0.0) {
        anyhow::bail!("--minutes must be a positive number, not {}", args.minutes);
    }
    // Checked before the data is generated: a bad flag should not cost a minute.
    let train_config = train_config(args);
    train_config.validate()?;
    if let Some(epochs) = args.epochs {
        low_res_epochs(args, epochs)?;
    }
    crate::threads::build_pool(args.threads, true)?;
    let started = Instant::now();
    let data_dir = args.out.join("data");
    let run_dir = args.out.join("run");
    let samples_dir = args.out.join("samples");
    for d in [&data_dir, &run_dir, &samples_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    generate(args, &data_dir)?;
    let (model, val_split) = train_model(args, train_config, &data_dir, &run_dir, started)?;

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
    write_report(
        args,
        &model.meta.describe(),
        &report_path,
        &run_dir,
        &metrics,
        &rows,
        elapsed,
    )?;
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

/// The most and fewest epochs the time budget may choose.
const MAX_EPOCHS: usize = 12;
const MIN_EPOCHS: usize = 3;

/// Held-out images scored after each full-size epoch for the training curve; step
/// 3 scores them all once. A sixth of an epoch's time went to scoring all 400.
const VAL_EACH_EPOCH: usize = 100;

/// Step 2: a fresh FCN trained on the data; returns it with the held-out split.
fn train_model(
    args: &Args,
    mut train_config: TrainConfig,
    data_dir: &Path,
    run_dir: &Path,
    started: Instant,
) -> anyhow::Result<(Fcn, Split)> {
    let options = ReadOptions::default();
    let train_split = data::open(data_dir, "train", &options)?;
    let val_split = data::open(data_dir, "val", &options)?;
    let mut val_each_epoch = val_split.clone();
    val_each_epoch.items.truncate(VAL_EACH_EPOCH);
    let classes = train_split.classes.clone();
    let torchvision = args.arch == fcn::model::Arch::Torchvision;
    let mut config = FcnConfig {
        arch: args.arch,
        depth: args.depth,
        output_stride: args
            .output_stride
            .unwrap_or(if torchvision { 8 } else { 32 }),
        aux: args.aux_weight > 0.0,
        width: args.width,
        ..FcnConfig::default()
    }
    .with_num_classes(classes.len());
    config.class_names = classes.names.clone();
    config
        .validate()
        .context("--arch / --depth / --output-stride / --width / --aux-weight")?;
    let device = args.device.open()?;
    let budget = Budget {
        args,
        config: &config,
        device: &device,
        train: &train_split,
        val: &val_each_epoch,
        held_out: val_split.len(),
        train_config: &train_config,
    };
    train_config.epochs = match args.epochs {
        Some(n) => n,
        None => budget.epochs(started)?,
    };
    train_config.low_res_epochs = low_res_epochs(args, train_config.epochs)?;
    // Seeded after the timing run, so the model is the one the seed alone gives.
    device.seed(args.seed);
    let model = Fcn::new(&config, &device);
    eprintln!(
        "[2/4] training an FCN ({}) for {} epochs (the first {} at half resolution) on {} images; scoring {} held-out images after each full-size one",
        config.describe(),
        train_config.epochs,
        train_config.low_res_epochs,
        train_split.len(),
        val_each_epoch.len()
    );
    let mut bar = crate::train::Bar::new(run_dir, Vec::new());
    let val = Some(val_each_epoch);
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

/// `--low-res-epochs`, or the demo's share of `epochs`; fewer than `epochs`.
fn low_res_epochs(args: &Args, epochs: usize) -> anyhow::Result<usize> {
    match args.low_res_epochs {
        Some(n) if n >= epochs => {
            anyhow::bail!("--low-res-epochs {n} leaves none of the {epochs} epochs at full size")
        }
        Some(n) => Ok(n),
        None => Ok(crate::demo_budget::low_res_epochs(epochs)),
    }
}

/// The demo's training settings; the epochs are the budget's unless `--epochs`.
fn train_config(args: &Args) -> TrainConfig {
    TrainConfig {
        epochs: args.epochs.unwrap_or(MAX_EPOCHS),
        batch_size: args.batch_size,
        lr: args.lr,
        weight_decay: 0.0,
        momentum: 0.0,
        optimizer: OptimizerKind::Adam,
        schedule: Schedule::Poly,
        warmup_steps: 200,
        crop: Some(args.size),
        pad_small: false,
        flip: true,
        seed: args.seed,
        workers: args.threads.unwrap_or(2).max(1),
        precision: args.device.precision,
        aux_weight: args.aux_weight,
        // Held-out images at full size say little about half-resolution epochs
        // (their mIoU stays near 0.2), and scoring them cost 3 s of the demo.
        validate_low_res: false,
        ..TrainConfig::default()
    }
}

/// What sizing the training to `--minutes` needs.
struct Budget<'a> {
    args: &'a Args,
    config: &'a FcnConfig,
    device: &'a burn::tensor::Device,
    train: &'a Split,
    /// The held-out images scored after each epoch.
    val: &'a Split,
    /// All the held-out images, scored once at the end.
    held_out: usize,
    train_config: &'a TrainConfig,
}

impl Budget<'_> {
    /// The epochs that fit in what is left of `--minutes` since `started`, from two
    /// timed short epochs of a throwaway model.
    fn epochs(&self, started: Instant) -> anyhow::Result<usize> {
        self.device.seed(self.args.seed);
        let copy = Fcn::new(self.config, self.device);
        let scratch = self.args.out.join("timing");
        let costs =
            crate::demo_budget::measure(copy, self.train, self.val, self.train_config, &scratch)
                .context("timing two short epochs")?;
        let n = Counts {
            train: self.train.len(),
            val_each_epoch: self.val.len(),
            held_out: self.held_out,
        };
        // A 10 % margin: the real epochs ran 13 % slower and faster than the timed
        // ones on one machine on one day.
        let left = 0.9 * self.args.minutes * 60.0 - started.elapsed().as_secs_f64();
        let epochs = crate::demo_budget::epochs(&costs, n, left, MIN_EPOCHS, MAX_EPOCHS);
        let (per_epoch, per_low) = (costs.epoch(n), costs.low_res_epoch(n));
        let minutes = self.args.minutes;
        let needed = costs.seconds_for(epochs, n);
        if needed > left {
            let total = started.elapsed().as_secs_f64() + needed;
            eprintln!(
                "      an epoch takes about {per_epoch:.0} s here ({per_low:.0} s at half resolution): even {epochs}, the fewest worth showing, take longer than {minutes} minutes (about {total:.0} s in all)"
            );
        } else {
            eprintln!(
                "      an epoch takes about {per_epoch:.0} s here ({per_low:.0} s at half resolution): {epochs} fit in {minutes} minutes (--epochs N or --minutes M to choose)"
            );
        }
        Ok(epochs)
    }
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
    network: &str,
    path: &Path,
    run_dir: &Path,
    metrics: &fcn::metrics::Metrics,
    rows: &[SampleRow],
    elapsed: f64,
) -> anyhow::Result<()> {
    let state = fcn::train::read_state(run_dir)?;
    let notes = vec![
        format!(
            "{} synthetic images of {}x{} (seed {}), {} classes; {network}; {} epochs of Adam, the first {} at half resolution (lr {} after 200 warmup steps, poly schedule, each phase), batch {}; the curve scores {} of the held-out images after each epoch (at full size, a scale the half-resolution epochs have not seen: their scores stay low until the first full-size epoch), the table all of them.",
            args.n,
            args.size.0,
            args.size.1,
            args.seed,
            metrics.per_class.len(),
            state.history.len(),
            state.config.low_res_epochs,
            args.lr,
            args.batch_size,
            VAL_EACH_EPOCH
        ),
        format!("Finished in {elapsed:.0} s."),
    ];
    let curves = crate::plot::curves(&state.history);
    let page = report::html("fcn demo", &curves, &state.history, metrics, rows, &notes);
    std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))
}
