//! Python exceptions from Prism's typed errors: one class per CLI exit code, the CLI's message.
//!
//! The message is what `prism` prints after `error: ` (anyhow's `{:#}`: the error, then each
//! source, joined by `: `); the class follows `crates/prism-cli/src/exit.rs`, and each exception
//! carries the CLI's code as `exit_code`.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    prism,
    PrismError,
    PyException,
    "Any Prism failure (CLI exit code 1)."
);
create_exception!(
    prism,
    UsageError,
    PrismError,
    "Options that cannot work (exit code 2)."
);
create_exception!(
    prism,
    RuntimeLibraryError,
    PrismError,
    "ONNX Runtime missing, unloadable or too old (exit code 3)."
);
create_exception!(
    prism,
    ProviderUnavailableError,
    PrismError,
    "The requested execution provider is unavailable (exit code 4)."
);
create_exception!(
    prism,
    ModelError,
    PrismError,
    "Model missing, not ONNX, truncated, rejected or unverified (exit code 5)."
);
create_exception!(
    prism,
    InputError,
    PrismError,
    "Inputs Prism cannot use: undecodable, too large, not fitting the model (exit code 6)."
);
create_exception!(
    prism,
    Cancelled,
    PrismError,
    "Stopped by a progress callback or Ctrl-C (exit code 130)."
);

/// Usage (CLI exit code 2).
pub const USAGE: i32 = prism_core::ErrorKind::Usage.exit_code();
/// Interrupted (CLI exit code 130).
pub const INTERRUPTED: i32 = prism_core::ErrorKind::Cancelled.exit_code();

/// Every exception class, for the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("PrismError", py.get_type::<PrismError>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("RuntimeLibraryError", py.get_type::<RuntimeLibraryError>())?;
    m.add(
        "ProviderUnavailableError",
        py.get_type::<ProviderUnavailableError>(),
    )?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("Cancelled", py.get_type::<Cancelled>())?;
    Ok(())
}

/// The CLI's message for `error`: itself, then its sources, joined by `: `.
pub fn message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// A Python exception of the class for `code`, with `message` and `exit_code`.
pub fn with_code(code: i32, message: String) -> PyErr {
    let err = match code {
        2 => UsageError::new_err(message),
        3 => RuntimeLibraryError::new_err(message),
        4 => ProviderUnavailableError::new_err(message),
        5 => ModelError::new_err(message),
        6 => InputError::new_err(message),
        INTERRUPTED => Cancelled::new_err(message),
        _ => PrismError::new_err(message),
    };
    Python::attach(|py| {
        let _ = err.value(py).setattr("exit_code", code);
    });
    err
}

/// A usage error (exit code 2) with this message.
pub fn usage(message: impl Into<String>) -> PyErr {
    with_code(USAGE, message.into())
}

/// A library error: it says its kind, and the kind its CLI exit code.
pub trait Coded: std::error::Error + 'static {
    fn code(&self) -> i32;
}

/// Converts any of Prism's library errors into its Python exception.
pub fn to_py<E: Coded>(error: E) -> PyErr {
    with_code(error.code(), message(&error))
}

macro_rules! coded {
    ($($ty:ty),*) => {$(
        impl Coded for $ty {
            fn code(&self) -> i32 {
                self.kind().exit_code()
            }
        }
    )*};
}

coded!(
    prism_core::Error,
    prism_media::Error,
    prism_upscale::Error,
    prism_interpolate::Error,
    prism_style::Error,
    prism_hub::Error
);

/// `?` on library results inside `#[pymethods]`.
pub trait IntoPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T, E: Coded> IntoPy<T> for Result<T, E> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
