//! `prism.Interpolator`: `prism interpolate`'s RIFE models and options on pairs of arrays.

use std::path::PathBuf;
use std::sync::Mutex;

use image::DynamicImage;
use prism_interpolate::{InterpolatorOptions, TimestepSupport};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::arrays::{self, Layout};
use crate::errors::{IntoPy, message, to_py, with_code};
use crate::progress::Progress;
use crate::session;

/// A loaded RIFE model (`prism interpolate --model`), ready to make frames between two arrays.
#[pyclass(module = "prism", frozen)]
pub struct Interpolator {
    pub(crate) inner: Mutex<prism_interpolate::Interpolator>,
    path: PathBuf,
    provider: String,
    support: TimestepSupport,
}

impl Interpolator {
    /// Frames at `ts` between `a` and `b`, one model run per timestep (progress and
    /// cancellation between them); bisection models make all of them in one go.
    fn run<'py>(
        &self,
        py: Python<'py>,
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
        ts: &[f64],
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let (a, layout): (DynamicImage, Layout) = arrays::to_image(a)?;
        let (b, _) = arrays::to_image(b)?;
        let progress = Progress::new(progress);
        let result = py.detach(|| -> prism_interpolate::Result<Vec<DynamicImage>> {
            let mut rife = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let (pa, pb) = (rife.prepare(&a)?, rife.prepare(&b)?);
            let total = ts.len() as u64;
            if self.support == TimestepSupport::HalfOnly {
                let frames = rife.interpolate_prepared(&pa, &pb, ts)?;
                progress.report(total, total);
                return Ok(frames.into_iter().map(|f| f.image).collect());
            }
            let mut out = Vec::with_capacity(ts.len());
            for (i, &t) in ts.iter().enumerate() {
                if progress.cancelled() {
                    return Err(prism_interpolate::Error::Cancelled);
                }
                out.push(rife.interpolate_prepared(&pa, &pb, &[t])?.remove(0).image);
                progress.report(i as u64 + 1, total);
            }
            if progress.cancelled() {
                return Err(prism_interpolate::Error::Cancelled);
            }
            Ok(out)
        });
        let frames = progress.finish(result.map_err(to_py))?;
        frames
            .into_iter()
            .map(|f| arrays::to_array(py, f, Some(layout)))
            .collect()
    }
}

#[pymethods]
impl Interpolator {
    #[new]
    #[pyo3(signature = (
        model = "rife-v4.6", *, scale = 1.0, ensemble = false, tta = false,
        nearest_timestep = false, **session
    ))]
    fn new(
        py: Python<'_>,
        model: &str,
        scale: f64,
        ensemble: bool,
        tta: bool,
        nearest_timestep: bool,
        session: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Interpolator> {
        let options = InterpolatorOptions {
            session: session::options(session)?,
            ensemble,
            tta,
            nearest_timestep,
            ..InterpolatorOptions::default()
        };
        let model = model.to_string();
        let (rife, path) = py.detach(|| -> PyResult<_> {
            let id = prism_interpolate::scale_variant(&model, scale).py_err()?;
            // As `prism interpolate --scale`: the scale variant is its own export.
            let path = prism_hub::resolve_model(&id).map_err(|e| {
                let text = format!(
                    "--scale {scale} needs the model `{id}` (export it with `python -m prism_export export {id}`): {}",
                    message(&e)
                );
                match scale == 1.0 {
                    true => to_py(e),
                    false => with_code(crate::errors::Coded::code(&e), text),
                }
            })?;
            let rife = prism_interpolate::Interpolator::new(&path, options).py_err()?;
            Ok((rife, path))
        })?;
        Ok(Interpolator {
            path,
            provider: rife.model().provider().to_string(),
            support: rife.support(),
            inner: Mutex::new(rife),
        })
    }

    /// The frame at `t` in (0, 1) between `a` and `b` (arrays of one size and layout).
    #[pyo3(signature = (a, b, t = 0.5, progress = None))]
    fn interpolate<'py>(
        &self,
        py: Python<'py>,
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
        t: f64,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.run(py, a, b, &[t], progress)?.remove(0))
    }

    /// The frames at each of `timesteps` between `a` and `b`, in the order given.
    #[pyo3(signature = (a, b, timesteps, progress = None))]
    fn interpolate_many<'py>(
        &self,
        py: Python<'py>,
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
        timesteps: Vec<f64>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.run(py, a, b, &timesteps, progress)?)
    }

    /// `n` evenly spaced frames between `a` and `b` (`prism interpolate -n`: t = i / (n + 1)).
    #[pyo3(signature = (a, b, n, progress = None))]
    fn frames_between<'py>(
        &self,
        py: Python<'py>,
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
        n: u32,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let ts: Vec<f64> = (1..=n).map(|i| f64::from(i) / f64::from(n + 1)).collect();
        PyList::new(py, self.run(py, a, b, &ts, progress)?)
    }

    /// The model file in use.
    #[getter]
    fn model_path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The execution provider the model runs on.
    #[getter]
    fn provider(&self) -> &str {
        &self.provider
    }

    /// `"any"` (v4: any t in (0, 1)) or `"0.5"` (HD v3: dyadic t by bisection).
    #[getter]
    fn timesteps(&self) -> &'static str {
        match self.support {
            TimestepSupport::Any => "any",
            TimestepSupport::HalfOnly => "0.5",
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "prism.Interpolator({}, {}, t {})",
            self.path.display(),
            self.provider,
            self.timesteps()
        )
    }
}
