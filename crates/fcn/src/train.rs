//! Training: the loop, the optimiser and its schedule, per-epoch metrics and
//! checkpoints, resuming, and a stop on a non-finite loss.
//!
//! A run directory holds:
//! * `model.safetensors`: the latest weights (an fcn checkpoint, loadable by PyTorch);
//! * `resume/epoch-N.bpk` and `resume/optimizer-N.bin`: Burn's records of the model
//!   and the optimiser state after epoch N, for `--resume`;
//! * `state.json`: the configuration and every finished epoch's record. It is written
//!   last, atomically, after everything else of an epoch: it is the commit point, so a
//!   run killed at any moment resumes from the last epoch it names;
//! * `metrics.jsonl` (one line per epoch), regenerated from it; the command line
//!   draws `curves.svg` from the same records.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::loader::{self, Augmentation, AugmentedSplit};
use crate::data::{DataError, Split};
use crate::infer::{self, TileOptions};
use crate::model::{Fcn, FcnNet};
use crate::weights::write_atomically;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    /// `lr · (1 − step / total_steps)^0.9`.
    Poly,
}

/// Everything that shapes a run. The defaults are the textbook's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub optimizer: OptimizerKind,
    pub schedule: Schedule,
    /// Random crop `(height, width)`.
    pub crop: Option<(usize, usize)>,
    pub pad_small: bool,
    pub flip: bool,
    pub freeze_backbone: bool,
    pub freeze_upsampling: bool,
    pub class_weights: Option<Vec<f32>>,
    pub seed: u64,
    /// Loader threads.
    pub workers: usize,
    pub skip_bad: bool,
}

impl TrainConfig {
    /// The textbook's settings; also the command line's defaults.
    pub const DEFAULT: TrainConfig = TrainConfig {
        epochs: 5,
        batch_size: 32,
        lr: 0.001,
        weight_decay: 1e-3,
        momentum: 0.0,
        optimizer: OptimizerKind::Sgd,
        schedule: Schedule::Constant,
        crop: Some((320, 480)),
        pad_small: false,
        flip: false,
        freeze_backbone: false,
        freeze_upsampling: false,
        class_weights: None,
        seed: 0,
        workers: 2,
        skip_bad: false,
    };
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_pixel_accuracy: f64,
    pub val_pixel_accuracy: Option<f64>,
    pub val_miou: Option<f64>,
    pub seconds: f64,
}

/// `state.json`: the run's configuration and history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    pub config: TrainConfig,
    pub history: Vec<EpochRecord>,
    /// Steps taken so far (for the schedule).
    pub steps: usize,
    /// The training data's folder (absolute), so `--resume` needs no `--data`. Runs
    /// written before it existed kept it in `data.json`.
    #[serde(default)]
    pub data: Option<PathBuf>,
}

impl TrainConfig {
    /// Checks every value a user can give, before a run starts.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(TrainError::Config(m.to_string()));
        if self.epochs == 0 {
            return bad("--epochs must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("--batch-size must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("--lr must be a positive number");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("--weight-decay must be zero or positive");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("--momentum must be in [0, 1)");
        }
        if let Some(w) = &self.class_weights {
            if w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return bad("--class-weights must be zero or positive numbers");
            }
            if w.iter().all(|v| *v == 0.0) {
                return bad("--class-weights are all zero: no pixel would count");
            }
        }
        if self.crop.is_some_and(|(h, w)| h == 0 || w == 0) {
            return bad("--crop sides must be at least 1");
        }
        Ok(())
    }

    /// The fields a resumed run may change: the epoch count (to extend it), the
    /// loader threads and whether bad files are skipped. Everything else must be
    /// the saved run's, or the run would not be the same run.
    fn same_run_as(&self, saved: &TrainConfig) -> std::result::Result<(), String> {
        let ours = TrainConfig {
            epochs: saved.epochs,
            workers: saved.workers,
            skip_bad: saved.skip_bad,
            ..self.clone()
        };
        let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
            (serde_json::to_value(saved), serde_json::to_value(&ours))
        else {
            return Err("the configurations cannot be compared".into());
        };
        let differ: Vec<String> = a
            .iter()
            .filter(|(k, v)| b.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: saved {v}, given {}", b[k]))
            .collect();
        if differ.is_empty() {
            Ok(())
        } else {
            Err(differ.join("; "))
        }
    }
}

