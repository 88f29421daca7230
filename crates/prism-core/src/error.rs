//! Errors of the core crate: one variant per thing that can go wrong, each naming the file involved.

use std::path::PathBuf;

use crate::device::Provider;

/// The command a user runs to provision ONNX Runtime for this project.
pub const INSTALL_HINT: &str =
    "`cargo xtask setup` (`cargo xtask setup --gpu` for CUDA / TensorRT)";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "ONNX Runtime library not found; looked in:\n{}\ninstall it with {INSTALL_HINT}, or point ORT_DYLIB_PATH / --ort-lib at libonnxruntime",
        list_paths(.tried)
    )]
    RuntimeNotFound { tried: Vec<PathBuf> },

    #[error(
        "ONNX Runtime at {path} is version {found}, but Prism needs {required} or newer; install it with {INSTALL_HINT}"
    )]
    RuntimeTooOld {
        path: PathBuf,
        found: String,
        required: String,
    },

    #[error("{path} could not be loaded as ONNX Runtime: {reason}; install it with {INSTALL_HINT}")]
    RuntimeInvalid { path: PathBuf, reason: String },

    #[error(
        "ONNX Runtime is already loaded from {loaded}; a process can load only one (asked for {requested})"
    )]
    RuntimeAlreadyLoaded { loaded: PathBuf, requested: PathBuf },

    #[error("execution provider {provider} is not available: {reason}")]
    ProviderUnavailable { provider: Provider, reason: String },

    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{path} is not an ONNX model: {reason}")]
    NotOnnx { path: PathBuf, reason: String },

    #[error(
        "{path} is truncated: a field needs {needed} bytes but only {available} remain (incomplete download?)"
    )]
    TruncatedModel {
        path: PathBuf,
        needed: u64,
        available: u64,
    },

    #[error("{path}: metadata `{key}` is `{value}`; accepted: {accepted}")]
    BadMetadata {
        path: PathBuf,
        key: String,
        value: String,
        accepted: String,
    },

    #[error("{path} does not match {manifest}: {reason}; re-export it")]
    Unverified {
        path: PathBuf,
        manifest: PathBuf,
        reason: String,
    },

    #[error("{path} was rejected by ONNX Runtime: {message}")]
    InvalidModel { path: PathBuf, message: String },

    #[error("{path}: input `{input}` expects {expected}, got {got}")]
    InputMismatch {
        path: PathBuf,
        input: String,
        expected: String,
        got: String,
    },

    #[error(
        "{path}: input `{input}` is declared {declared}; run at {requested} with its declared dims made free (in memory), the graph refuses: {message}"
    )]
    ShapeRefused {
        path: PathBuf,
        input: String,
        declared: String,
        requested: String,
        message: String,
    },

    #[error("{path}: no {precision} variant found (looked for {candidate})")]
    MissingVariant {
        path: PathBuf,
        precision: &'static str,
        candidate: PathBuf,
    },

    #[error("{path}: inference failed: {message}")]
    Inference { path: PathBuf, message: String },

    #[error("tensor of shape {shape:?} cannot become an image: {reason}")]
    TensorShape { shape: Vec<usize>, reason: String },

    #[error("invalid shape `{text}`: {reason}")]
    ShapeSyntax { text: String, reason: String },

    #[error("ONNX Runtime: {0}")]
    Ort(String),

    #[error("interrupted")]
    Cancelled,
}

impl<T> From<ort::Error<T>> for Error {
    fn from(e: ort::Error<T>) -> Self {
        Error::Ort(e.message().to_string())
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("  - {}", p.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What kind of failure an error is. Every library error says its own; the `prism` command's exit
/// codes, the C API's statuses and the Python package's exception classes are chosen by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Anything else: inference, I/O, encoding.
    Failed,
    /// Options or arguments that cannot work.
    Usage,
    /// ONNX Runtime missing, unloadable or too old.
    Runtime,
    /// The requested execution provider is unavailable.
    Provider,
    /// The model is missing, not ONNX, truncated, unverified, or not one of this task.
    Model,
    /// An input Prism cannot use: undecodable, too large, not fitting the model.
    Input,
    /// Some files of a batch failed, the others were written.
    PartialBatch,
    /// Stopped by Ctrl-C or a progress callback.
    Cancelled,
}

impl ErrorKind {
    /// The `prism` command's exit code for this kind (the README's table; 130 = 128 + SIGINT).
    pub const fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Failed => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Runtime => 3,
            ErrorKind::Provider => 4,
            ErrorKind::Model => 5,
            ErrorKind::Input => 6,
            ErrorKind::PartialBatch => 7,
            ErrorKind::Cancelled => 130,
        }
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            Error::RuntimeNotFound { .. }
            | Error::RuntimeTooOld { .. }
            | Error::RuntimeInvalid { .. }
            | Error::RuntimeAlreadyLoaded { .. } => K::Runtime,
            Error::ProviderUnavailable { .. } => K::Provider,
            Error::Io { .. }
            | Error::NotOnnx { .. }
            | Error::TruncatedModel { .. }
            | Error::InvalidModel { .. }
            | Error::MissingVariant { .. }
            | Error::BadMetadata { .. }
            | Error::Unverified { .. } => K::Model,
            Error::InputMismatch { .. }
            | Error::ShapeRefused { .. }
            | Error::ShapeSyntax { .. }
            | Error::TensorShape { .. } => K::Input,
            Error::Inference { .. } | Error::Ort(_) => K::Failed,
            Error::Cancelled => K::Cancelled,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
