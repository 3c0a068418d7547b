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

mod adam;
mod config;
mod epoch;
mod progress;
mod run_dir;

use std::path::Path;
use std::time::Instant;

use burn::module::Module;

pub use config::{OptimizerKind, Schedule, TrainConfig, resume_config};
pub use progress::{Progress, Quiet};
pub use run_dir::{EpochRecord, RunState, read_state};

use crate::data::Split;
use crate::error::Result;
use crate::model::Fcn;
use crate::precision::LossScale;

/// Trains `model` on `train`, validating on `val` after every epoch, writing into
/// `run_dir`. With `resume`, `run_dir` must hold a run; its configuration, weights,
/// optimiser state and schedule continue from the last finished epoch (`config`
/// must be the saved one, but `epochs` may be raised).
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
    let (dir, _lock) = run_dir::RunDir::open(run_dir)?;
    let Fcn {
        net, meta, device, ..
    } = model;
    let (mut state, net, mut optimizer) = dir.begin(net, config, resume, &train.root)?;
    let ad = device.clone().autodiff();
    let batches = epoch::Batches::new(train, config, &meta, &ad, progress)?;
    let mut epochs = epoch::Epochs {
        batches,
        config,
        scale: LossScale::for_precision(config.precision),
    };
    let kernels = config.precision.kernels(net.kernels());
    let mut net = config::freeze(net.train(), config).with_kernels(kernels);
    let first = state.history.last().map_or(1, |r| r.epoch + 1);
    for epoch in first..=config.epochs {
        let started = Instant::now();
        if config.low_res_epochs > 0 && epoch == config.low_res_epochs + 1 {
            // The full-size phase starts its own schedule with fresh moments: the
            // low-resolution phase's are tuned to the other scale.
            optimizer = config::build_optimizer(config);
        }
        let last_good = dir.last_good(&state);
        let (trained, totals) = epochs.train(
            net,
            &mut optimizer,
            epoch,
            &mut state.steps,
            &last_good,
            progress,
        )?;
        net = trained;
        let during = || format!("after epoch {epoch} (validating and saving it)");
        let val = crate::device::catch_failure(&during, epoch::HINT, || {
            let val = val.as_ref().filter(|_| config.validates(epoch));
            epoch::validate(&net, &meta, &device, val, progress)
        })??;
        let record = totals.record(epoch, val, started);
        state.history.push(record.clone());
        crate::device::catch_failure(&during, epoch::HINT, || {
            run_dir::save_epoch(&dir, &net, &optimizer, &state, &meta, &device)
        })??;
        progress.epoch_end(&record);
    }
    Ok(Fcn::from_net(net.valid(), meta, &device))
}
