//! A memory estimate before a model is built, so an impossible `--width` or
//! `--num-classes` is refused with the estimate instead of aborting on allocation.

use anyhow::bail;
use fcn::FcnConfig;

/// Copies of the weights a training step holds: the weights, their gradients and
/// up to two optimiser moments (Adam). Activations come on top.
const TRAINING_COPIES: u64 = 4;

/// Fails if training `config` needs more memory than this machine has available.
pub fn check_training(config: &FcnConfig) -> anyhow::Result<()> {
    let needed = config.weight_bytes().saturating_mul(TRAINING_COPIES);
    if let Some(available) = available_bytes()
        && needed > available
    {
        bail!(
            "a width-{} model with {} classes needs at least {:.1} GiB to train \
             (weights, gradients, optimiser state), but {:.1} GiB are available; \
             lower --width or --num-classes",
            config.width,
            config.num_classes,
            gib(needed),
            gib(available)
        );
    }
    Ok(())
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// `MemAvailable` from `/proc/meminfo`, where the system has one.
fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}
