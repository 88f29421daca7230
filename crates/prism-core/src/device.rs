//! Devices, execution providers and precision, and the rule that picks among them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};

/// Where a model should run. `Auto` takes TensorRT, then CUDA, then CPU, among those that work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Auto,
    Cpu,
    Cuda(i32),
    TensorRt(i32),
}

/// The execution provider a session really uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Provider {
    #[serde(rename = "CPU")]
    Cpu,
    #[serde(rename = "CUDA")]
    Cuda,
    #[serde(rename = "TensorRT")]
    TensorRt,
}

impl Provider {
    /// ONNX Runtime's name for the provider.
    pub fn ort_name(self) -> &'static str {
        match self {
            Provider::Cpu => "CPUExecutionProvider",
            Provider::Cuda => "CUDAExecutionProvider",
            Provider::TensorRt => "TensorrtExecutionProvider",
        }
    }

    pub fn is_gpu(self) -> bool {
        !matches!(self, Provider::Cpu)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Cpu => "CPU",
            Provider::Cuda => "CUDA",
            Provider::TensorRt => "TensorRT",
        })
    }
}

impl Device {
    /// The providers to try, in order, with their device ids.
    pub fn candidates(self) -> Vec<(Provider, i32)> {
        match self {
            Device::Auto => vec![
                (Provider::TensorRt, 0),
                (Provider::Cuda, 0),
                (Provider::Cpu, 0),
            ],
            Device::Cpu => vec![(Provider::Cpu, 0)],
            Device::Cuda(id) => vec![(Provider::Cuda, id)],
            Device::TensorRt(id) => vec![(Provider::TensorRt, id)],
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Auto => f.write_str("auto"),
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(id) => write!(f, "cuda:{id}"),
            Device::TensorRt(id) => write!(f, "tensorrt:{id}"),
        }
    }
}

impl FromStr for Device {
    type Err = String;

    /// `auto`, `cpu`, `cuda`, `cuda:1`, `tensorrt`, `trt:0`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        let (name, id) = match lower.split_once(':') {
            Some((name, id)) => (
                name,
                id.parse::<i32>()
                    .map_err(|_| format!("bad device id in `{s}`"))?,
            ),
            None => (lower.as_str(), 0),
        };
        match name {
            "auto" => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(id)),
            "tensorrt" | "trt" => Ok(Device::TensorRt(id)),
            _ => Err(format!(
                "unknown device `{s}` (expected auto, cpu, cuda[:ID] or tensorrt[:ID])"
            )),
        }
    }
}

/// Numeric precision of the model variant to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// FP16 on GPU providers; on CPU the INT8 variant where its export passed the quality gate,
    /// else FP32.
    #[default]
    Auto,
    Fp32,
    Fp16,
    /// Static INT8 (QDQ) variant, `name.int8.onnx`.
    Int8,
}

impl Precision {
    /// The concrete precision for a provider.
    pub fn resolve(self, provider: Provider) -> Precision {
        match self {
            Precision::Auto if provider.is_gpu() => Precision::Fp16,
            Precision::Auto => Precision::Fp32,
            other => other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Auto => "auto",
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
        }
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Precision::Auto),
            "fp32" | "f32" | "float32" => Ok(Precision::Fp32),
            "fp16" | "f16" | "float16" | "half" => Ok(Precision::Fp16),
            "int8" | "i8" => Ok(Precision::Int8),
            _ => Err(format!(
                "unknown precision `{s}` (expected auto, fp32, fp16 or int8)"
            )),
        }
    }
}

/// The file of a model's precision variant: `name.fp32.onnx` <-> `name.fp16.onnx` <->
/// `name.int8.onnx`.
///
/// An explicit precision whose file is missing is an error; `Auto` keeps the given file instead.
/// `Auto` on CPU takes the INT8 variant only where an export manifest lists it as having passed
/// its quality gate ([`crate::models::int8_gate`]) and the CPU has 8-bit dot-product
/// instructions ([`crate::system::cpu_has_int8_dot`]; without them INT8 is slower than FP32).
pub fn resolve_variant(path: &Path, requested: Precision, provider: Provider) -> Result<PathBuf> {
    resolve_variant_on(path, requested, provider, crate::system::cpu_has_int8_dot())
}

