//! The library's error type.

use std::path::PathBuf;

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
    /// An input array or image the model cannot take.
    #[error("invalid input: {0}")]
    Input(String),
}

impl FcnError {
    pub(crate) fn weights(path: &std::path::Path, message: impl Into<String>) -> Self {
        Self::Weights {
            path: path.display().to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

pub type Result<T, E = FcnError> = std::result::Result<T, E>;
