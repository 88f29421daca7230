//! Errors of the upscaling crate.

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
    /// Exit code (README table): the wrapped crate's code, 5 for an unusable model, 6 for images
    /// that do not fit, 2 for bad options, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Core(e) => e.exit_code(),
            #[cfg(feature = "hub")]
            Error::Hub(e) => e.exit_code(),
            Error::Media(e) => e.exit_code(),
            Error::NotSuperResolution { .. } => 5,
            Error::TooLarge { .. } => 6,
            Error::Option(_) => 2,
            Error::NonFinite { .. } => 1,
            Error::Cancelled => prism_core::EXIT_INTERRUPTED,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
