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
    ($ty:ty, $map:ident) => {
        impl From<$ty> for Failure {
            fn from(e: $ty) -> Failure {
                Failure {
                    status: $map(&e),
                    message: e.to_string(),
                }
            }
        }
    };
}

from_error!(prism_core::Error, core);
from_error!(prism_media::Error, media);
from_error!(prism_upscale::Error, upscale);
from_error!(prism_interpolate::Error, interpolate);
from_error!(prism_style::Error, style);
from_error!(prism_hub::Error, hub);

use PrismStatus as S;

// The mapping of crates/prism-cli/src/exit.rs, in statuses.

fn core(e: &prism_core::Error) -> PrismStatus {
    use prism_core::Error as E;
    match e {
        E::RuntimeNotFound { .. }
        | E::RuntimeTooOld { .. }
        | E::RuntimeInvalid { .. }
        | E::RuntimeAlreadyLoaded { .. } => S::Runtime,
        E::ProviderUnavailable { .. } => S::Provider,
        E::Io { .. }
        | E::NotOnnx { .. }
        | E::TruncatedModel { .. }
        | E::InvalidModel { .. }
        | E::MissingVariant { .. }
        | E::BadMetadata { .. }
        | E::Unverified { .. } => S::Model,
        E::InputMismatch { .. }
        | E::ShapeRefused { .. }
        | E::ShapeSyntax { .. }
        | E::TensorShape { .. } => S::Input,
        E::Cancelled => S::Cancelled,
        // Inference, Ort, and variants added later.
        #[allow(unreachable_patterns)]
        _ => S::Error,
    }
}

fn media(e: &prism_media::Error) -> PrismStatus {
    use prism_media::Error as E;
    match e {
        E::Core(e) => core(e),
        E::Decode { .. }
        | E::Unsupported { .. }
        | E::WouldOverwriteInput { .. }
        | E::NoInputs { .. }
        | E::TooLarge { .. } => S::Input,
        E::Glob { .. } => S::InvalidArgument,
        E::Cancelled => S::Cancelled,
        _ => S::Error,
    }
}

fn upscale(e: &prism_upscale::Error) -> PrismStatus {
    use prism_upscale::Error as E;
    match e {
        E::Core(e) => core(e),
        E::Hub(e) => hub(e),
        E::Media(e) => media(e),
        E::NotSuperResolution { .. } => S::Model,
        E::TooLarge { .. } => S::Input,
        E::Option(_) => S::InvalidArgument,
        E::Cancelled => S::Cancelled,
        #[allow(unreachable_patterns)]
        _ => S::Error,
    }
}

fn interpolate(e: &prism_interpolate::Error) -> PrismStatus {
    use prism_interpolate::Error as E;
    match e {
        E::Core(e) => core(e),
        E::Media(e) => media(e),
        E::NotInterpolationModel { .. } => S::Model,
        E::FrameSize { .. } | E::Image { .. } | E::Input(_) | E::Memory { .. } => S::Input,
        E::Timestep { .. }
        | E::Unreachable { .. }
        | E::Scale { .. }
        | E::FrameRate { .. }
        | E::Output { .. } => S::InvalidArgument,
        E::Cancelled => S::Cancelled,
        // NonFinite, Io, and variants added later.
        #[allow(unreachable_patterns)]
        _ => S::Error,
    }
}

fn style(e: &prism_style::Error) -> PrismStatus {
    use prism_style::Error as E;
    match e {
        E::Core(e) => core(e),
        E::Hub(e) => hub(e),
        E::Media(e) => media(e),
        E::BadModel { .. } => S::Model,
        E::Options(_) => S::InvalidArgument,
        E::ImageSize { .. } => S::Input,
        E::Cancelled { .. } => S::Cancelled,
        #[allow(unreachable_patterns)]
        _ => S::Error,
    }
}

fn hub(e: &prism_hub::Error) -> PrismStatus {
    use prism_hub::Error as E;
    match e {
        E::Core(e) => core(e),
        E::Io { .. } | E::Client(_) => S::Error,
        E::Usage(_) => S::InvalidArgument,
        _ => S::Model,
    }
}
