//! `prism`'s native module (`prism._prism`): Prism's upscaling, frame interpolation and style
//! transfer on numpy arrays, with the CLI's options, defaults and error messages. The Python
//! package (`python/prism`) wraps it: it points Prism at the `onnxruntime` wheel's library when one
//! is installed and types everything (`__init__.pyi`).
//!
//! Every model run releases the GIL; each object runs one call at a time (others wait).

// The library crates' error enums are large; they are converted to exceptions at once.
#![allow(clippy::result_large_err)]

mod arrays;
mod errors;
mod interpolate;
mod jobs;
mod models;
mod progress;
mod session;
mod style;
mod upscale;

use pyo3::prelude::*;

/// Log lines (warnings by default) go to stderr as the CLI's do; `RUST_LOG` overrides.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,ort=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[pymodule]
fn _prism(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_logging();
    errors::register(m)?;
    m.add("SESSION_OPTIONS", session::SESSION_OPTIONS.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<upscale::Upscaler>()?;
    m.add_class::<interpolate::Interpolator>()?;
    m.add_class::<style::FastStyle>()?;
    m.add_function(wrap_pyfunction!(style::neural_style, m)?)?;
    m.add_function(wrap_pyfunction!(session::set_runtime_library, m)?)?;
    m.add_function(wrap_pyfunction!(models::list_models_json, m)?)?;
    m.add_function(wrap_pyfunction!(models::resolve_model, m)?)?;
    m.add_function(wrap_pyfunction!(models::download_model_json, m)?)?;
    m.add_function(wrap_pyfunction!(models::runtime_info_json, m)?)?;
    m.add_function(wrap_pyfunction!(models::read_image, m)?)?;
    m.add_function(wrap_pyfunction!(models::write_image, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::list_inputs, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::plan_batch, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::map_files, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::segments, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::interpolate_segment, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::decode_video, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::remove_partials, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::encode_video, m)?)?;
    Ok(())
}
