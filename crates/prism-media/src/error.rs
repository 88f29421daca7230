//! Errors of the media crate; every variant names the file involved.

use prism_core::ErrorKind;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] prism_core::Error),

    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{path}: cannot decode image: {reason}")]
    Decode { path: PathBuf, reason: String },

    #[error(
        "{path}: {width}x{height} is {:.1} megapixels, above the limit of {:.1} ({max_pixels} pixels); \
         raise it with --max-pixels if the file is trusted",
        (*.width as f64) * (*.height as f64) / 1e6, *.max_pixels as f64 / 1e6
    )]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        max_pixels: u64,
    },

    #[error("{path}: unsupported format: {reason}")]
    Unsupported { path: PathBuf, reason: String },

    #[error("{path}: cannot encode image: {reason}")]
    Encode { path: PathBuf, reason: String },

    #[error("{path}: refusing to write the output over an input file")]
    WouldOverwriteInput { path: PathBuf },

    #[error("{path}: glob pattern `{pattern}` is invalid: {reason}")]
    Glob {
        path: PathBuf,
        pattern: String,
        reason: String,
    },

    #[error("{path}: no input images found{}", if *.filtered { " (after the glob filter)" } else { "" })]
    NoInputs { path: PathBuf, filtered: bool },

    #[error(
        "ffmpeg not found; looked at: {}; install it, set PRISM_FFMPEG, pass --ffmpeg, or run `cargo xtask test` to provision one",
        .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    FfmpegNotFound { tried: Vec<PathBuf> },

    #[error("{path}: ffmpeg: {message}")]
    Ffmpeg { path: PathBuf, message: String },

    #[error("{failed} of {total} files failed (each reported above); the others were written")]
    PartialBatch { failed: usize, total: usize },

    #[error("all {failed} files failed (each reported above)")]
    BatchFailed { failed: usize },

    #[error("interrupted")]
    Cancelled,
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Core(e) => e.kind(),
            Error::Decode { .. }
            | Error::Unsupported { .. }
            | Error::WouldOverwriteInput { .. }
            | Error::NoInputs { .. }
            | Error::TooLarge { .. } => ErrorKind::Input,
            Error::Glob { .. } => ErrorKind::Usage,
            Error::PartialBatch { .. } => ErrorKind::PartialBatch,
            Error::Io { .. }
            | Error::Encode { .. }
            | Error::FfmpegNotFound { .. }
            | Error::Ffmpeg { .. }
            | Error::BatchFailed { .. } => ErrorKind::Failed,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
