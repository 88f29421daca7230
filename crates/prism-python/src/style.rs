//! `prism.FastStyle` and `prism.neural_style`: `prism style fast` and `prism style neural`.

use std::ops::ControlFlow;
use std::sync::Mutex;

use image::DynamicImage;
use prism_core::{ModelInfo, SessionOptions};
use prism_hub::{Registry, resolve_model};
use prism_style::multistyle::is_multistyle;
use prism_style::{
    Arbitrary, FastOptions, FeedForward, Init, LayerWeight, LineSearch, LossWeights, MultiStyle,
    NeuralOptions, Optimizer, Pool, StyleImage, StyleMix, Vgg,
};
use pyo3::exceptions::PyUserWarning;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::arrays;
use crate::errors::{IntoPy, to_py, usage};
use crate::progress::Progress;
use crate::session;

/// The default network: 26 real styles.
const MULTISTYLE: &str = "style-multistyle26";
/// The Magenta arbitrary-style pair.
const PREDICT: &str = "style-arbitrary-predict";
const TRANSFORM: &str = "style-arbitrary-transform";

/// What a run says about its network's weights (as `prism style` prints it).
fn weights_note(kind: &str) -> &'static str {
    match kind {
        "real" => "real weights",
        "seeded-random" => {
            "SEEDED RANDOM weights (no real weights were available at export): not the published style"
        }
        _ => "weights of unknown origin (the file has no prism metadata and no registry entry)",
    }
}

/// A style image: an array, or a file read as `prism` reads it (its stem names the style).
fn style_image(value: &Bound<'_, PyAny>) -> PyResult<(DynamicImage, String)> {
    if value.is_instance_of::<PyString>() || value.hasattr("__fspath__")? {
        let path: std::path::PathBuf = value.extract()?;
        let image = prism_media::read_image(&path, &prism_media::Limits::default())
            .py_err()?
            .image;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "style".into());
        return Ok((image, name));
    }
    Ok((arrays::to_image(value)?.0, "style".into()))
}

/// A feed-forward style network (`prism style fast`), ready for any number of arrays.
#[pyclass(module = "prism", frozen)]
pub struct FastStyle {
    pub(crate) inner: Mutex<FeedForward>,
    label: String,
    suffix: String,
    provider: String,
    weights: String,
}

/// Opens the network the arguments ask for, as `prism style fast` does; also its weights kind.
fn open(
    model: Option<&str>,
    style: Option<StyleMix>,
    style_image: Option<(DynamicImage, String)>,
    options: &SessionOptions,
) -> prism_style::Result<(FeedForward, String)> {
    if let Some((image, name)) = style_image {
        let net = Arbitrary::load(
            &resolve_model(PREDICT)?,
            &resolve_model(TRANSFORM)?,
            options,
        )?;
        return Ok((FeedForward::arbitrary(net, &image, &name)?, "real".into()));
    }
    let id = model.unwrap_or(MULTISTYLE);
    let path = resolve_model(id)?;
    if is_multistyle(&ModelInfo::inspect(&path)?) {
        let mix = match style {
            Some(mix) => mix,
            None => StyleMix::one(0)?,
        };
        let net = MultiStyle::load(&path, options)?;
        return Ok((FeedForward::Multi { net, mix }, "real".into()));
    }
    if let Some(style) = style {
        return Err(prism_style::Error::Options(format!(
            "--style {} picks one of multistyle26's 26 styles, but `{id}` is a single-style network",
            style.label()
        )));
    }
    let mut net = prism_style::FastStyle::load(&path, options)?;
    if net.weights == "unknown" {
        // Files without prism metadata (the ONNX Model Zoo's) are known by their registry entry.
        if let Some(m) = Registry::load_default()
            .ok()
            .and_then(|r| r.get(id).cloned())
        {
            net.weights = m.weights.kind.clone();
        }
    }
    let weights = net.weights.clone();
    Ok((FeedForward::Transformer(net), weights))
}

