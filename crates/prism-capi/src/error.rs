//! Status codes, the thread-local last-error message, and the guard that keeps panics inside.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a Prism call returned. Codes 1 to 6 are the `prism` command's exit codes for the same
/// failures; `prism_last_error()` holds the message.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrismStatus {
    Ok = 0,
    /// Any other failure (inference, I/O).
    Error = 1,
    /// A NULL pointer, a bad option or a buffer that does not fit.
    InvalidArgument = 2,
    /// ONNX Runtime missing, unloadable or too old.
    Runtime = 3,
    /// The requested execution provider is unavailable.
    Provider = 4,
    /// The model file is missing, not ONNX, not verified, or not a model of this task.
    Model = 5,
    /// An input image Prism cannot use (undecodable, too large, not fitting the model).
    Input = 6,
    /// The progress callback asked to stop.
    Cancelled = 7,
    /// A bug in Prism (a Rust panic, caught at the boundary); the handle may be unusable.
    Internal = 8,
}

/// A failed call: its status and message.
#[derive(Debug)]
pub struct Failure {
    pub status: PrismStatus,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Failure>;

impl Failure {
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure {
            status: PrismStatus::InvalidArgument,
            message: message.into(),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = text);
}

/// The message of this thread's most recent Prism call: empty when it succeeded. Valid until
/// the next Prism call on this thread; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn prism_last_error() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().as_ptr())
}

/// A short constant name for a `PrismStatus` ("ok", "cancelled", ...; "unknown status" for
/// other numbers); never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn prism_status_name(status: i32) -> *const c_char {
    let name: &'static [u8] = match status {
        0 => b"ok\0",
        1 => b"error\0",
        2 => b"invalid argument\0",
        3 => b"onnx runtime unavailable\0",
        4 => b"execution provider unavailable\0",
        5 => b"model unusable\0",
        6 => b"input unusable\0",
        7 => b"cancelled\0",
        8 => b"internal error\0",
        _ => b"unknown status\0",
    };
    name.as_ptr().cast()
}

/// Runs `body`, turning its error or panic into a status and this thread's last error.
pub fn guard(body: impl FnOnce() -> Result<()>) -> PrismStatus {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Failure {
            status: PrismStatus::Internal,
            message: format!("internal error (please report): {what}"),
        })
    });
    match outcome {
        Ok(()) => {
            set_last_error("");
            PrismStatus::Ok
        }
        Err(failure) => {
            set_last_error(&failure.message);
            failure.status
        }
    }
}

macro_rules! from_error {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Failure {
            fn from(e: $ty) -> Failure {
                Failure {
                    status: status(e.kind()),
                    message: e.to_string(),
                }
            }
        }
    )*};
}

from_error!(
    prism_core::Error,
    prism_media::Error,
    prism_upscale::Error,
    prism_interpolate::Error,
    prism_style::Error,
    prism_hub::Error
);

/// The status for a kind of failure: the CLI's exit code where there is one.
fn status(kind: prism_core::ErrorKind) -> PrismStatus {
    use prism_core::ErrorKind as K;
    match kind {
        K::Usage => PrismStatus::InvalidArgument,
        K::Runtime => PrismStatus::Runtime,
        K::Provider => PrismStatus::Provider,
        K::Model => PrismStatus::Model,
        K::Input => PrismStatus::Input,
        K::Cancelled => PrismStatus::Cancelled,
        K::Failed | K::PartialBatch => PrismStatus::Error,
    }
}