/// The configuration of the run in `run_dir`, to continue it: the saved one, with
/// `epochs` raised (never lowered below the finished epochs) when given.
pub fn resume_config(run_dir: &Path, epochs: Option<usize>) -> Result<TrainConfig> {
    let state = read_state(run_dir)?;
    let done = state.history.last().map_or(0, |r| r.epoch);
    let mut config = state.config;
    if let Some(e) = epochs {
        if e < done {
            return Err(TrainError::Config(format!(
                "--epochs {e} is below the {done} epochs the run has finished"
            )));
        }
        config.epochs = e;
    }
    Ok(config)
}

/// What the loop reports as it goes.
pub trait Progress {
    /// Before an epoch of `batches` batches.
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {}
    /// After each batch.
    fn batch(&mut self, _loss: f64, _images_per_second: f64) {}
    /// While validating: `done` of `total` images.
    fn validating(&mut self, _done: usize, _total: usize) {}
    /// After an epoch, once its checkpoint is safe.
    fn epoch_end(&mut self, _record: &EpochRecord) {}
    /// A file skipped with `skip_bad`.
    fn skipped(&mut self, _error: &DataError) {}
}

/// Ignores everything.
pub struct Quiet;
impl Progress for Quiet {}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] crate::FcnError),
    /// A setting that cannot work, or that differs from the run being resumed.
    #[error("{0}")]
    Config(String),
    /// Another process is training into the same run directory.
    #[error("{} is in use by another fcn train (process {pid}); wait for it or choose another --out", .dir.display())]
    Locked { dir: PathBuf, pid: String },
    #[error("{0}")]
    Run(String),
}

type Result<T> = std::result::Result<T, TrainError>;

fn run_err(m: impl Into<String>) -> TrainError {
    TrainError::Run(m.into())
}

fn build_optimizer(config: &TrainConfig) -> ModuleOptimizer {
    let decay =
        (config.weight_decay > 0.0).then(|| WeightDecayConfig::new(config.weight_decay as f32));
    match config.optimizer {
        OptimizerKind::Sgd => {
            let momentum = (config.momentum > 0.0).then(|| {
                // PyTorch's SGD has no dampening by default.
                MomentumConfig::new()
                    .with_momentum(config.momentum)
                    .with_dampening(0.0)
            });
            SgdConfig::new()
                .with_weight_decay(decay)
                .with_momentum(momentum)
                .init()
        }
        OptimizerKind::Adam => AdamConfig::new().with_weight_decay(decay).init(),
    }
}

fn learning_rate(config: &TrainConfig, step: usize, total: usize) -> f64 {
    match config.schedule {
        Schedule::Constant => config.lr,
        Schedule::Poly => config.lr * (1.0 - step as f64 / total.max(1) as f64).max(0.0).powf(0.9),
    }
}

fn freeze(net: FcnNet, config: &TrainConfig) -> FcnNet {
    let mut net = net;
    if config.freeze_backbone {
        net.backbone = net.backbone.no_grad();
    }
    if config.freeze_upsampling {
        net.head.transpose_conv = net.head.transpose_conv.no_grad();
    }
    net
}

/// Where the run's files go.
struct RunDir(PathBuf);

