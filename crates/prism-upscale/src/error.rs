//! Errors of the upscaling crate.

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

    #[error("{path} is not a super-resolution model: {reason}")]
    NotSuperResolution { path: PathBuf, reason: String },

    #[error("{path}: the FP32 model produced NaN or Inf on tile at ({x}, {y})")]
    NonFinite { path: PathBuf, x: usize, y: usize },

    #[error("a {width}x{height} image upscaled x{scale} is too large ({reason})")]
    TooLarge {
        width: u32,
        height: u32,
        scale: f64,
        reason: String,
    },

    #[error("invalid option: {0}")]
    Option(String),

    #[error("interrupted")]
    Cancelled,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Core(e) => e.kind(),
            Error::Hub(e) => e.kind(),
            Error::Media(e) => e.kind(),
            Error::NotSuperResolution { .. } => ErrorKind::Model,
            Error::TooLarge { .. } => ErrorKind::Input,
            Error::Option(_) => ErrorKind::Usage,
            Error::NonFinite { .. } => ErrorKind::Failed,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
