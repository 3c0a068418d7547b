//! The library's one error type. Every variant names what it is about: the file
//! (with its path), the tensor, the setting or the run directory.

use std::path::{Path, PathBuf};

use crate::data::DataError;

#[derive(Debug, thiserror::Error)]
pub enum FcnError {
    /// A weight file that cannot be read, or whose tensors do not fit the model.
    #[error("{path}: {message}")]
    Weights { path: String, message: String },
    /// A file that cannot be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// An input array, image or model configuration the model cannot take.
    #[error("invalid input: {0}")]
    Input(String),
    /// Convolution parameters the kernels refuse.
    #[error(transparent)]
    Conv(#[from] tconv::ConvError),
    /// A dataset file that cannot be used.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A training setting that cannot work, or that differs from the run resumed.
    #[error("{0}")]
    Config(String),
    /// Another process is training into the same run directory.
    #[error("{} is in use by another fcn train (process {pid}); wait for it or choose another --out", .dir.display())]
    Locked { dir: PathBuf, pid: String },
    /// Training produced a non-finite loss.
    #[error(
        "the loss became {value} in epoch {epoch}; stopping (try a lower --lr). The last good checkpoint: {last_good}"
    )]
    Diverged {
        value: f32,
        epoch: usize,
        last_good: String,
    },
    /// The device ran out of memory for a step; `hint` says what to make smaller.
    #[error("the GPU ran out of memory {during} ({detail}): {hint}")]
    OutOfMemory {
        during: String,
        detail: String,
        hint: String,
    },
    /// The device failed to run a step for another reason.
    #[error("the device failed {during}: {detail}")]
    Device { during: String, detail: String },
    /// A run's state or resume point that cannot be read or written.
    #[error("{}: {what}: {error}", path.display())]
    Record {
        path: PathBuf,
        what: &'static str,
        error: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl FcnError {
    pub(crate) fn weights(path: &Path, message: impl Into<String>) -> Self {
        Self::Weights {
            path: path.display().to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub(crate) fn record(
        path: &Path,
        what: &'static str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Record {
            path: path.to_path_buf(),
            what,
            error: Box::new(error),
        }
    }
}

pub type Result<T, E = FcnError> = std::result::Result<T, E>;
