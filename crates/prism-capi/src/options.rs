//! `PrismSessionOptions`: device, precision, threads and runtime, as `prism`'s session flags; and
//! the progress callback.

use std::ffi::{c_char, c_void};
use std::path::PathBuf;

use prism_core::session::default_cache_dir;
use prism_core::{Device, Precision, RuntimeOptions, SessionOptions};

use crate::error::{Failure, Result};
use crate::image::str_arg;

/// How a model runs. Start from `prism_session_options_default()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PrismSessionOptions {
    /// "auto", "cpu", "cuda", "cuda:ID", "tensorrt" or "tensorrt:ID"; NULL: "auto".
    pub device: *const c_char,
    /// A `prism --precision` value: "auto" (the library's choice per provider), "fp32", "fp16", ...;
    /// NULL: "auto".
    pub precision: *const c_char,
    /// Intra-op threads; 0: one per physical core.
    pub threads: u32,
    /// Cache optimised graphs under the user's cache folder (as `prism` does without `--no-cache`).
    pub optimized_cache: bool,
    /// The `libonnxruntime` to load; NULL: Prism's discovery (`ORT_DYLIB_PATH`, the executable's
    /// folder and its `lib/`, ...). Only the first model of a process loads the runtime.
    pub onnxruntime_path: *const c_char,
}

/// The defaults: device and precision "auto", threads per physical core, optimised-graph cache
/// on, runtime discovered.
#[unsafe(no_mangle)]
pub extern "C" fn prism_session_options_default() -> PrismSessionOptions {
    PrismSessionOptions {
        device: std::ptr::null(),
        precision: std::ptr::null(),
        threads: 0,
        optimized_cache: true,
        onnxruntime_path: std::ptr::null(),
    }
}

impl PrismSessionOptions {
    /// The library's options for these.
    ///
    /// # Safety
    /// The string fields are NULL or NUL-terminated strings.
    pub unsafe fn library_session(&self) -> Result<SessionOptions> {
        let device: Device = match unsafe { str_arg(self.device, "device")? } {
            Some(text) => text
                .parse()
                .map_err(|e| Failure::invalid(format!("device {text:?}: {e}")))?,
            None => Device::default(),
        };
        let precision: Precision = match unsafe { str_arg(self.precision, "precision")? } {
            Some(text) => text
                .parse()
                .map_err(|e| Failure::invalid(format!("precision {text:?}: {e}")))?,
            None => Precision::default(),
        };
        let library = unsafe { str_arg(self.onnxruntime_path, "onnxruntime_path")? };
        Ok(SessionOptions {
            runtime: RuntimeOptions {
                library: library.map(PathBuf::from),
            },
            device,
            precision,
            optimized_cache_dir: self
                .optimized_cache
                .then(|| default_cache_dir().join("optimized")),
            intra_threads: (self.threads > 0).then_some(self.threads as usize),
            ..SessionOptions::default()
        })
    }
}

/// Called as work progresses, `done` of `total` units (tiles' pixels, frames, steps), on the
/// calling thread. Return 0 to go on, anything else to stop: the call then returns
/// `PRISM_STATUS_CANCELLED` and writes no output.
pub type PrismProgressFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, done: u64, total: u64) -> i32>;

/// A progress callback with its user data; `report` says whether to go on.
#[derive(Clone, Copy)]
pub struct Progress {
    pub callback: PrismProgressFn,
    pub user_data: *mut c_void,
}

impl Progress {
    /// Reports `done` of `total`; false when the callback asked to stop.
    pub fn report(&self, done: u64, total: u64) -> bool {
        match self.callback {
            Some(callback) => unsafe { callback(self.user_data, done, total) == 0 },
            None => true,
        }
    }
}

/// The model argument: `default` when NULL.
///
/// # Safety
/// `model` is NULL or a NUL-terminated string.
pub unsafe fn model_arg(model: *const c_char, default: &str) -> Result<PathBuf> {
    let id = unsafe { str_arg(model, "model")? }.unwrap_or_else(|| default.to_string());
    Ok(prism_hub::resolve_model(&id)?)
}

/// `*out = value` for an out-pointer argument.
///
/// # Safety
/// `out` is NULL or writable.
pub unsafe fn put<T>(out: *mut T, value: T, what: &str) -> Result<()> {
    let slot =
        unsafe { out.as_mut() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))?;
    *slot = value;
    Ok(())
}
