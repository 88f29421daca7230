//! Errors of the registry, the Hub client and the model manager; each names the file, repository or
//! model involved and says what to do about it.

use prism_core::ErrorKind;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] prism_core::Error),

    #[error("{path}:{line}: {message}")]
    Registry {
        path: PathBuf,
        line: usize,
        message: String,
    },

    #[error(
        "no model `{id}` in the registry ({registry}) or any export manifest; `prism models list` shows the known ids"
    )]
    UnknownModel { id: String, registry: PathBuf },

    #[error(
        "model `{id}` is not available: {reason}; export it with `python -m prism_export export {id}`{hub}"
    )]
    Unavailable {
        id: String,
        reason: String,
        hub: &'static str,
    },

    #[error("model `{id}` {how}")]
    NotOnHub { id: String, how: String },

    #[error(
        "offline (HF_HUB_OFFLINE=1) and {repo}@{revision}/{file} is not in the cache {cache}; run `prism models download` while online"
    )]
    OfflineMiss {
        repo: String,
        revision: String,
        file: String,
        cache: PathBuf,
    },

    #[error(
        "{url}: the Hub refused access ({status}); set HF_TOKEN or log in (token file {token_file}) with a token that may read {repo}"
    )]
    Unauthorized {
        url: String,
        status: u16,
        repo: String,
        token_file: PathBuf,
    },

    #[error("{url}: not found on the Hub ({what})")]
    NotFound { url: String, what: String },

    #[error("{url}: the Hub answered HTTP {status}{detail}")]
    Http {
        url: String,
        status: u16,
        detail: String,
    },

    #[error("{url}: cannot reach the Hub: {reason}")]
    Network { url: String, reason: String },

    #[error("{url}: refusing the Hub's {header} `{value}`: {reason}")]
    HostileResponse {
        url: String,
        header: &'static str,
        value: String,
        reason: &'static str,
    },

    #[error(
        "{url}: download stopped after {received} of {expected} bytes; the partial file {partial} is kept and the next download resumes it"
    )]
    Truncated {
        url: String,
        received: u64,
        expected: u64,
        partial: PathBuf,
    },

    #[error("{what}: sha256 {actual} does not match the expected {expected}; the file was deleted")]
    ChecksumMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    #[error(
        "{url}: refusing to download a file with neither a known size nor a sha256 (the registry gives none and the Hub announced none); add `size` and `sha256` to its registry entry"
    )]
    Unverifiable { url: String },

    #[error(
        "{url}: the server sent {received} bytes where {expected} were expected; the download was deleted"
    )]
    SizeMismatch {
        url: String,
        expected: u64,
        received: u64,
    },

    #[error(
        "{source_name}: {what} larger than the limit of {limit} bytes; refused without reading it"
    )]
    TooLarge {
        source_name: String,
        what: &'static str,
        limit: u64,
    },

    #[error("{url}: the Hub's answer is not the expected JSON: {reason}")]
    BadResponse { url: String, reason: String },

    #[error("{0}")]
    Usage(String),

    #[error("invalid {what} `{value}`: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: &'static str,
    },

    #[error("Hub client: {0}")]
    Client(String),

    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Error {
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
            Error::Io { .. } | Error::Client(_) => ErrorKind::Failed,
            Error::Usage(_) => ErrorKind::Usage,
            // Registry, download, verification and cache errors: the model is not usable.
            _ => ErrorKind::Model,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
