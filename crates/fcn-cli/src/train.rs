//! `fcn train --data DIR --out RUN_DIR [...]`

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::ArgMatches;
use clap::parser::ValueSource;
use fcn::FcnConfig;
use fcn::data::{self, DataError, ReadOptions};
use fcn::train::{EpochRecord, OptimizerKind, Progress, Schedule, TrainConfig};
use indicatif::ProgressBar;

use crate::synth::parse_size;
use crate::train_flags::{
    ClassWeights, auto_class_weights, parse_class_weights, parse_jitter, parse_scale,
};
use crate::train_model::build_model;

/// The library's defaults are the command line's.
const DEFAULTS: TrainConfig = TrainConfig::DEFAULT;

/// `DEFAULTS.crop` as `--crop` spells it (a test keeps the two equal).
const DEFAULT_CROP: &str = "320x480";

/// Flags that shape a run, by their `TrainConfig` field: on resume the saved values
/// hold, and giving one of these with another value is an error (the same value
/// is fine, so the first command line can be run again with `--resume`).
const RUN_FLAGS: [(&str, &str); 20] = [
    ("batch_size", "batch_size"),
    ("lr", "lr"),
    ("weight_decay", "weight_decay"),
    ("momentum", "momentum"),
    ("optimizer", "optimizer"),
    ("lr_schedule", "schedule"),
    ("warmup_steps", "warmup_steps"),
    ("crop", "crop"),
    ("pad_small", "pad_small"),
    ("flip", "flip"),
    ("scale", "scale"),
    ("color_jitter", "color_jitter"),
    ("freeze_backbone", "freeze_backbone"),
    ("freeze_upsampling", "freeze_upsampling"),
    ("class_weights", "class_weights"),
    ("aux_weight", "aux_weight"),
    ("seed", "seed"),
    ("skip_bad", "skip_bad"),
    ("low_res_epochs", "low_res_epochs"),
    ("low_res_scale", "low_res_scale"),
];

