//! Sizing `fcn demo`'s training to a time budget. Machines differ several-fold in
//! speed (a 2-core CPU without AVX-512 ran the demo's epochs 3.8× slower than the
//! developers' one), so a fixed epoch count that takes 3 minutes on one takes 12 on
//! another. Instead a throwaway copy of the model trains two short epochs on this
//! machine, and the demo trains as many epochs as then fit in what is left.

use std::path::Path;
use std::time::Instant;

use fcn::Fcn;
use fcn::data::Split;
use fcn::train::{EpochRecord, Progress, TrainConfig};

/// Images of the timing epochs: enough steps to see past the first one's warm-up.
const TIMED_TRAIN_IMAGES: usize = 64;
const TIMED_VAL_IMAGES: usize = 16;

/// How many images the demo trains on, scores after each epoch and scores at the
/// end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counts {
    pub train: usize,
    pub val_each_epoch: usize,
    pub held_out: usize,
}

/// The share of the epochs the demo trains at low resolution (progressive
/// resizing): 8 of 12 reached 0.85 val mIoU soonest of those tried.
pub const LOW_RES_SHARE: f64 = 2.0 / 3.0;

/// The low-resolution epochs of a run of `epochs`: [`LOW_RES_SHARE`] of them,
/// leaving at least one at full size.
pub fn low_res_epochs(epochs: usize) -> usize {
    ((epochs as f64 * LOW_RES_SHARE).round() as usize).min(epochs.saturating_sub(1))
}

/// Measured seconds per image on this machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Costs {
    /// A training image once decoded (augmenting, forward, backward, step).
    pub train: f64,
    /// The same at low resolution.
    pub train_low: f64,
    /// A held-out image once decoded (inference, scoring).
    pub val: f64,
    /// What the first sight of an image adds (decoding and checking it; later
    /// epochs take it from memory).
    pub first_sight: f64,
    /// Each epoch's checkpoint.
    pub checkpoint: f64,
}

impl Costs {
    /// One epoch, images already decoded.
    pub fn epoch(&self, n: Counts) -> f64 {
        self.train * n.train as f64 + self.val * n.val_each_epoch as f64 + self.checkpoint
    }

    /// One low-resolution epoch, images already decoded; the demo scores no
    /// held-out images after it (`TrainConfig::validate_low_res`).
    pub fn low_res_epoch(&self, n: Counts) -> f64 {
        self.train_low * n.train as f64 + self.checkpoint
    }

    /// Decoding every image once (the first epoch and the final scoring read each
    /// from disk; later reads come from memory).
    pub fn decoding(&self, n: Counts) -> f64 {
        self.first_sight * (n.train + n.held_out) as f64
    }

    /// After training: scoring every held-out image, a few segmented images and the
    /// report.
    pub fn finish(&self, n: Counts) -> f64 {
        1.2 * self.val * n.held_out as f64 + 1.0
    }

    /// Training `epochs` epochs ([`low_res_epochs`] of them at low resolution) and
    /// finishing.
    pub fn seconds_for(&self, epochs: usize, n: Counts) -> f64 {
        let low = low_res_epochs(epochs);
        self.decoding(n)
            + low as f64 * self.low_res_epoch(n)
            + (epochs - low) as f64 * self.epoch(n)
            + self.finish(n)
    }
}

/// Trains `model` (a copy the demo then discards) for three epochs on the first
/// images of `train` and `val`, in `scratch` (removed afterwards), and times each
/// part: the first two at low resolution, the first decoding the images, the second
/// finding them in memory, and the third at full size. The images stay cached for
/// the real run.
pub fn measure(
    model: Fcn,
    train: &Split,
    val: &Split,
    config: &TrainConfig,
    scratch: &Path,
) -> anyhow::Result<Costs> {
    let first = |split: &Split, n: usize| {
        let mut part = split.clone();
        part.items.truncate(n);
        part
    };
    let (train, val) = (
        first(train, TIMED_TRAIN_IMAGES),
        first(val, TIMED_VAL_IMAGES),
    );
    // The second epoch times the scoring, which the real run does after the
    // full-size epochs only.
    let config = TrainConfig {
        epochs: 3,
        low_res_epochs: 2,
        validate_low_res: true,
        ..config.clone()
    };
    let _ = std::fs::remove_dir_all(scratch);
    let mut clock = Stopwatch::default();
    let (n_train, n_val) = (train.len().max(1) as f64, val.len().max(1) as f64);
    let timed = fcn::train::train(scratch, model, train, Some(val), &config, false, &mut clock);
    let _ = std::fs::remove_dir_all(scratch);
    timed?;
    let [first, second, full] = [0, 1, 2].map(|e| clock.parts(e));
    let first_sight = (first[0] + first[1] - second[0] - second[1]) / (n_train + n_val);
    Ok(Costs {
        train: full[0] / n_train,
        train_low: second[0] / n_train,
        val: second[1] / n_val,
        first_sight: first_sight.max(0.0),
        checkpoint: second[2],
    })
}

