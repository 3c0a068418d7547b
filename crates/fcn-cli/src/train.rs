//! `fcn train --data DIR --out RUN_DIR [...]`

use std::path::PathBuf;

use anyhow::{Context, bail};
use fcn::data::{self, DataError, ReadOptions};
use fcn::train::{EpochRecord, OptimizerKind, Progress, Schedule, TrainConfig};
use fcn::{Fcn, FcnConfig};
use indicatif::ProgressBar;

use crate::synth::parse_size;

#[derive(clap::Args)]
pub struct Args {
    /// Dataset: Pascal VOC layout (also `fcn synth` output) or an own-data folder.
    #[arg(long, required_unless_present = "resume")]
    data: Option<PathBuf>,
    /// Run directory for checkpoints, metrics.jsonl and curves.svg.
    #[arg(long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue the run in this directory from its last finished epoch.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// torchvision's ImageNet ResNet-18 weights (resnet18-f37072fd.pth) for the backbone.
    #[arg(long)]
    backbone: Option<PathBuf>,
    /// Start from a whole model (any weight file `fcn info` reads).
    #[arg(long, conflicts_with = "backbone")]
    weights: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 0.001)]
    lr: f64,
    #[arg(long, default_value_t = 1e-3)]
    weight_decay: f64,
    #[arg(long, default_value_t = 0.0)]
    momentum: f64,
    #[arg(long, value_enum, default_value = "sgd")]
    optimizer: Opt,
    #[arg(long, value_enum, default_value = "constant")]
    lr_schedule: Sched,
    /// Random crop, HEIGHTxWIDTH.
    #[arg(long, default_value = "320x480", value_parser = parse_size)]
    crop: (usize, usize),
    /// Pad images smaller than the crop (mask ignored) instead of leaving them out.
    #[arg(long)]
    pad_small: bool,
    /// Random horizontal flips.
    #[arg(long)]
    flip: bool,
    /// Number of classes (default: the dataset's).
    #[arg(long)]
    num_classes: Option<usize>,
    /// Backbone width (64 is ResNet-18; pretrained weights need 64).
    #[arg(long, default_value_t = 64)]
    width: usize,
    #[arg(long)]
    freeze_backbone: bool,
    #[arg(long)]
    freeze_upsampling: bool,
    /// Per-class loss weights, comma-separated.
    #[arg(long, value_delimiter = ',')]
    class_weights: Option<Vec<f32>>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Compute threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Skip unreadable or inconsistent files with a warning instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// Refuse images with more pixels than this.
    #[arg(long, default_value_t = data::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    /// Memory for decoded images, in MiB per split; epochs after the first skip
    /// decoding what fits (0: decode every time)
    #[arg(long, default_value_t = data::DEFAULT_CACHE_BYTES >> 20)]
    cache_mib: usize,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Opt {
    Sgd,
    Adam,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Sched {
    Constant,
    Poly,
}

/// Progress bar per epoch, one summary line after each.
pub struct Bar {
    bar: Option<ProgressBar>,
    loss: f64,
    skipped: usize,
}

impl Bar {
    pub fn new() -> Self {
        Self {
            bar: None,
            loss: f64::NAN,
            skipped: 0,
        }
    }

    pub fn skipped_count(&self) -> usize {
        self.skipped
    }
}

impl Progress for Bar {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        self.bar = Some(crate::progress::bar(
            batches as u64,
            &format!("epoch {epoch}"),
        ));
    }
    fn batch(&mut self, loss: f64, ips: f64) {
        self.loss = if self.loss.is_nan() {
            loss
        } else {
            0.9 * self.loss + 0.1 * loss
        };
        if let Some(b) = &self.bar {
            b.set_message(format!("loss {:.3} {ips:.1} img/s", self.loss));
            b.inc(1);
        }
    }
    fn validating(&mut self, done: usize, total: usize) {
        if let Some(b) = &self.bar {
            b.set_message(format!("validating {done}/{total}"));
        }
    }
    fn epoch_end(&mut self, r: &EpochRecord) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        self.loss = f64::NAN;
        let val = match (r.val_pixel_accuracy, r.val_miou) {
            (Some(a), Some(m)) => format!(", val acc {a:.3}, val mIoU {m:.3}"),
            _ => String::new(),
        };
        eprintln!(
            "epoch {}: loss {:.4}, train acc {:.3}{val}, {:.1} s",
            r.epoch, r.train_loss, r.train_pixel_accuracy, r.seconds
        );
    }
    fn skipped(&mut self, e: &DataError) {
        self.skipped += 1;
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("warning: skipped {e}")),
            None => eprintln!("warning: skipped {e}"),
        }
    }
}

