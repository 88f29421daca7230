//! Loading a model into an ONNX Runtime session on the chosen provider, and running it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use half::f16;
use ndarray::ArrayD;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::device::{
    AttemptError, Device, Precision, Provider, Selection, resolve_variant, select,
};
use crate::error::{Error, Result};
use crate::info::{ModelBytes, ModelInfo};
use crate::onnx::{Dim, ElementType, TensorSpec};
use crate::runtime::{Runtime, RuntimeOptions};

mod any_size;
mod fallback;
mod profile;
mod providers;
mod tiny_model;

pub use providers::{ConvSearch, EpSpec, ProfileInput, ShapeProfile, engine_cache_key, plan};

/// Graph optimisation level, as in ONNX Runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    Disable,
    Basic,
    Extended,
    #[default]
    All,
}

impl std::str::FromStr for OptLevel {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "disable" | "none" | "0" => Ok(OptLevel::Disable),
            "basic" | "1" => Ok(OptLevel::Basic),
            "extended" | "2" => Ok(OptLevel::Extended),
            "all" | "3" => Ok(OptLevel::All),
            _ => Err(format!(
                "unknown optimisation level `{s}` (disable, basic, extended, all)"
            )),
        }
    }
}

/// CUDA provider settings.
#[derive(Debug, Clone)]
pub struct CudaOptions {
    /// Heuristic cuDNN convolution search. The exhaustive default re-benchmarks every new input shape,
    /// which makes the first tile of every new size slow.
    pub heuristic_conv_search: bool,
    /// Upper bound for the CUDA memory arena, in bytes.
    pub memory_limit: Option<usize>,
}

impl Default for CudaOptions {
    fn default() -> Self {
        Self {
            heuristic_conv_search: true,
            memory_limit: None,
        }
    }
}

/// TensorRT provider settings.
#[derive(Debug, Clone)]
pub struct TensorRtOptions {
    /// Let TensorRT pick FP16 kernels.
    pub fp16: bool,
    /// Engine and timing caches live here, so engines are built once per model and shape range.
    pub cache_dir: Option<PathBuf>,
    /// Builder optimisation level 0..=5 (TensorRT's default is 3).
    pub builder_optimization_level: u8,
    /// Min/opt/max input shapes (from the tile plan), so one engine serves a whole run; `None`
    /// lets TensorRT build an engine per new shape.
    pub profile: Option<ShapeProfile>,
}

impl Default for TensorRtOptions {
    fn default() -> Self {
        Self {
            fp16: true,
            cache_dir: Some(default_cache_dir().join("tensorrt")),
            builder_optimization_level: 3,
            profile: None,
        }
    }
}

/// Everything that decides how a model is loaded.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub runtime: RuntimeOptions,
    pub device: Device,
    pub precision: Precision,
    pub optimization: OptLevel,
    /// Where optimised models are cached (keyed by model hash, provider and runtime version);
    /// `None` disables the cache.
    pub optimized_cache_dir: Option<PathBuf>,
    /// Intra-op threads; `None` means one per physical core.
    pub intra_threads: Option<usize>,
    /// Deterministic kernels and a single inter-op thread, for bit-reproducible runs.
    pub deterministic: bool,
    /// ONNX Runtime's CPU memory arena and memory-pattern planning: faster for repeated runs at one
    /// shape, but the arena keeps its high-water mark; turn off for large, varying shapes.
    pub cpu_memory_arena: bool,
    pub cuda: CudaOptions,
    pub tensorrt: TensorRtOptions,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            runtime: RuntimeOptions::default(),
            device: Device::default(),
            precision: Precision::default(),
            optimization: OptLevel::default(),
            optimized_cache_dir: None,
            intra_threads: None,
            deterministic: false,
            cpu_memory_arena: true,
            cuda: CudaOptions::default(),
            tensorrt: TensorRtOptions::default(),
        }
    }
}

/// Prism's per-user cache folder: `$PRISM_CACHE_DIR`, else `$XDG_CACHE_HOME/prism`, else `~/.cache/prism`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PRISM_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("prism");
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".cache").join("prism")
}

/// A tensor handed to or returned by a model.
#[derive(Debug, Clone)]
pub enum Tensor {
    F32(ArrayD<f32>),
    F16(ArrayD<f16>),
}

