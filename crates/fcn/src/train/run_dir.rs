//! The run directory: every file of a run, and the order they are written in.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use crate::error::{FcnError, Result};
use crate::model::{Fcn, FcnConfig, FcnNet};
use crate::weights::write_atomically;

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

/// Where the run's files go.
pub(super) struct RunDir(PathBuf);

impl RunDir {
    /// The run directory `path`, created if needed and locked against a second run
    /// for as long as the returned value lives.
    pub(super) fn open(path: &Path) -> Result<(RunDir, std::fs::File)> {
        let resume = path.join("resume");
        std::fs::create_dir_all(&resume).map_err(|e| FcnError::io(&resume, e))?;
        let dir = RunDir(path.to_path_buf());
        let lock = dir.lock()?;
        Ok((dir, lock))
    }

    /// The run's state and the network and optimiser to continue from: fresh for a
    /// new run, or the saved ones of the last finished epoch when resuming (then
    /// `config` must be the saved run's, but for what may change on resume).
    pub(super) fn begin(
        &self,
        net: FcnNet,
        config: &TrainConfig,
        resume: bool,
        data: &Path,
    ) -> Result<(RunState, FcnNet, ModuleOptimizer)> {
        let optimizer = super::config::build_optimizer(config);
        let fresh = RunState {
            config: config.clone(),
            history: Vec::new(),
            steps: 0,
            data: std::path::absolute(data).ok(),
        };
        if !resume {
            return Ok((fresh, net, optimizer));
        }
        let previous = read_state(&self.0)?;
        config.same_run_as(&previous.config).map_err(|diff| {
            FcnError::Config(format!(
                "{} was started with other settings; only --epochs, --threads, \
                 --skip-bad and --precision may change on resume ({diff})",
                self.0.display()
            ))
        })?;
        let state = RunState {
            config: config.clone(),
            data: previous.data.or(fresh.data),
            ..previous
        };
        let Some(last) = state.history.last().map(|r| r.epoch) else {
            return Ok((state, net, optimizer));
        };
        let path = self.resume_model(last);
        let net = net
            .try_load_file(&path)
            .map_err(|e| FcnError::record(&path, "cannot load the checkpoint", e))?;
        let path = self.resume_optimizer(last);
        let optimizer = optimizer
            .load(&path)
            .map_err(|e| FcnError::record(&path, "cannot load the optimiser state", e))?;
        Ok((state, net, optimizer))
    }

    /// Where the last good checkpoint is, for a message when a run stops.
    pub(super) fn last_good(&self, state: &RunState) -> String {
        state
            .history
            .last()
            .map_or("none was written".to_string(), |r| {
                format!("epoch {} is kept in {}", r.epoch, self.0.display())
            })
    }

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
            .map_err(|e| FcnError::io(&path, e))?;
        if let Err(e) = file.try_lock() {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            return match e {
                std::fs::TryLockError::WouldBlock => Err(FcnError::Locked {
                    dir: self.0.clone(),
                    pid: pid.trim().to_string(),
                }),
                std::fs::TryLockError::Error(e) => Err(FcnError::io(&path, e)),
            };
        }
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()));
        written.map_err(|e| FcnError::io(&path, e))?;
        Ok(file)
    }

    pub(super) fn state(&self) -> PathBuf {
        self.0.join("state.json")
    }
    fn resume_model(&self, epoch: usize) -> PathBuf {
        self.0.join("resume").join(format!("epoch-{epoch}.bpk"))
    }
    fn resume_optimizer(&self, epoch: usize) -> PathBuf {
        self.0.join("resume").join(format!("optimizer-{epoch}.bin"))
    }
}

/// Reads a run's `state.json`.
pub fn read_state(run_dir: &Path) -> Result<RunState> {
    let path = RunDir(run_dir.to_path_buf()).state();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| FcnError::record(&path, "cannot read (is this a run directory?)", e))?;
    serde_json::from_str(&text).map_err(|e| FcnError::record(&path, "corrupt run state", e))
}

/// Writes everything of a finished epoch, `state.json` last.
pub(super) fn save_epoch(
    dir: &RunDir,
    net: &FcnNet,
    optimizer: &ModuleOptimizer,
    state: &RunState,
    meta: &FcnConfig,
    device: &Device,
) -> Result<()> {
    let epoch = state.history.last().map_or(0, |r| r.epoch);
    let model = Fcn::from_net(net.valid(), meta.clone(), device);
    model.save(dir.0.join("model.safetensors"))?;
    let record =
        net.clone().into_record().into_bytes().map_err(|e| {
            FcnError::record(&dir.resume_model(epoch), "cannot serialise the model", e)
        })?;
    write_atomically(&dir.resume_model(epoch), &record)?;
    let bytes = optimizer.into_bytes().map_err(|e| {
        FcnError::record(
            &dir.resume_optimizer(epoch),
            "cannot serialise the optimiser state",
            e,
        )
    })?;
    write_atomically(&dir.resume_optimizer(epoch), &bytes)?;
    let json = serde_json::to_vec_pretty(state)
        .map_err(|e| FcnError::record(&dir.state(), "cannot serialise the run state", e))?;
    write_atomically(&dir.state(), &json)?;
    // Derived files, rebuilt from the committed state.
    let lines: String = state
        .history
        .iter()
        .map(|r| serde_json::to_string(r).map(|s| s + "\n"))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| FcnError::record(&dir.state(), "cannot serialise the metrics", e))?;
    write_atomically(&dir.0.join("metrics.jsonl"), lines.as_bytes())?;
    // Older resume points are no longer needed.
    for old in 1..epoch {
        let _ = std::fs::remove_file(dir.resume_model(old));
        let _ = std::fs::remove_file(dir.resume_optimizer(old));
    }
    Ok(())
}