#[derive(clap::Args)]
pub struct Args {
    /// Dataset: Pascal VOC layout (also `fcn synth` output) or an own-data folder.
    #[arg(long, required_unless_present = "resume")]
    pub(crate) data: Option<PathBuf>,
    /// Run directory for checkpoints, metrics.jsonl and curves.svg.
    #[arg(long, required_unless_present = "resume")]
    pub(crate) out: Option<PathBuf>,
    /// Continue the run in this directory from its last finished epoch.
    #[arg(long, value_name = "RUN_DIR")]
    pub(crate) resume: Option<PathBuf>,
    /// The backbone of this weight file, with a fresh head: torchvision's ImageNet
    /// ResNets (resnet18-f37072fd.pth, resnet50-0676ba61.pth, …), its COCO-trained
    /// FCNs (fcn_resnet50_coco-1167a1af.pth) or any model `fcn info` reads; the
    /// depth is read from the file.
    #[arg(long)]
    pub(crate) backbone: Option<PathBuf>,
    /// Start from a whole model (any weight file `fcn info` reads).
    #[arg(long, conflicts_with = "backbone")]
    pub(crate) weights: Option<PathBuf>,
    /// Epochs in all; with --resume, raises the saved count.
    #[arg(long, default_value_t = DEFAULTS.epochs)]
    pub(crate) epochs: usize,
    #[arg(long, default_value_t = DEFAULTS.batch_size)]
    pub(crate) batch_size: usize,
    #[arg(long, default_value_t = DEFAULTS.lr)]
    pub(crate) lr: f64,
    #[arg(long, default_value_t = DEFAULTS.weight_decay)]
    pub(crate) weight_decay: f64,
    #[arg(long, default_value_t = DEFAULTS.momentum)]
    pub(crate) momentum: f64,
    #[arg(long, value_enum, default_value_t = DEFAULTS.optimizer)]
    pub(crate) optimizer: OptimizerKind,
    #[arg(long, value_enum, default_value_t = DEFAULTS.schedule)]
    pub(crate) lr_schedule: Schedule,
    /// Steps over which the learning rate first rises linearly to --lr.
    #[arg(long, default_value_t = DEFAULTS.warmup_steps)]
    pub(crate) warmup_steps: usize,
    /// Rescale each training image and mask by a random factor in MIN,MAX before the
    /// crop (bilinear for images, nearest for masks), e.g. 0.5,2.0.
    #[arg(long, value_parser = parse_scale)]
    pub(crate) scale: Option<(f64, f64)>,
    /// Photometric jitter B,C,S,H as torchvision's ColorJitter (brightness,
    /// contrast, saturation, hue), e.g. 0.3,0.3,0.3,0.05.
    #[arg(long, value_parser = parse_jitter)]
    pub(crate) color_jitter: Option<fcn::data::jitter::ColorJitter>,
    /// Random crop, HEIGHTxWIDTH.
    #[arg(long, default_value = DEFAULT_CROP, value_parser = parse_size)]
    pub(crate) crop: (usize, usize),
    /// Pad images smaller than the crop (mask ignored) instead of leaving them out.
    #[arg(long)]
    pub(crate) pad_small: bool,
    /// Random horizontal flips.
    #[arg(long)]
    pub(crate) flip: bool,
    /// Progressive resizing: the first N epochs train on images and crops scaled by
    /// --low-res-scale, which costs a fraction of a full epoch; the rest at full size.
    #[arg(long, default_value_t = DEFAULTS.low_res_epochs, value_name = "N")]
    pub(crate) low_res_epochs: usize,
    /// The scale of the --low-res-epochs.
    #[arg(long, default_value_t = DEFAULTS.low_res_scale)]
    pub(crate) low_res_scale: f64,
    /// Number of classes (default: the dataset's).
    #[arg(long)]
    pub(crate) num_classes: Option<usize>,
    /// Backbone width (64 is torchvision's; pretrained weights need 64).
    #[arg(long, default_value_t = FcnConfig::default().width)]
    pub(crate) width: usize,
    /// The head: fcn32s (the textbook's, one ×32 upsampling), fcn16s or fcn8s (skip
    /// connections from the stride-16 and stride-8 stages: finer masks), or
    /// torchvision (FCNHead on a dilated backbone, as fcn_resnet50/101).
    #[arg(long, value_enum, default_value_t = FcnConfig::default().arch)]
    pub(crate) arch: fcn::model::Arch,
    /// ResNet depth: 18, 34, 50 or 101 [default: 18; 50 with --arch torchvision;
    /// --backbone's].
    #[arg(long)]
    pub(crate) depth: Option<usize>,
    /// The backbone's output stride, 32, 16 or 8 (16 and 8 dilate the last stages;
    /// --arch torchvision only) [default: 32; 8 with --arch torchvision].
    #[arg(long)]
    pub(crate) output_stride: Option<usize>,
    /// Weight of the auxiliary head's loss (--arch torchvision; 0 leaves the
    /// auxiliary head out).
    #[arg(long, default_value_t = DEFAULTS.aux_weight)]
    pub(crate) aux_weight: f64,
    #[arg(long)]
    pub(crate) freeze_backbone: bool,
    #[arg(long)]
    pub(crate) freeze_upsampling: bool,
    /// Per-class loss weights, comma-separated, or `auto`: median-frequency
    /// weights from one pass over the training masks.
    #[arg(long, value_parser = parse_class_weights)]
    pub(crate) class_weights: Option<ClassWeights>,
    #[arg(long, default_value_t = DEFAULTS.seed)]
    pub(crate) seed: u64,
    /// Compute threads (default: all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Skip unreadable or inconsistent files with a warning instead of stopping.
    #[arg(long)]
    pub(crate) skip_bad: bool,
    /// Refuse images with more pixels than this.
    #[arg(long, default_value_t = data::DEFAULT_MAX_PIXELS)]
    pub(crate) max_pixels: u64,
    /// Memory for decoded images, in MiB per split; epochs after the first skip
    /// decoding what fits (0: decode every time)
    #[arg(long, default_value_t = data::DEFAULT_CACHE_BYTES >> 20)]
    pub(crate) cache_mib: usize,
    #[command(flatten)]
    pub(crate) device: crate::device::DeviceArg,
}

/// Progress bar per epoch, one summary line after each.
/// Also draws the run's `curves.svg` after each epoch.
pub struct Bar {
    bar: Option<ProgressBar>,
    loss: f64,
    skipped: usize,
    run_dir: PathBuf,
    history: Vec<EpochRecord>,
}

impl Bar {
    /// For a run in `run_dir` whose finished epochs are `history`.
    pub fn new(run_dir: &std::path::Path, history: Vec<EpochRecord>) -> Self {
        Self {
            bar: None,
            loss: f64::NAN,
            skipped: 0,
            run_dir: run_dir.to_path_buf(),
            history,
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
        self.history.push(r.clone());
        let path = self.run_dir.join("curves.svg");
        let svg = crate::plot::curves(&self.history);
        if let Err(e) = fcn::weights::write_atomically(&path, svg.as_bytes()) {
            eprintln!("warning: {e}");
        }
    }
    fn skipped(&mut self, e: &DataError) {
        self.skipped += 1;
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("warning: skipped {e}")),
            None => eprintln!("warning: skipped {e}"),
        }
    }
}