impl Tensor {
    pub fn shape(&self) -> &[usize] {
        match self {
            Tensor::F32(a) => a.shape(),
            Tensor::F16(a) => a.shape(),
        }
    }

    pub fn element_type(&self) -> ElementType {
        match self {
            Tensor::F32(_) => ElementType::Float32,
            Tensor::F16(_) => ElementType::Float16,
        }
    }

    /// The values as `f32`, converting from FP16 when needed.
    pub fn into_f32(self) -> ArrayD<f32> {
        match self {
            Tensor::F32(a) => a,
            Tensor::F16(a) => a.mapv(f32::from),
        }
    }

    /// This tensor converted to `ty` (FP32 or FP16).
    pub fn cast(self, ty: ElementType) -> Tensor {
        match (self, ty) {
            (Tensor::F32(a), ElementType::Float16) => Tensor::F16(a.mapv(f16::from_f32)),
            (Tensor::F16(a), ElementType::Float32) => Tensor::F32(a.mapv(f32::from)),
            (t, _) => t,
        }
    }
}

/// The result of [`Model::load`]'s provider search, for reporting.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub provider: Provider,
    pub device_id: i32,
    pub precision: Precision,
    /// Whether the session computes in FP16: an FP16 file, or TensorRT with FP16 kernels.
    pub fp16_kernels: bool,
    /// Providers tried before the one used, with the reason each was passed over.
    pub passed_over: Vec<(Provider, String)>,
    pub optimized_cache: Option<PathBuf>,
    pub load_ms: f64,
}

/// A model loaded into a session: the unit every task runs.
pub struct Model {
    session: ort::session::Session,
    info: ModelInfo,
    report: LoadReport,
    options: SessionOptions,
    /// Input axes whose fixed declared dims were made free ([`Model::accept_shapes`]).
    freed: any_size::Freed,
    /// The FP16 -> FP32 fallback of [`Model::run_checked`].
    fallback: fallback::Fallback,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("path", &self.info.path)
            .field("provider", &self.report.provider)
            .finish()
    }
}

