//! Errors of the style crate, each naming the file or the option involved.

use prism_core::ErrorKind;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] prism_core::Error),
    #[cfg(feature = "hub")]
    #[error(transparent)]
    Hub(#[from] prism_hub::Error),
    #[error(transparent)]
    Media(#[from] prism_media::Error),

    #[error("{path}: {reason}")]
    BadModel { path: PathBuf, reason: String },

    #[error("invalid style options: {0}")]
    Options(String),

    #[error("image is {width}x{height}: {reason}")]
    ImageSize {
        width: u32,
        height: u32,
        reason: String,
    },

    #[error("the optimisation diverged at step {step} (loss {loss})")]
    Diverged { step: usize, loss: f64 },

    #[error("interrupted at step {step}")]
    Cancelled { step: usize },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Core(e) => e.kind(),
            Error::Hub(e) => e.kind(),
            Error::Media(e) => e.kind(),
            Error::BadModel { .. } => ErrorKind::Model,
            Error::Options(_) => ErrorKind::Usage,
            Error::ImageSize { .. } => ErrorKind::Input,
            Error::Diverged { .. } => ErrorKind::Failed,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