pub fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(t) = threads {
        anyhow::ensure!(t > 0, "--threads must be at least 1");
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .context("cannot set the thread count")?;
    }
    Ok(())
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    set_threads(args.threads)?;
    let (run_dir, resume) = match (&args.resume, &args.out) {
        (Some(r), _) => (r.clone(), true),
        (None, Some(o)) => (o.clone(), false),
        (None, None) => bail!("give --out RUN_DIR (or --resume RUN_DIR)"),
    };
    let mut config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        weight_decay: args.weight_decay,
        momentum: args.momentum,
        optimizer: match args.optimizer {
            Opt::Sgd => OptimizerKind::Sgd,
            Opt::Adam => OptimizerKind::Adam,
        },
        schedule: match args.lr_schedule {
            Sched::Constant => Schedule::Constant,
            Sched::Poly => Schedule::Poly,
        },
        crop: Some(args.crop),
        pad_small: args.pad_small,
        flip: args.flip,
        freeze_backbone: args.freeze_backbone,
        freeze_upsampling: args.freeze_upsampling,
        class_weights: args.class_weights.clone(),
        seed: args.seed,
        workers: args.threads.unwrap_or(2).max(1),
        skip_bad: args.skip_bad,
    };
    anyhow::ensure!(config.batch_size > 0, "--batch-size must be at least 1");
    anyhow::ensure!(
        config.lr > 0.0 && config.lr.is_finite(),
        "--lr must be a positive number"
    );
    let data_dir = match (&args.data, resume) {
        (Some(d), _) => d.clone(),
        (None, true) => {
            let saved: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(run_dir.join("data.json"))
                    .context("the run has no data.json; give --data")?,
            )?;
            PathBuf::from(saved["data"].as_str().context("data.json lacks data")?)
        }
        (None, false) => bail!("give --data DIR"),
    };
    if resume {
        let state = fcn::train::read_state(&run_dir)?;
        let epochs = config.epochs.max(state.config.epochs);
        config = fcn::train::TrainConfig {
            epochs,
            ..state.config
        };
    }
    let options = ReadOptions {
        max_pixels: args.max_pixels,
        skip_bad: config.skip_bad,
        cache_bytes: args.cache_mib << 20,
        ..Default::default()
    };
    let train_split =
        data::open(&data_dir, "train", &options).context("cannot open the training split")?;
    let val_split = data::open(&data_dir, "val", &options).ok();
    let mut bar = Bar::new();
    for e in &train_split.skipped {
        Progress::skipped(&mut bar, e);
    }
    let device = burn::tensor::Device::flex();
    let classes = train_split.classes.clone();
    let num_classes = args.num_classes.unwrap_or(classes.len());
    let mut model_config = FcnConfig {
        width: args.width,
        ..FcnConfig::default()
    }
    .with_num_classes(num_classes);
    if num_classes == classes.len() {
        model_config.class_names = classes.names.clone();
    }
    let model = if resume {
        Fcn::load(run_dir.join("model.safetensors"), &device)
            .context("cannot load the run's model")?
    } else if let Some(w) = &args.weights {
        let m = Fcn::load_with(w, &model_config, &device).context("cannot load --weights")?;
        anyhow::ensure!(
            m.num_classes() == num_classes,
            "{} has {} classes but the data has {num_classes}; use --num-classes or other weights",
            w.display(),
            m.num_classes()
        );
        m
    } else if let Some(b) = &args.backbone {
        anyhow::ensure!(args.width == 64, "--backbone needs --width 64 (ResNet-18)");
        Fcn::load_with(b, &model_config, &device).context("cannot load --backbone")?
    } else {
        Fcn::new(&model_config, &device)
    };
    anyhow::ensure!(
        model.num_classes() >= classes.len(),
        "the model has {} classes but the data has {}",
        model.num_classes(),
        classes.len()
    );
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    std::fs::write(
        run_dir.join("data.json"),
        serde_json::json!({ "data": std::path::absolute(&data_dir)? }).to_string(),
    )?;
    eprintln!(
        "training on {} images ({} classes) from {}, validating on {}; run directory {}",
        train_split.len(),
        classes.len(),
        data_dir.display(),
        val_split
            .as_ref()
            .map_or("nothing".to_string(), |v| format!("{} images", v.len())),
        run_dir.display()
    );
    let model = fcn::train::train(
        &run_dir,
        model,
        train_split,
        val_split,
        &config,
        resume,
        &mut bar,
    )?;
    let _ = model;
    if bar.skipped_count() > 0 {
        eprintln!("warning: {} files were skipped", bar.skipped_count());
    }
    println!("{}", run_dir.join("model.safetensors").display());
    Ok(())
}