pub fn run(args: &Args, matches: &ArgMatches) -> anyhow::Result<()> {
    crate::threads::build_pool(args.threads, true)?;
    let auto_weights = args.class_weights == Some(ClassWeights::Auto);
    // A resumed run keeps the weights it computed at its start.
    let given = |id: &str| {
        matches.value_source(id) == Some(ValueSource::CommandLine)
            && !(auto_weights && id == "class_weights")
    };
    let (run_dir, resume) = match (&args.resume, &args.out) {
        (Some(r), _) => (r.clone(), true),
        (None, Some(o)) => (o.clone(), false),
        (None, None) => bail!("give --out RUN_DIR (or --resume RUN_DIR)"),
    };
    let mut config = if resume {
        if let Some(flag) = ["backbone", "weights"].into_iter().find(|id| given(id)) {
            bail!("--{flag} cannot be given with --resume: the run continues from its own weights");
        }
        let saved = fcn::train::resume_config(&run_dir, given("epochs").then_some(args.epochs))?;
        let mut c = with_given_flags(saved, &new_config(args), &given)?;
        c.workers = args.threads.unwrap_or(2).max(1);
        // Like --device, each invocation says what it computes in.
        c.precision = args.device.precision;
        c
    } else {
        new_config(args)
    };
    config.validate()?;
    let data_dir = match (&args.data, resume) {
        (Some(d), _) => d.clone(),
        (None, true) => saved_data_dir(&run_dir)?,
        (None, false) => bail!("give --data DIR"),
    };
    let options = ReadOptions {
        max_pixels: args.max_pixels,
        skip_bad: config.skip_bad,
        cache_bytes: args.cache_mib << 20,
        ..Default::default()
    };
    let train_split =
        data::open(&data_dir, "train", &options).context("cannot open the training split")?;
    let val_split = data::open_optional(&data_dir, "val", &options)
        .context("cannot open the validation split")?;
    if auto_weights && !resume {
        config.class_weights = Some(auto_class_weights(&train_split)?);
        config.validate()?;
    }
    let history = match resume {
        true => fcn::train::read_state(&run_dir)?.history,
        false => Vec::new(),
    };
    let mut bar = Bar::new(&run_dir, history);
    for e in train_split
        .skipped
        .iter()
        .chain(val_split.iter().flat_map(|v| &v.skipped))
    {
        Progress::skipped(&mut bar, e);
    }
    let model = build_model(args, &given, &run_dir, resume, &train_split.classes)?;
    eprintln!(
        "training on {} images ({} classes) from {} ({}), validating on {}; run directory {}",
        train_split.len(),
        train_split.classes.len(),
        data_dir.display(),
        data::Format::detect(&data_dir).name(),
        val_split
            .as_ref()
            .map_or("nothing (no val split)".to_string(), |v| format!(
                "{} images",
                v.len()
            )),
        run_dir.display()
    );
    fcn::train::train(
        &run_dir,
        model,
        train_split,
        val_split,
        &config,
        resume,
        &mut bar,
    )?;
    if bar.skipped_count() > 0 {
        eprintln!("warning: {} files were skipped", bar.skipped_count());
    }
    println!("{}", run_dir.join("model.safetensors").display());
    Ok(())
}

/// A new run's configuration from the flags.
fn new_config(args: &Args) -> TrainConfig {
    TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        weight_decay: args.weight_decay,
        momentum: args.momentum,
        optimizer: args.optimizer,
        schedule: args.lr_schedule,
        warmup_steps: args.warmup_steps,
        crop: Some(args.crop),
        pad_small: args.pad_small,
        flip: args.flip,
        scale: args.scale,
        color_jitter: args.color_jitter,
        freeze_backbone: args.freeze_backbone,
        freeze_upsampling: args.freeze_upsampling,
        class_weights: match &args.class_weights {
            Some(ClassWeights::Given(w)) => Some(w.clone()),
            // Filled in from the training masks once the data is open.
            Some(ClassWeights::Auto) | None => None,
        },
        aux_weight: args.aux_weight,
        seed: args.seed,
        workers: args.threads.unwrap_or(2).max(1),
        skip_bad: args.skip_bad,
        precision: args.device.precision,
        low_res_epochs: args.low_res_epochs,
        low_res_scale: args.low_res_scale,
        validate_low_res: true,
    }
}

/// `saved` with the fields of `flags` whose flag was given on the command line; the
/// library refuses the result if it changes the run (naming the fields).
fn with_given_flags(
    saved: TrainConfig,
    flags: &TrainConfig,
    given: &dyn Fn(&str) -> bool,
) -> anyhow::Result<TrainConfig> {
    let mut merged = serde_json::to_value(&saved)?;
    let flags = serde_json::to_value(flags)?;
    for (id, field) in RUN_FLAGS {
        if given(id) {
            merged[field] = flags[field].clone();
        }
    }
    Ok(serde_json::from_value(merged)?)
}

/// The data folder a run was started on: in its state, or in the `data.json` of
/// runs written before the state kept it.
fn saved_data_dir(run_dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    if let Some(d) = fcn::train::read_state(run_dir)?.data {
        return Ok(d);
    }
    let path = run_dir.join("data.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read; give --data", path.display()))?;
    let saved: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let data = saved["data"].as_str();
    Ok(PathBuf::from(data.with_context(|| {
        format!("{} lacks \"data\"", path.display())
    })?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crop_flag_defaults_to_the_library_crop() {
        assert_eq!(parse_size(DEFAULT_CROP).ok(), DEFAULTS.crop);
    }
}
