//! Errors of the interpolation crate; each names the file or the value involved.

use prism_core::ErrorKind;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] prism_core::Error),

    #[error(transparent)]
    Media(#[from] prism_media::Error),

    #[error("{path} is not a frame-interpolation model: {reason}")]
    NotInterpolationModel { path: PathBuf, reason: String },

    #[error("frames differ in size: {first} is {a_w}x{a_h}, {second} is {b_w}x{b_h}")]
    FrameSize {
        first: String,
        second: String,
        a_w: u32,
        a_h: u32,
        b_w: u32,
        b_h: u32,
    },

    #[error("timestep {t} is invalid: {reason}")]
    Timestep { t: f64, reason: String },

    #[error(
        "timestep {t} cannot be reached by {model}, which only makes t = 0.5: bisection reaches multiples of 1/{} \
         (depth {depth}); the nearest is {nearest} (use the nearest-timestep option to accept it)",
        1u64 << .depth
    )]
    Unreachable {
        t: f64,
        model: String,
        depth: u32,
        nearest: f64,
    },

    #[error("{path}: the network produced NaN or Inf values in {precision}{hint}")]
    NonFinite {
        path: PathBuf,
        precision: &'static str,
        hint: &'static str,
    },

    #[error(
        "{path}: a {width}x{height} frame{} needs about {need_mib} MiB (estimated from the model's \
         prism.memory_* figures), more than {budget_source} ({budget_mib} MiB); use smaller frames, \
         or raise --memory-budget MIB if the memory is there",
        if *.batch > 1 { format!(" in a batch of {}", .batch) } else { String::new() }
    )]
    Memory {
        path: PathBuf,
        width: usize,
        height: usize,
        batch: usize,
        need_mib: u64,
        budget_mib: u64,
        budget_source: &'static str,
    },

    #[error("flow scale {scale} is not supported: {reason}")]
    Scale { scale: f64, reason: String },

    #[error("invalid frame rate `{text}`: {reason}")]
    FrameRate { text: String, reason: String },

    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{path}: {message}")]
    Image { path: PathBuf, message: String },

    #[error("{0}")]
    Input(String),

    #[error("{path}: {reason}")]
    Output { path: PathBuf, reason: String },

    #[error("interrupted")]
    Cancelled,
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Core(e) => e.kind(),
            Error::Media(e) => e.kind(),
            Error::NotInterpolationModel { .. } => ErrorKind::Model,
            Error::FrameSize { .. }
            | Error::Image { .. }
            | Error::Input(_)
            | Error::Memory { .. } => ErrorKind::Input,
            Error::Timestep { .. }
            | Error::Unreachable { .. }
            | Error::Scale { .. }
            | Error::FrameRate { .. }
            | Error::Output { .. } => ErrorKind::Usage,
            Error::NonFinite { .. } | Error::Io { .. } => ErrorKind::Failed,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