impl RunDir {
    /// Takes the run directory's advisory lock (`RUN/lock`, holding our process id)
    /// for as long as the returned file is open.
    fn lock(&self) -> Result<std::fs::File> {
        use std::io::{Read, Seek, Write};
        let path = self.0.join("lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io(&path, format!("cannot open: {e}")))?;
        if let Err(e) = file.try_lock() {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            return match e {
                std::fs::TryLockError::WouldBlock => Err(TrainError::Locked {
                    dir: self.0.clone(),
                    pid: pid.trim().to_string(),
                }),
                std::fs::TryLockError::Error(e) => Err(io(&path, format!("cannot lock: {e}"))),
            };
        }
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()));
        written.map_err(|e| io(&path, format!("cannot write: {e}")))?;
        Ok(file)
    }

    fn state(&self) -> PathBuf {
        self.0.join("state.json")
    }
    fn resume_model(&self, epoch: usize) -> PathBuf {
        self.0.join("resume").join(format!("epoch-{epoch}.bpk"))
    }
    fn resume_optimizer(&self, epoch: usize) -> PathBuf {
        self.0.join("resume").join(format!("optimizer-{epoch}.bin"))
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> TrainError {
    run_err(format!("{}: {e}", path.display()))
}

/// Reads a run's `state.json`.
pub fn read_state(run_dir: &Path) -> Result<RunState> {
    let path = RunDir(run_dir.to_path_buf()).state();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        io(
            &path,
            format!("cannot read ({e}); is this a run directory?"),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| io(&path, format!("corrupt run state: {e}")))
}

/// Trains `model` on `train`, validating on `val` after every epoch, writing into
/// `run_dir`. With `resume`, `run_dir` must hold a run; its configuration, weights,
/// optimiser state and schedule continue from the last finished epoch (`config.epochs`
/// may raise the epoch count).
pub fn train(
    run_dir: &Path,
    model: Fcn,
    train: Split,
    val: Option<Split>,
    config: &TrainConfig,
    resume: bool,
    progress: &mut dyn Progress,
) -> Result<Fcn> {
    config.validate()?;
    let dir = RunDir(run_dir.to_path_buf());
    let resume_dir = run_dir.join("resume");
    std::fs::create_dir_all(&resume_dir)
        .map_err(|e| io(&resume_dir, format!("cannot create: {e}")))?;
    let _lock = dir.lock()?;
    let device = model.device.clone();
    let meta = model.meta.clone();
    let mut optimizer = build_optimizer(config);
    let mut state = RunState {
        config: config.clone(),
        history: Vec::new(),
        steps: 0,
        data: std::path::absolute(&train.root).ok(),
    };
    let mut net = model.net;
    if resume {
        let previous = read_state(run_dir)?;
        config.same_run_as(&previous.config).map_err(|diff| {
            TrainError::Config(format!(
                "{} was started with other settings; only --epochs, --threads and \
                 --skip-bad may change on resume ({diff})",
                run_dir.display()
            ))
        })?;
        state = RunState {
            config: config.clone(),
            data: previous.data.or(state.data),
            ..previous
        };
        if let Some(last) = state.history.last().map(|r| r.epoch) {
            let path = dir.resume_model(last);
            net = net
                .try_load_file(&path)
                .map_err(|e| io(&path, format!("cannot load the checkpoint: {e:?}")))?;
            let path = dir.resume_optimizer(last);
            optimizer = optimizer
                .load(&path)
                .map_err(|e| io(&path, format!("cannot load the optimiser state: {e:?}")))?;
        }
    }
    let config = state.config.clone();
    if let Some(w) = &config.class_weights
        && w.len() != meta.num_classes
    {
        return Err(run_err(format!(
            "--class-weights has {} values but the model has {} classes",
            w.len(),
            meta.num_classes
        )));
    }
    let aug = Augmentation {
        crop: config.crop,
        pad_small: config.pad_small,
        flip: config.flip,
        mean: meta.mean,
        std: meta.std,
        seed: config.seed,
    };
    let (dataset, dropped) = AugmentedSplit::new(train, aug);
    for d in &dropped {
        progress.skipped(d);
    }
    let n_train = burn::data::dataset::Dataset::len(&dataset);
    if n_train == 0 {
        return Err(run_err(
            "no training image is at least as large as the crop (--pad-small pads them instead)",
        ));
    }
    let epoch_handle = dataset.epoch();
    let ad = device.clone().autodiff();
    let loader = loader::build(
        dataset,
        config.batch_size,
        Some(config.seed),
        config.workers,
        &ad,
    );
    let batches_per_epoch = n_train.div_ceil(config.batch_size.max(1));
    let total_steps = batches_per_epoch * config.epochs;
    let weights = config
        .class_weights
        .as_ref()
        .map(|w| Tensor::<1>::from_data(TensorData::new(w.clone(), [w.len()]), &ad));
    let first = state.history.last().map_or(1, |r| r.epoch + 1);
    let mut net = freeze(net.train(), &config);
    for epoch in first..=config.epochs {
        let started = Instant::now();
        epoch_handle.store(epoch as u64, Ordering::Relaxed);
        progress.epoch_start(epoch, batches_per_epoch);
        let (mut loss_sum, mut loss_n, mut correct, mut counted) = (0.0f64, 0usize, 0u64, 0u64);
        for batch in loader.iter() {
            let batch = batch.map_err(|e| run_err(format!("data loader: {e}")))?;
            for f in &batch.failures {
                if config.skip_bad {
                    progress.skipped(f);
                } else {
                    return Err(TrainError::Data(f.clone()));
                }
            }
            let n = batch.names.len();
            if n == 0 {
                continue;
            }
            let t = Instant::now();
            let logits = net.forward(batch.images);
            let (loss, (c, k)) = match &weights {
                Some(w) => (
                    crate::loss::weighted_cross_entropy(
                        logits.clone(),
                        batch.labels.clone(),
                        w.clone(),
                    ),
                    crate::loss::pixel_hits(&logits.detach(), &batch.labels),
                ),
                None => crate::loss::cross_entropy_with_hits(logits, batch.labels),
            };
            let value: f32 = loss.clone().into_scalar();
            if !value.is_finite() {
                let kept = state
                    .history
                    .last()
                    .map_or("none was written".to_string(), |r| {
                        format!("epoch {} is kept in {}", r.epoch, run_dir.display())
                    });
                return Err(run_err(format!(
                    "the loss became {value} in epoch {epoch}; stopping (try a lower --lr). The last good checkpoint: {kept}"
                )));
            }
            correct += c;
            counted += k;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            let lr = learning_rate(&config, state.steps, total_steps);
            net = optimizer.step(lr, net, grads);
            state.steps += 1;
            loss_sum += value as f64;
            loss_n += 1;
            progress.batch(value as f64, n as f64 / t.elapsed().as_secs_f64());
        }
        let (val_acc, val_miou) = match &val {
            Some(v) => {
                let current = Fcn {
                    net: net.valid(),
                    meta: meta.clone(),
                    device: device.clone(),
                    origin: None,
                };
                let eval = infer::evaluate(&current, v, TileOptions::default(), |d, t| {
                    progress.validating(d, t)
                })
                .map_err(|e| run_err(e.to_string()))?;
                for s in &eval.skipped {
                    progress.skipped(s);
                }
                let m = eval.confusion.metrics(&meta.class_names);
                (Some(m.pixel_accuracy), Some(m.miou))
            }
            None => (None, None),
        };
        let record = EpochRecord {
            epoch,
            train_loss: if loss_n == 0 {
                f64::NAN
            } else {
                loss_sum / loss_n as f64
            },
            train_pixel_accuracy: if counted == 0 {
                0.0
            } else {
                correct as f64 / counted as f64
            },
            val_pixel_accuracy: val_acc,
            val_miou,
            seconds: started.elapsed().as_secs_f64(),
        };
        state.history.push(record.clone());
        save_epoch(&dir, &net, &optimizer, &state, &meta, &device)?;
        progress.epoch_end(&record);
    }
    Ok(Fcn {
        net: net.valid(),
        meta,
        device,
        origin: None,
    })
}

/// Writes everything of a finished epoch, `state.json` last.
fn save_epoch(
    dir: &RunDir,
    net: &FcnNet,
    optimizer: &ModuleOptimizer,
    state: &RunState,
    meta: &crate::FcnConfig,
    device: &Device,
) -> Result<()> {
    let epoch = state.history.last().map_or(0, |r| r.epoch);
    let model = Fcn {
        net: net.valid(),
        meta: meta.clone(),
        device: device.clone(),
        origin: None,
    };
    model.save(dir.0.join("model.safetensors"))?;
    let record = net
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| run_err(format!("cannot serialise the model: {e:?}")))?;
    write_atomically(&dir.resume_model(epoch), &record)?;
    let bytes = optimizer
        .into_bytes()
        .map_err(|e| run_err(format!("cannot serialise the optimiser state: {e:?}")))?;
    write_atomically(&dir.resume_optimizer(epoch), &bytes)?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| run_err(e.to_string()))?;
    write_atomically(&dir.state(), &json)?;
    // Derived files, rebuilt from the committed state.
    let lines: String = state
        .history
        .iter()
        .map(|r| serde_json::to_string(r).map(|s| s + "\n"))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| run_err(e.to_string()))?;
    write_atomically(&dir.0.join("metrics.jsonl"), lines.as_bytes())?;
    // Older resume points are no longer needed.
    for old in 1..epoch {
        let _ = std::fs::remove_file(dir.resume_model(old));
        let _ = std::fs::remove_file(dir.resume_optimizer(old));
    }
    Ok(())
}
