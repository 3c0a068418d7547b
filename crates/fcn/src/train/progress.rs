//! What the loop reports as it goes, for a progress bar or a log.

use super::run_dir::EpochRecord;
use crate::data::DataError;

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