impl Model {
    /// Loads `path` (or its precision variant) on the best provider the options allow.
    pub fn load(path: &Path, options: &SessionOptions) -> Result<Model> {
        let started = Instant::now();
        Runtime::init(&options.runtime)?;
        // Validate the given file before any provider work, so a bad file is named as such.
        // Read once: the session is built from the bytes inspected and verified here.
        let (given, given_bytes) = ModelInfo::read(path)?;
        crate::models::verify_listed(path, path, given.file_size, &given.sha256)?;
        let mut chosen: Option<(PathBuf, ModelInfo, Option<PathBuf>)> = None;
        let (
            session,
            Selection {
                provider,
                device_id,
                passed_over,
            },
        ) = select(options.device, |provider, device_id| {
            let file =
                resolve_variant(path, options.precision, provider).map_err(AttemptError::Fatal)?;
            let variant;
            let (info, bytes) = if file == path {
                (given.clone(), &given_bytes)
            } else {
                // Every precision variant is verified as the given file was.
                let (info, bytes) = ModelInfo::read(&file).map_err(AttemptError::Fatal)?;
                crate::models::verify_listed(path, &file, info.file_size, &info.sha256)
                    .map_err(AttemptError::Fatal)?;
                variant = bytes;
                (info, &variant)
            };
            let builder = configure(options).map_err(AttemptError::Fatal)?;
            let mut builder = register(builder, provider, device_id, options, &info.sha256)
                .map_err(AttemptError::Provider)?;
            let (session, cached) =
                commit(&mut builder, &file, bytes, &info.sha256, provider, options).map_err(
                    |e| match (provider, e) {
                        (Provider::Cpu, e) => AttemptError::Fatal(e),
                        (_, e) => AttemptError::Provider(e.to_string()),
                    },
                )?;
            chosen = Some((file, info, cached));
            Ok(session)
        })?;
        let (file, mut info, optimized_cache) = chosen.expect("set by the successful attempt");
        info.provider = Some(provider);
        let precision = info.precision();
        let fp16_kernels = precision == Precision::Fp16
            || (provider == Provider::TensorRt && options.tensorrt.fp16);
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::info!(model = %file.display(), %provider, precision = precision.as_str(), load_ms, "model loaded");
        let report = LoadReport {
            provider,
            device_id,
            precision,
            fp16_kernels,
            passed_over,
            optimized_cache,
            load_ms,
        };
        Ok(Model {
            session,
            info,
            report,
            options: options.clone(),
            freed: any_size::Freed::default(),
            fallback: fallback::Fallback::default(),
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.info.path
    }

    /// The provider this session really runs on.
    pub fn provider(&self) -> Provider {
        self.report.provider
    }

    pub fn load_report(&self) -> &LoadReport {
        &self.report
    }

    /// Runs the model on named inputs (in graph order when `inputs` has one entry per input),
    /// after checking each against the graph's element type, rank and fixed dimensions. FP32 inputs
    /// given to an FP16 graph (and the reverse) are converted.
    pub fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let path = self.info.path.clone();
        if inputs.len() != self.info.inputs.len() {
            return Err(Error::InputMismatch {
                path,
                input: "(all)".into(),
                expected: format!("{} inputs", self.info.inputs.len()),
                got: format!("{} inputs", inputs.len()),
            });
        }
        let shapes: Vec<(String, Vec<usize>)> = self
            .info
            .inputs
            .iter()
            .zip(&inputs)
            .map(|(spec, tensor)| (spec.name.clone(), tensor.shape().to_vec()))
            .collect();
        let mut values: Vec<(String, ort::session::SessionInputValue<'static>)> =
            Vec::with_capacity(inputs.len());
        for (spec, tensor) in self.info.inputs.iter().zip(inputs) {
            check_input(&path, spec, &tensor)?;
            let value = match tensor.cast(spec.element_type) {
                Tensor::F32(a) => ort::value::Tensor::from_array(a)?.into_dyn(),
                Tensor::F16(a) => ort::value::Tensor::from_array(a)?.into_dyn(),
            };
            values.push((spec.name.clone(), value.into()));
        }
        let outputs = self.session.run(values).map_err(|e| {
            let shapes: Vec<(&str, &[usize])> = shapes
                .iter()
                .map(|(n, s)| (n.as_str(), s.as_slice()))
                .collect();
            self.freed.run_error(&path, e.message(), &shapes)
        })?;
        let mut result = Vec::with_capacity(outputs.len());
        for (_, value) in outputs.iter() {
            let tensor = if let Ok(a) = value.try_extract_array::<f32>() {
                Tensor::F32(a.to_owned())
            } else if let Ok(a) = value.try_extract_array::<f16>() {
                Tensor::F16(a.to_owned())
            } else {
                return Err(Error::Inference {
                    path,
                    message: format!("output type {:?} is not FP32 or FP16", value.dtype()),
                });
            };
            result.push(tensor);
        }
        Ok(result)
    }
}

fn check_input(path: &Path, spec: &TensorSpec, tensor: &Tensor) -> Result<()> {
    let mismatch = |expected: String, got: String| Error::InputMismatch {
        path: path.to_path_buf(),
        input: spec.name.clone(),
        expected,
        got,
    };
    if !matches!(
        spec.element_type,
        ElementType::Float32 | ElementType::Float16
    ) {
        return Err(mismatch(
            format!("element type {}", spec.element_type),
            format!("{}", tensor.element_type()),
        ));
    }
    let Some(dims) = &spec.shape else {
        return Ok(());
    };
    let shape = tensor.shape();
    let fits = dims.len() == shape.len()
        && dims.iter().zip(shape).all(|(d, &n)| match d {
            Dim::Fixed(f) => *f < 0 || *f as usize == n,
            _ => true,
        });
    if !fits {
        let got = shape
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("x");
        return Err(mismatch(
            format!("shape {}", spec.shape_string()),
            format!("shape {got}"),
        ));
    }
    Ok(())
}

fn configure(options: &SessionOptions) -> Result<SessionBuilder> {
    let threads = options
        .intra_threads
        .unwrap_or_else(num_cpus::get_physical)
        .max(1);
    let level = match options.optimization {
        OptLevel::Disable => GraphOptimizationLevel::Disable,
        OptLevel::Basic => GraphOptimizationLevel::Level1,
        OptLevel::Extended => GraphOptimizationLevel::Level2,
        OptLevel::All => GraphOptimizationLevel::All,
    };
    let builder = new_builder()?
        .with_optimization_level(level)?
        .with_intra_threads(threads)?
        .with_no_environment_execution_providers()?;
    let builder = if options.deterministic {
        builder
            .with_deterministic_compute(true)?
            .with_inter_threads(1)?
    } else {
        builder
    };
    Ok(builder.with_memory_pattern(options.cpu_memory_arena)?)
}

fn new_builder() -> Result<SessionBuilder> {
    let runtime = Runtime::get().ok_or_else(|| Error::Ort("ONNX Runtime is not loaded".into()))?;
    Ok(ort::session::Session::builder(runtime.environment())?)
}

use providers::register;

/// Builds the session from the model's `bytes` (from its path when weights live in external
/// files, or for TensorRT, whose engine cache names models by path), through the optimised-model
/// cache when one is configured.
fn commit(
    builder: &mut SessionBuilder,
    file: &Path,
    bytes: &ModelBytes,
    sha256: &str,
    provider: Provider,
    options: &SessionOptions,
) -> Result<(ort::session::Session, Option<PathBuf>)> {
    let invalid = |e: ort::Error| Error::InvalidModel {
        path: file.to_path_buf(),
        message: e.message().to_string(),
    };
    let from_source = |builder: &mut SessionBuilder| {
        if bytes.external || provider == Provider::TensorRt {
            builder.commit_from_file(file)
        } else {
            builder.commit_from_memory(&bytes.bytes)
        }
        .map_err(invalid)
    };
    // TensorRT compiles subgraphs, which cannot be saved as ONNX; it has its own engine cache.
    let cache_dir = options
        .optimized_cache_dir
        .as_ref()
        .filter(|_| provider != Provider::TensorRt);
    let Some(cache_dir) = cache_dir else {
        return Ok((from_source(builder)?, None));
    };
    let runtime = Runtime::get().expect("initialised by Model::load");
    let cached = cache_dir.join(optimized_cache_name(
        file,
        sha256,
        provider,
        runtime.version(),
        options.optimization,
    ));
    if cached.is_file() {
        // The cached graph is already optimised: skip the optimisers on load.
        let mut fast = std::mem::replace(builder, new_builder()?);
        fast = fast.with_optimization_level(GraphOptimizationLevel::Disable)?;
        match fast.commit_from_file(&cached) {
            Ok(session) => {
                tracing::debug!(cache = %cached.display(), "loaded optimised model from cache");
                return Ok((session, Some(cached)));
            }
            Err(e) => {
                tracing::warn!(cache = %cached.display(), error = %e, "ignoring unreadable optimised-model cache entry");
                let _ = std::fs::remove_file(&cached);
                let mut fresh = fast.with_optimization_level(GraphOptimizationLevel::All)?;
                return Ok((from_source(&mut fresh)?, None));
            }
        }
    }
    std::fs::create_dir_all(cache_dir).map_err(|error| Error::Io {
        path: cache_dir.clone(),
        error,
    })?;
    let partial = cached.with_extension(format!("partial-{}", std::process::id()));
    let mut writer = std::mem::replace(builder, new_builder()?);
    writer = writer.with_optimized_model_path(&partial)?;
    let session = from_source(&mut writer)?;
    // Written under a temporary name and renamed, so a reader never sees half a file.
    if let Err(e) = std::fs::rename(&partial, &cached) {
        tracing::warn!(cache = %cached.display(), error = %e, "could not store optimised model");
        let _ = std::fs::remove_file(&partial);
        return Ok((session, None));
    }
    Ok((session, Some(cached)))
}

/// `<stem>-<hash prefix>-<provider>-ort<version>-<level>.onnx`; the hash covers the model's sha256
/// (as read for the session) and the CPU model, since CPU-optimised graphs may use kernels of this
/// processor only.
fn optimized_cache_name(
    file: &Path,
    sha256: &str,
    provider: Provider,
    ort_version: &str,
    level: OptLevel,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(sha256.as_bytes());
    hasher.update(crate::system::cpu_info().model.as_bytes());
    let digest = hasher.finalize();
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    format!("{stem}-{hash}-{provider}-ort{ort_version}-{level:?}.onnx").to_lowercase()
}

/// Tries each GPU provider on a tiny embedded model: does it register and build a session?
pub fn probe_provider(
    provider: Provider,
    device_id: i32,
    options: &SessionOptions,
) -> std::result::Result<(), String> {
    let builder = configure(options).map_err(|e| e.to_string())?;
    let mut builder = register(builder, provider, device_id, options, "probe")?;
    builder
        .commit_from_memory(&tiny_model::identity())
        .map(|_| ())
        .map_err(|e| e.message().to_string())
}