#[pymethods]
impl FastStyle {
    #[new]
    #[pyo3(signature = (model = None, *, style = None, style_image = None, **session))]
    fn new(
        py: Python<'_>,
        model: Option<String>,
        style: Option<&Bound<'_, PyAny>>,
        style_image: Option<&Bound<'_, PyAny>>,
        session: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<FastStyle> {
        let options = session::options(session)?;
        if style_image.is_some() && (model.is_some() || style.is_some()) {
            return Err(usage("style_image cannot be used with model or style"));
        }
        let style = match style {
            Some(s) if !s.is_none() => Some(session::parse::<StyleMix>("style", s)?),
            _ => None,
        };
        let style_image = style_image.map(self::style_image).transpose()?;
        let (net, weights) =
            py.detach(|| open(model.as_deref(), style, style_image, &options).py_err())?;
        let style = FastStyle {
            label: net.label(),
            suffix: net.suffix(),
            provider: net.provider().to_string(),
            weights,
            inner: Mutex::new(net),
        };
        if style.weights != "real" {
            let text = format!("{}: {}", style.label, weights_note(&style.weights));
            PyErr::warn(
                py,
                &py.get_type::<PyUserWarning>(),
                &std::ffi::CString::new(text)?,
                1,
            )?;
        }
        Ok(style)
    }

    /// Stylises an image array (`--content-scale`, `--strength`, `--preserve-colors`).
    #[pyo3(signature = (image, *, content_scale = 1.0, strength = 1.0, preserve_colors = false))]
    fn stylize<'py>(
        &self,
        py: Python<'py>,
        image: &Bound<'py, PyAny>,
        content_scale: f32,
        strength: f32,
        preserve_colors: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = FastOptions {
            content_scale,
            strength,
            preserve_colors,
        };
        options.validate().py_err()?;
        let (image, layout) = arrays::to_image(image)?;
        let out = py.detach(|| {
            let mut net = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            net.stylize(&image, &options).py_err()
        })?;
        arrays::to_array(py, out, Some(layout))
    }

    /// Which network and style made the results (e.g. `multistyle26 style 7`).
    #[getter]
    fn label(&self) -> &str {
        &self.label
    }

    /// The file-name suffix `prism style fast` gives outputs (e.g. `_style7`).
    #[getter]
    fn suffix(&self) -> &str {
        &self.suffix
    }

    /// `real`, `seeded-random` or `unknown` (seeded networks also warn when loaded).
    #[getter]
    fn weights(&self) -> &str {
        &self.weights
    }

    /// The execution provider the network runs on.
    #[getter]
    fn provider(&self) -> &str {
        &self.provider
    }

    fn __repr__(&self) -> String {
        format!(
            "prism.FastStyle({}, {}, {} weights)",
            self.label, self.provider, self.weights
        )
    }
}

/// Comma-separated layer weights (`relu4_2` or `relu4_2:1,relu3_1:0.5`).
fn layers(key: &str, text: &str) -> PyResult<Vec<LayerWeight>> {
    text.split(',')
        .map(|part| {
            part.trim()
                .parse::<LayerWeight>()
                .map_err(|e| usage(format!("invalid value '{part}' for {key}: {e}")))
        })
        .collect()
}

