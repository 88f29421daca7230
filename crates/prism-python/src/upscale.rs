//! `prism.Upscaler`: `prism upscale`'s model and options on numpy arrays.

use std::path::PathBuf;
use std::sync::Mutex;

use prism_upscale::{AlphaMode, Control, OutputScale, TileProgress, TileSize, UpscaleOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays;
use crate::errors::{IntoPy, usage};
use crate::progress::Progress;
use crate::session;

/// A loaded super-resolution model (`prism upscale --model`), ready to upscale arrays.
#[pyclass(module = "prism", frozen)]
pub struct Upscaler {
    pub(crate) inner: Mutex<prism_upscale::Upscaler>,
    suffix: String,
    path: PathBuf,
    scale: usize,
    provider: String,
    tile: usize,
    overlap: usize,
}

/// `--tile`: `auto`, `whole` or a side of 1 to 16384 input pixels.
fn tile(value: &Bound<'_, PyAny>) -> PyResult<TileSize> {
    let text: String = value.str()?.extract()?;
    match text.as_str() {
        "auto" => Ok(TileSize::Auto),
        "whole" => Ok(TileSize::Whole),
        n => match n.parse::<u32>() {
            Ok(side @ 1..=16384) => Ok(TileSize::Size(side)),
            _ => Err(usage(format!(
                "invalid value '{text}' for tile: expected `auto`, `whole` or a side of 1 to 16384 pixels"
            ))),
        },
    }
}

#[pymethods]
impl Upscaler {
    #[new]
    #[pyo3(signature = (
        model = "realesrgan-x4plus", *, tile = None, overlap = None, memory_budget = None,
        tiles_per_run = None, outscale = None, width = None, height = None, max_passes = 2,
        alpha = "model", premultiply = false, tta = false, **session
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model: &str,
        tile: Option<&Bound<'_, PyAny>>,
        overlap: Option<u32>,
        memory_budget: Option<usize>,
        tiles_per_run: Option<usize>,
        outscale: Option<f64>,
        width: Option<u32>,
        height: Option<u32>,
        max_passes: u32,
        alpha: &str,
        premultiply: bool,
        tta: bool,
        session: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Upscaler> {
        let scale = match (outscale, width, height) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(usage("outscale cannot be used with width or height"));
            }
            (Some(f), _, _) => OutputScale::Factor(f),
            (None, Some(w), Some(h)) => OutputScale::Size(w, h),
            (None, Some(w), None) => OutputScale::Width(w),
            (None, None, Some(h)) => OutputScale::Height(h),
            (None, None, None) => OutputScale::Native,
        };
        let alpha = match alpha {
            "model" => AlphaMode::Model,
            "resample" => AlphaMode::Resample,
            other => {
                return Err(usage(format!(
                    "invalid value '{other}' for alpha: expected `model` or `resample`"
                )));
            }
        };
        let options = UpscaleOptions {
            session: session::options(session)?,
            tile: match tile {
                Some(t) if !t.is_none() => self::tile(t)?,
                _ => TileSize::Auto,
            },
            overlap,
            memory_budget_mib: memory_budget,
            tiles_per_run,
            alpha,
            premultiply,
            scale,
            max_passes,
            tta,
        };
        let model = model.to_string();
        let named = scale;
        let (upscaler, path) = py.detach(|| -> PyResult<_> {
            let path = prism_hub::resolve_model(&model).py_err()?;
            let upscaler = prism_upscale::Upscaler::new(&path, options).py_err()?;
            Ok((upscaler, path))
        })?;
        // As `prism upscale` names outputs.
        let suffix = match named {
            OutputScale::Factor(f) => format!("_x{f}"),
            OutputScale::Native => format!("_x{}", upscaler.info().scale),
            _ => "_up".into(),
        };
        Ok(Upscaler {
            suffix,
            path,
            scale: upscaler.info().scale,
            provider: upscaler.model().provider().to_string(),
            tile: upscaler.tiles().core,
            overlap: upscaler.overlap(),
            inner: Mutex::new(upscaler),
        })
    }

    /// Upscales an image array; the result has the input's dtype and channels.
    #[pyo3(signature = (image, progress = None))]
    fn upscale<'py>(
        &self,
        py: Python<'py>,
        image: &Bound<'py, PyAny>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (image, layout) = arrays::to_image(image)?;
        let progress = Progress::new(progress);
        let result = py.detach(|| {
            let mut upscaler = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let mut report = |p: TileProgress| {
                progress.report(p.tiles_done as u64, p.tiles_total as u64);
            };
            let mut control = Control {
                progress: Some(&mut report),
                cancel: Some(progress.flag()),
            };
            upscaler.upscale_with(&image, &mut control).py_err()
        });
        let out = progress.finish(result)?;
        arrays::to_array(py, out, Some(layout))
    }

    /// The model's own factor.
    #[getter]
    fn scale(&self) -> usize {
        self.scale
    }

    /// The file-name suffix `prism upscale` gives outputs (`_x4`, `_x1.5`, `_up`).
    #[getter]
    fn suffix(&self) -> &str {
        &self.suffix
    }

    /// The model file in use.
    #[getter]
    fn model_path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The execution provider the model runs on (`CPU`, `CUDA`, `TensorRT`).
    #[getter]
    fn provider(&self) -> &str {
        &self.provider
    }

    /// The tile core in input pixels.
    #[getter]
    fn tile(&self) -> usize {
        self.tile
    }

    /// Context each tile gets on every side, in input pixels.
    #[getter]
    fn overlap(&self) -> usize {
        self.overlap
    }

    fn __repr__(&self) -> String {
        format!(
            "prism.Upscaler({}, x{}, {}, tile {}, overlap {})",
            self.path.display(),
            self.scale,
            self.provider,
            self.tile,
            self.overlap
        )
    }
}