/// [`resolve_variant`] for a CPU with (`int8_dot`) or without 8-bit dot-product instructions.
fn resolve_variant_on(
    path: &Path,
    requested: Precision,
    provider: Provider,
    int8_dot: bool,
) -> Result<PathBuf> {
    let want = requested.resolve(provider);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(path.to_path_buf());
    };
    let stem = name.strip_suffix(".onnx").unwrap_or(name);
    let base = [".fp32", ".fp16", ".int8"]
        .iter()
        .find_map(|s| stem.strip_suffix(s))
        .unwrap_or(stem);
    let current = if stem.ends_with(".fp16") {
        Precision::Fp16
    } else if stem.ends_with(".int8") {
        Precision::Int8
    } else {
        Precision::Fp32
    };
    if requested == Precision::Auto && provider == Provider::Cpu {
        if current == Precision::Int8 {
            return Ok(path.to_path_buf());
        }
        let int8 = path.with_file_name(format!("{base}.int8.onnx"));
        match crate::models::int8_gate(&int8)? {
            Some(gate) if gate.passed && !int8_dot => {
                tracing::debug!(path = %int8.display(), "INT8 variant passed its gate, but this CPU has no 8-bit dot product (VNNI, dotprod): FP32 is faster here");
            }
            Some(gate) if gate.passed => {
                tracing::debug!(path = %int8.display(), psnr_db = gate.psnr_db, "INT8 variant passed its gate; using it");
                return Ok(int8);
            }
            Some(_) => {
                tracing::debug!(path = %int8.display(), "INT8 variant did not pass its gate")
            }
            None => {}
        }
    }
    if current == want {
        return Ok(path.to_path_buf());
    }
    let candidate = path.with_file_name(format!("{base}.{}.onnx", want.as_str()));
    if candidate.is_file() {
        return Ok(candidate);
    }
    if requested == Precision::Auto {
        tracing::debug!(path = %path.display(), "no {} variant; using the given file", want.as_str());
        return Ok(path.to_path_buf());
    }
    Err(Error::MissingVariant {
        path: path.to_path_buf(),
        precision: want.as_str(),
        candidate,
    })
}

/// What went wrong when one provider was tried.
#[derive(Debug)]
pub enum AttemptError {
    /// The provider did not register or could not build the session: try the next one.
    Provider(String),
    /// A failure that no other provider would fix (a bad model, say): stop.
    Fatal(Error),
}

/// The provider that was chosen and why the ones before it were passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub provider: Provider,
    pub device_id: i32,
    pub passed_over: Vec<(Provider, String)>,
}

