//! The CLI's session flags (`--device`, `--precision`, `--threads`, ...) as keyword arguments,
//! and the ONNX Runtime library the package loads.

use std::path::PathBuf;
use std::sync::Mutex;

use prism_core::session::default_cache_dir;
use prism_core::{Device, OptLevel, Precision, RuntimeOptions, SessionOptions};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::usage;

/// The keyword arguments every model-loading call takes, in the CLI's order.
pub const SESSION_OPTIONS: [&str; 10] = [
    "device",
    "precision",
    "threads",
    "opt_level",
    "no_cache",
    "deterministic",
    "cuda_mem_limit",
    "trt_fp16",
    "trt_opt_level",
    "ort_lib",
];

/// The library the Python package found (the `onnxruntime` wheel), used when no `ort_lib` is given.
static DEFAULT_LIBRARY: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Sets (or clears) the ONNX Runtime library used when a call passes no `ort_lib`.
#[pyfunction]
#[pyo3(signature = (path))]
pub fn set_runtime_library(path: Option<PathBuf>) {
    *DEFAULT_LIBRARY.lock().unwrap_or_else(|p| p.into_inner()) = path;
}

/// The runtime options for `ort_lib` (else the package's default library, else Prism's search).
pub fn runtime(ort_lib: Option<PathBuf>) -> RuntimeOptions {
    let library = ort_lib.or_else(|| {
        DEFAULT_LIBRARY
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    });
    RuntimeOptions { library }
}

/// Session options from the keyword arguments, defaults as the CLI's.
pub fn options(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<SessionOptions> {
    let mut device = Device::default();
    let mut precision = Precision::default();
    let mut opt_level = OptLevel::default();
    let (mut threads, mut cuda_mem_limit, mut ort_lib) = (None, None, None);
    let (mut no_cache, mut deterministic, mut trt_fp16, mut trt_opt_level) =
        (false, false, true, 3u8);
    if let Some(kwargs) = kwargs {
        for (key, value) in kwargs.iter() {
            let key: String = key.extract()?;
            if value.is_none() {
                if ["threads", "cuda_mem_limit", "ort_lib"].contains(&key.as_str()) {
                    continue;
                }
                return Err(PyTypeError::new_err(format!("{key} cannot be None")));
            }
            match key.as_str() {
                "device" => device = parse(&key, &value)?,
                "precision" => precision = parse(&key, &value)?,
                "opt_level" => opt_level = parse(&key, &value)?,
                "threads" => threads = Some(value.extract::<usize>()?),
                "no_cache" => no_cache = value.extract()?,
                "deterministic" => deterministic = value.extract()?,
                "cuda_mem_limit" => cuda_mem_limit = Some(value.extract::<usize>()?),
                "trt_fp16" => trt_fp16 = value.extract()?,
                "trt_opt_level" => trt_opt_level = value.extract()?,
                "ort_lib" => ort_lib = Some(value.extract::<PathBuf>()?),
                _ => {
                    return Err(PyTypeError::new_err(format!(
                        "unexpected keyword argument '{key}' (session options: {})",
                        SESSION_OPTIONS.join(", ")
                    )));
                }
            }
        }
    }
    let mut options = SessionOptions {
        runtime: runtime(ort_lib),
        device,
        precision,
        optimization: opt_level,
        optimized_cache_dir: (!no_cache).then(|| default_cache_dir().join("optimized")),
        intra_threads: threads,
        deterministic,
        ..SessionOptions::default()
    };
    options.cuda.memory_limit = cuda_mem_limit.map(|mib| mib << 20);
    options.tensorrt.fp16 = trt_fp16;
    options.tensorrt.builder_optimization_level = trt_opt_level;
    Ok(options)
}

/// A string option parsed as the CLI parses its flag (a usage error naming the option).
pub fn parse<T: std::str::FromStr>(key: &str, value: &Bound<'_, PyAny>) -> PyResult<T>
where
    T::Err: std::fmt::Display,
{
    let text: String = value.str()?.extract()?;
    text.parse()
        .map_err(|e| usage(format!("invalid value '{text}' for {key}: {e}")))
}