/// Gatys et al. neural style (`prism style neural`): optimises an image against VGG19.
#[pyfunction]
#[pyo3(signature = (
    content, style, *, blend = None, size = None, steps = 300, optimizer = "lbfgs", lr = None,
    history = 100, line_search = "armijo", content_weight = prism_style::loss::CONTENT_WEIGHT,
    style_weight = prism_style::loss::STYLE_WEIGHT, tv_weight = prism_style::loss::TV_WEIGHT,
    content_layers = "relu4_2", style_layers = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1",
    init = None, seed = 0, style_scale = 1.0, original_colors = false, pool = "max", scales = 1,
    progress = None, **session
))]
#[allow(clippy::too_many_arguments)]
pub fn neural_style<'py>(
    py: Python<'py>,
    content: &Bound<'py, PyAny>,
    style: &Bound<'py, PyAny>,
    blend: Option<Vec<f32>>,
    size: Option<u32>,
    steps: usize,
    optimizer: &str,
    lr: Option<f32>,
    history: usize,
    line_search: &str,
    content_weight: f64,
    style_weight: f64,
    tv_weight: f64,
    content_layers: &str,
    style_layers: &str,
    init: Option<&Bound<'py, PyAny>>,
    seed: u64,
    style_scale: f32,
    original_colors: bool,
    pool: &str,
    scales: usize,
    progress: Option<Bound<'py, PyAny>>,
    session: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let session = session::options(session)?;
    let (content, layout) = arrays::to_image(content)?;
    let styles: Vec<DynamicImage> = if style.hasattr("shape")? {
        vec![arrays::to_image(style)?.0]
    } else {
        style
            .try_iter()?
            .map(|s| Ok(arrays::to_image(&s?)?.0))
            .collect::<PyResult<_>>()?
    };
    let blend = match blend {
        None => vec![1.0; styles.len()],
        Some(b) if b.len() == styles.len() => b,
        Some(b) => {
            return Err(usage(format!(
                "--blend has {} weights for {} style images",
                b.len(),
                styles.len()
            )));
        }
    };
    let optimizer = match optimizer {
        "lbfgs" | "l-bfgs" => Optimizer::Lbfgs {
            history,
            line_search: line_search.parse::<LineSearch>().map_err(|e| {
                usage(format!(
                    "invalid value '{line_search}' for line_search: {e}"
                ))
            })?,
            lr: lr.unwrap_or(1.0),
        },
        "adam" => Optimizer::Adam {
            lr: lr.unwrap_or(0.02),
        },
        other => {
            return Err(usage(format!(
                "invalid value '{other}' for optimizer: expected `lbfgs` or `adam`"
            )));
        }
    };
    let init = match init {
        None => Init::Content,
        Some(v) if v.is_instance_of::<PyString>() => match v.extract::<String>()?.as_str() {
            "content" => Init::Content,
            "noise" => Init::Noise,
            other => {
                return Err(usage(format!(
                    "invalid value '{other}' for init: expected `content`, `noise` or an image array"
                )));
            }
        },
        Some(v) => Init::Image(arrays::to_image(v)?.0),
    };
    let pool = pool
        .parse::<Pool>()
        .map_err(|e| usage(format!("invalid value '{pool}' for pool: {e}")))?;
    let options = NeuralOptions {
        size,
        steps,
        optimizer,
        loss: LossWeights {
            content: content_weight,
            style: style_weight,
            tv: tv_weight,
            content_layers: layers("content_layers", content_layers)?,
            style_layers: layers("style_layers", style_layers)?,
        },
        init,
        seed,
        style_scale,
        original_colors,
        scales,
        snapshot_every: 0,
    };
    let progress = Progress::new(progress);
    let result = py.detach(|| -> prism_style::Result<(DynamicImage, String)> {
        let mut vgg = Vgg::load(pool, &session)?;
        let refs: Vec<StyleImage<'_>> = styles
            .iter()
            .zip(&blend)
            .map(|(image, &weight)| StyleImage { image, weight })
            .collect();
        let result = prism_style::neural_style(&mut vgg, &content, &refs, &options, &mut |p| {
            let done = (p.scale * p.steps + p.step + 1) as u64;
            match progress.report(done, (p.scales * p.steps) as u64) {
                true => ControlFlow::Continue(()),
                false => ControlFlow::Break(()),
            }
        })?;
        Ok((result.image, vgg.weights.clone()))
    });
    let (image, weights) = progress.finish(result.map_err(to_py))?;
    if weights != "real" {
        let text = format!("neural style VGG19: {}", weights_note(&weights));
        PyErr::warn(
            py,
            &py.get_type::<PyUserWarning>(),
            &std::ffi::CString::new(text)?,
            1,
        )?;
    }
    arrays::to_array(py, image, Some(layout))
}