/// Tries the providers of `device` in order. An explicitly requested provider that fails is an
/// error; `Auto` falls back to the next and logs why.
pub fn select<T>(
    device: Device,
    mut attempt: impl FnMut(Provider, i32) -> std::result::Result<T, AttemptError>,
) -> Result<(T, Selection)> {
    let mut passed_over = Vec::new();
    let candidates = device.candidates();
    let last = candidates.len() - 1;
    for (i, (provider, device_id)) in candidates.into_iter().enumerate() {
        match attempt(provider, device_id) {
            Ok(value) => {
                return Ok((
                    value,
                    Selection {
                        provider,
                        device_id,
                        passed_over,
                    },
                ));
            }
            Err(AttemptError::Fatal(e)) => return Err(e),
            Err(AttemptError::Provider(reason)) => {
                if device != Device::Auto || i == last {
                    return Err(Error::ProviderUnavailable { provider, reason });
                }
                tracing::info!(%provider, %reason, "execution provider unavailable, falling back");
                passed_over.push((provider, reason));
            }
        }
    }
    unreachable!("the candidate list always ends in a provider that returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse() {
        assert_eq!("auto".parse::<Device>().unwrap(), Device::Auto);
        assert_eq!("CPU".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:2".parse::<Device>().unwrap(), Device::Cuda(2));
        assert_eq!("trt:1".parse::<Device>().unwrap(), Device::TensorRt(1));
        assert!("cuda:x".parse::<Device>().is_err());
        assert!("tpu".parse::<Device>().is_err());
    }

    #[test]
    fn auto_prefers_tensorrt_then_cuda_then_cpu() {
        let mut tried = Vec::new();
        let (_, sel) = select(Device::Auto, |p, _| {
            tried.push(p);
            Ok::<_, AttemptError>(())
        })
        .unwrap();
        assert_eq!(sel.provider, Provider::TensorRt);
        assert_eq!(tried, vec![Provider::TensorRt]);

        let (_, sel) = select(Device::Auto, |p, _| match p {
            Provider::TensorRt => Err(AttemptError::Provider("no libnvinfer".into())),
            _ => Ok(()),
        })
        .unwrap();
        assert_eq!(sel.provider, Provider::Cuda);
        assert_eq!(
            sel.passed_over,
            vec![(Provider::TensorRt, "no libnvinfer".to_string())]
        );
    }

    #[test]
    fn auto_falls_back_to_cpu_and_records_why() {
        let (_, sel) = select(Device::Auto, |p, _| match p {
            Provider::Cpu => Ok(()),
            other => Err(AttemptError::Provider(format!("{other} missing"))),
        })
        .unwrap();
        assert_eq!(sel.provider, Provider::Cpu);
        assert_eq!(sel.passed_over.len(), 2);
    }

    #[test]
    fn explicit_provider_failure_is_an_error() {
        let err = select(Device::Cuda(1), |p, id| {
            assert_eq!((p, id), (Provider::Cuda, 1));
            Err::<(), _>(AttemptError::Provider("no GPU".into()))
        })
        .unwrap_err();
        assert!(matches!(
            err,
            Error::ProviderUnavailable {
                provider: Provider::Cuda,
                ..
            }
        ));
    }

    #[test]
    fn fatal_errors_stop_the_search() {
        let mut calls = 0;
        let err = select(Device::Auto, |_, _| {
            calls += 1;
            Err::<(), _>(AttemptError::Fatal(Error::Ort("bad model".into())))
        })
        .unwrap_err();
        assert_eq!(calls, 1);
        assert!(matches!(err, Error::Ort(_)));
    }

    #[test]
    fn precision_auto_depends_on_provider() {
        assert_eq!(Precision::Auto.resolve(Provider::Cpu), Precision::Fp32);
        assert_eq!(Precision::Auto.resolve(Provider::Cuda), Precision::Fp16);
        assert_eq!(Precision::Auto.resolve(Provider::TensorRt), Precision::Fp16);
        assert_eq!(Precision::Fp32.resolve(Provider::Cuda), Precision::Fp32);
    }

    #[test]
    fn variants_resolve_by_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let fp32 = dir.path().join("m.fp32.onnx");
        let fp16 = dir.path().join("m.fp16.onnx");
        std::fs::write(&fp32, b"").unwrap();
        // No fp16 file yet: Auto keeps the given file, an explicit request is an error.
        assert_eq!(
            resolve_variant(&fp32, Precision::Auto, Provider::Cuda).unwrap(),
            fp32
        );
        let err = resolve_variant(&fp32, Precision::Fp16, Provider::Cpu).unwrap_err();
        assert!(matches!(err, Error::MissingVariant { .. }));
        std::fs::write(&fp16, b"").unwrap();
        assert_eq!(
            resolve_variant(&fp32, Precision::Auto, Provider::Cuda).unwrap(),
            fp16
        );
        assert_eq!(
            resolve_variant(&fp16, Precision::Auto, Provider::Cpu).unwrap(),
            fp32
        );
        assert_eq!(
            resolve_variant(&fp32, Precision::Auto, Provider::Cpu).unwrap(),
            fp32
        );
        let plain = dir.path().join("plain.onnx");
        assert_eq!(
            resolve_variant(&plain, Precision::Auto, Provider::Cpu).unwrap(),
            plain
        );
    }

    #[test]
    fn auto_takes_a_passed_int8_variant_only_on_cpus_with_an_int8_dot_product() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("m")).unwrap();
        let fp32 = dir.path().join("m/m.fp32.onnx");
        let int8 = dir.path().join("m/m.int8.onnx");
        std::fs::write(&fp32, b"").unwrap();
        std::fs::write(&int8, b"").unwrap();
        let manifest = |passed: bool| {
            let gate = serde_json::json!({"passed": passed, "psnr_db": 41.0, "p999_abs_255": 6.0});
            let files = serde_json::json!({"fp32": {"path": "m/m.fp32.onnx"},
                                           "int8": {"path": "m/m.int8.onnx", "gate": gate}});
            let text = serde_json::json!([{"id": "m", "files": files}]).to_string();
            std::fs::write(dir.path().join("manifest.json"), text).unwrap();
        };
        let auto = |dot| resolve_variant_on(&fp32, Precision::Auto, Provider::Cpu, dot).unwrap();
        manifest(true);
        assert_eq!(auto(true), int8);
        assert_eq!(auto(false), fp32);
        assert_eq!(
            resolve_variant_on(&fp32, Precision::Auto, Provider::Cuda, true).unwrap(),
            fp32
        );
        assert_eq!(
            resolve_variant_on(&fp32, Precision::Int8, Provider::Cpu, false).unwrap(),
            int8
        );
        manifest(false);
        assert_eq!(auto(true), fp32);
    }
}
