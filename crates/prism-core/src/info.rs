//! `ModelInfo`: what a model file contains and, once loaded, where it runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::device::Provider;
use crate::error::{Error, Result};
use crate::onnx::{DecodeError, ElementType, TensorSpec, decode_model};

/// A model's contract and vital statistics.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub file_size: u64,
    /// sha256 of the file as read here (hex), so a later re-read can prove it is the same file.
    pub sha256: String,
    pub ir_version: i64,
    pub producer: String,
    /// Operator set versions by domain (`ai.onnx` for the default domain).
    pub opsets: BTreeMap<String, i64>,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub parameter_count: u64,
    pub parameter_bytes: u64,
    /// The element type of most weights (`float16` in an FP16 variant, whatever its I/O types).
    pub weight_type: Option<ElementType>,
    pub node_count: usize,
    /// The export writes `prism.task`, `prism.architecture`, `prism.scale` and more here.
    pub metadata: BTreeMap<String, String>,
    /// The provider of the session this info came from; `None` for a file only inspected.
    pub provider: Option<Provider>,
}

/// The error for model bytes that do not decode: truncated, or not ONNX at all.
pub(crate) fn decode_error(path: &Path, e: DecodeError) -> Error {
    match e {
        DecodeError::Truncated { needed, available } => Error::TruncatedModel {
            path: path.to_path_buf(),
            needed,
            available,
        },
        DecodeError::Malformed(reason) => Error::NotOnnx {
            path: path.to_path_buf(),
            reason,
        },
    }
}

/// The largest model file read whole: protobuf's 2 GiB message limit (bigger ONNX models keep
/// their weights in external data files, which are not read here).
pub const MAX_MODEL_BYTES: u64 = 2 << 30;

/// The bytes of the model file `path`, refusing anything that is not a regular file or is larger
/// than `limit` before reading it.
pub fn read_model_bytes(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |error| Error::Io {
        path: path.to_path_buf(),
        error,
    };
    let not_onnx = |reason: String| Error::NotOnnx {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_onnx("not a regular file".into()));
    }
    let too_big = |size: u64| {
        not_onnx(format!(
            "{size} bytes is more than the {limit} bytes a model file may have (protobuf's limit; \
             bigger models keep their weights in external data files)"
        ))
    };
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // `take`: a file that grows while being read still stops at the limit.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The bytes of a model file as [`ModelInfo`] read them.
pub(crate) struct ModelBytes {
    pub bytes: Vec<u8>,
    /// Some initializer lives in an external data file, found relative to the model's path.
    pub external: bool,
}

/// Lower-case hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ModelInfo {
    /// Reads and decodes `path` without running anything.
    pub fn inspect(path: &Path) -> Result<ModelInfo> {
        Self::read(path).map(|(info, _)| info)
    }

    /// [`ModelInfo::inspect`] that also returns the bytes it read, so a session can be built from
    /// them (one read of the file, and the bytes loaded are the bytes verified) and whether the
    /// model keeps weights in external data files (then it must be loaded from its path).
    pub(crate) fn read(path: &Path) -> Result<(ModelInfo, ModelBytes)> {
        let bytes = read_model_bytes(path, MAX_MODEL_BYTES)?;
        let proto = decode_model(&bytes).map_err(|e| decode_error(path, e))?;
        let external = proto.has_external_data;
        let producer = match (
            proto.producer_name.as_str(),
            proto.producer_version.as_str(),
        ) {
            ("", _) => String::new(),
            (name, "") => name.to_string(),
            (name, version) => format!("{name} {version}"),
        };
        let opsets = proto
            .opsets
            .into_iter()
            .map(|(domain, v)| {
                (
                    if domain.is_empty() {
                        "ai.onnx".to_string()
                    } else {
                        domain
                    },
                    v,
                )
            })
            .collect();
        let info = ModelInfo {
            path: path.to_path_buf(),
            file_size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            ir_version: proto.ir_version,
            producer,
            opsets,
            inputs: proto.inputs,
            outputs: proto.outputs,
            parameter_count: proto.parameter_count,
            parameter_bytes: proto.parameter_bytes,
            weight_type: proto.weight_type,
            node_count: proto.node_count,
            metadata: proto.metadata,
            provider: None,
        };
        Ok((info, ModelBytes { bytes, external }))
    }

    /// INT8 for a quantised file (`prism.precision` or INT8 weights), FP16 when most weights are
    /// FP16, else FP32.
    pub fn precision(&self) -> crate::Precision {
        if self.metadata.get("prism.precision").map(String::as_str) == Some("int8")
            || self.weight_type == Some(ElementType::Int8)
        {
            crate::Precision::Int8
        } else if self.weight_type == Some(ElementType::Float16) {
            crate::Precision::Fp16
        } else {
            crate::Precision::Fp32
        }
    }

    /// A metadata value parsed as an integer, e.g. `prism.scale`.
    pub fn metadata_int(&self, key: &str) -> Option<i64> {
        self.metadata.get(key)?.trim().parse().ok()
    }

    /// The integer metadata value `key`, `None` when absent; a value that is not an integer in
    /// `accepted` is an error naming the file, the key, the value and the range.
    pub fn metadata_int_in(
        &self,
        key: &str,
        accepted: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>> {
        let Some(text) = self.metadata.get(key) else {
            return Ok(None);
        };
        match text.trim().parse::<i64>() {
            Ok(v) if accepted.contains(&v) => Ok(Some(v)),
            _ => Err(Error::BadMetadata {
                path: self.path.clone(),
                key: key.to_string(),
                value: text.chars().take(64).collect(),
                accepted: format!("an integer from {} to {}", accepted.start(), accepted.end()),
            }),
        }
    }
}
