//! Model listing, resolving and downloading (`prism models`), and the runtime in use.

use std::path::PathBuf;

use prism_hub::{ManagerOptions, ModelManager};
use pyo3::prelude::*;

use crate::errors::IntoPy;
use crate::session;

fn manager() -> PyResult<ModelManager> {
    ModelManager::new(ManagerOptions::default()).py_err()
}

/// Registry models and where each is available, as `prism models list --json` gives them (JSON).
#[pyfunction]
#[pyo3(signature = (task = None))]
pub fn list_models_json(py: Python<'_>, task: Option<String>) -> PyResult<String> {
    py.detach(|| {
        let rows = manager()?.list(task.as_deref()).py_err()?;
        Ok(serde_json::Value::Array(rows).to_string())
    })
}

/// The file a model argument (path or id) resolves to: export, Hub cache, or a download.
#[pyfunction]
pub fn resolve_model(py: Python<'_>, model: String) -> PyResult<PathBuf> {
    py.detach(|| prism_hub::resolve_model(&model).py_err())
}

/// Downloads and verifies a model's Hub files (`prism models download`); JSON of what it got.
#[pyfunction]
pub fn download_model_json(py: Python<'_>, model: String) -> PyResult<String> {
    py.detach(|| {
        let files = manager()?.download(&model).py_err()?;
        let out: Vec<_> = files
            .iter()
            .map(|got| {
                serde_json::json!({
                    "precision": got.precision, "path": got.file.path, "size": got.file.size,
                    "sha256": got.file.sha256, "cached": got.file.cached,
                })
            })
            .collect();
        Ok(serde_json::Value::Array(out).to_string())
    })
}

/// Loads ONNX Runtime (once per process) and says which: path, version, providers compiled in.
#[pyfunction]
#[pyo3(signature = (ort_lib = None))]
pub fn runtime_info_json(py: Python<'_>, ort_lib: Option<PathBuf>) -> PyResult<String> {
    py.detach(|| {
        let runtime = prism_core::Runtime::init(&session::runtime(ort_lib)).py_err()?;
        let providers = runtime.compiled_providers().py_err()?;
        Ok(serde_json::json!({
            "path": runtime.path(), "version": runtime.version(), "providers": providers,
        })
        .to_string())
    })
}

/// Reads an image file as `prism` does (EXIF orientation applied, `max_pixels` checked).
#[pyfunction]
#[pyo3(signature = (path, *, max_pixels = prism_media::Limits::DEFAULT_MAX_PIXELS))]
pub fn read_image<'py>(
    py: Python<'py>,
    path: PathBuf,
    max_pixels: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let limits = prism_media::Limits { max_pixels };
    let image = py.detach(|| prism_media::read_image(&path, &limits).py_err())?;
    crate::arrays::to_array(py, image.image, None)
}

/// Writes an image array as `prism` does (atomically; format from the extension).
#[pyfunction]
#[pyo3(signature = (path, image, *, quality = 95))]
pub fn write_image(
    py: Python<'_>,
    path: PathBuf,
    image: &Bound<'_, PyAny>,
    quality: u8,
) -> PyResult<()> {
    let (image, _) = crate::arrays::to_image(image)?;
    let write = prism_media::WriteOptions {
        jpeg_quality: quality,
        ..prism_media::WriteOptions::default()
    };
    py.detach(|| prism_media::write_image(&path, &image, None, &write).py_err())
}
