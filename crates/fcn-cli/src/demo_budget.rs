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

/// Measured seconds per image on this machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Costs {
    /// A training image once decoded (augmenting, forward, backward, step).
    pub train: f64,
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

    /// Training `epochs` epochs and finishing.
    pub fn seconds_for(&self, epochs: usize, n: Counts) -> f64 {
        self.decoding(n) + epochs as f64 * self.epoch(n) + self.finish(n)
    }
}

/// Trains `model` (a copy the demo then discards) for two epochs on the first images
/// of `train` and `val`, in `scratch` (removed afterwards), and times each part: the
/// first epoch decodes the images, the second finds them in memory. The images stay
/// cached for the real run.
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
    let config = TrainConfig {
        epochs: 2,
        ..config.clone()
    };
    let _ = std::fs::remove_dir_all(scratch);
    let mut clock = Stopwatch::default();
    let (n_train, n_val) = (train.len().max(1) as f64, val.len().max(1) as f64);
    let timed = fcn::train::train(scratch, model, train, Some(val), &config, false, &mut clock);
    let _ = std::fs::remove_dir_all(scratch);
    timed?;
    let [first, second] = [0, 1].map(|e| clock.parts(e));
    let first_sight = (first[0] + first[1] - second[0] - second[1]) / (n_train + n_val);
    Ok(Costs {
        train: second[0] / n_train,
        val: second[1] / n_val,
        first_sight: first_sight.max(0.0),
        checkpoint: second[2],
    })
}

/// The epochs that fit in `seconds_left`, at least `min` and at most `max`.
pub fn epochs(costs: &Costs, n: Counts, seconds_left: f64, min: usize, max: usize) -> usize {
    let fit = ((seconds_left - costs.seconds_for(0, n)) / costs.epoch(n)).floor();
    if fit.is_finite() && fit > 0.0 {
        (fit as usize).clamp(min, max)
    } else {
        min
    }
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
            val: 0.005,
            first_sight: 0.001,
            checkpoint: 0.5,
        };
        let n = Counts {
            train: 1600,
            val_each_epoch: 100,
            held_out: 400,
        };
        // An epoch: 1600 × 0.01 + 100 × 0.005 + 0.5 = 17 s; decoding 2000 × 0.001
        // = 2 s; finishing: 1.2 × 400 × 0.005 + 1 = 3.4 s.
        assert_eq!(costs.epoch(n), 17.0);
        assert!((costs.seconds_for(7, n) - (2.0 + 17.0 * 7.0 + 3.4)).abs() < 1e-9);
        assert_eq!(epochs(&costs, n, 3.4 + 2.0 + 17.0 * 7.5, 3, 14), 7);
        assert_eq!(epochs(&costs, n, 3.4 + 2.0 + 17.0 * 7.0 - 0.01, 3, 14), 6);
        assert_eq!(epochs(&costs, n, 1000.0, 3, 14), 14);
        assert_eq!(epochs(&costs, n, 10.0, 3, 14), 3);
        assert_eq!(epochs(&costs, n, -5.0, 3, 14), 3);
    }
}
