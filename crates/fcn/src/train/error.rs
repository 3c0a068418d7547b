//! How a run fails.

use std::path::{Path, PathBuf};

use crate::data::DataError;

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

pub type Result<T> = std::result::Result<T, TrainError>;

pub(crate) fn run_err(m: impl Into<String>) -> TrainError {
    TrainError::Run(m.into())
}

pub(crate) fn io(path: &Path, e: impl std::fmt::Display) -> TrainError {
    run_err(format!("{}: {e}", path.display()))
}