/// The most epochs that fit in `seconds_left`, at least `min` and at most `max`.
pub fn epochs(costs: &Costs, n: Counts, seconds_left: f64, min: usize, max: usize) -> usize {
    (min..=max)
        .rev()
        .find(|&e| costs.seconds_for(e, n) <= seconds_left)
        .unwrap_or(min)
}

/// Per epoch: when it started, finished its last batch, finished validating and
/// ended (its checkpoint written).
#[derive(Default)]
struct Stopwatch {
    epochs: Vec<[Option<Instant>; 4]>,
}

impl Stopwatch {
    /// Seconds epoch `e` (from 0) spent training, validating and checkpointing.
    fn parts(&self, e: usize) -> [f64; 3] {
        let Some([Some(start), trained, validated, Some(end)]) = self.epochs.get(e).copied() else {
            return [0.0; 3];
        };
        let validated = validated.unwrap_or(end);
        let trained = trained.unwrap_or(validated);
        [(trained - start), (validated - trained), (end - validated)].map(|d| d.as_secs_f64())
    }

    fn mark(&mut self, part: usize) {
        if let Some(epoch) = self.epochs.last_mut() {
            epoch[part] = Some(Instant::now());
        }
    }
}

impl Progress for Stopwatch {
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {
        self.epochs.push([Some(Instant::now()), None, None, None]);
    }

    fn batch(&mut self, _loss: f64, _images_per_second: f64) {
        self.mark(1);
    }

    fn validating(&mut self, done: usize, total: usize) {
        if done == total {
            self.mark(2);
        }
    }

    fn epoch_end(&mut self, _record: &EpochRecord) {
        self.mark(3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_as_many_epochs_as_fit_between_the_bounds() {
        let costs = Costs {
            train: 0.01,
            train_low: 0.004,
            val: 0.005,
            first_sight: 0.001,
            checkpoint: 0.5,
        };
        let n = Counts {
            train: 1600,
            val_each_epoch: 100,
            held_out: 400,
        };
        // An epoch: 1600 × 0.01 + 100 × 0.005 + 0.5 = 17 s, at low resolution
        // (not scored) 1600 × 0.004 + 0.5 = 6.9 s; decoding 2000 × 0.001 = 2 s;
        // finishing: 1.2 × 400 × 0.005 + 1 = 3.4 s. 11 epochs: 7 low, 4 full.
        assert_eq!(costs.epoch(n), 17.0);
        assert!((costs.low_res_epoch(n) - 6.9).abs() < 1e-9);
        let eleven = 2.0 + 7.0 * 6.9 + 4.0 * 17.0 + 3.4;
        assert!((costs.seconds_for(11, n) - eleven).abs() < 1e-9);
        assert_eq!(epochs(&costs, n, eleven, 3, 14), 11);
        assert_eq!(epochs(&costs, n, eleven - 0.01, 3, 14), 10);
        assert_eq!(epochs(&costs, n, 1000.0, 3, 14), 14);
        assert_eq!(epochs(&costs, n, 10.0, 3, 14), 3);
        assert_eq!(epochs(&costs, n, -5.0, 3, 14), 3);
    }

    /// Two of every three epochs at low resolution, never all of them.
    #[test]
    fn low_res_epochs_leave_the_last_at_full_size() {
        let low: Vec<usize> = [1, 2, 3, 4, 11, 12, 20].map(low_res_epochs).to_vec();
        assert_eq!(low, [0, 1, 2, 3, 7, 8, 13]);
    }
}
