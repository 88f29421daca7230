//! Running fully convolutional graphs whose file declares fixed input dims at other sizes: the
//! declared dims are made symbolic in an in-memory copy of the file (never on disk) and the session
//! is rebuilt from those bytes on the same provider.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Model, configure, register};
use crate::error::{Error, Result};
use crate::onnx::{DecodeError, Dim, decode_model, free_dims};

/// What [`Model::accept_shapes`] freed, for the error when the graph still refuses.
#[derive(Debug, Default)]
pub(super) struct Freed {
    axes: BTreeMap<String, Vec<usize>>,
    /// (input, declared shape, last requested shape).
    inputs: Vec<(String, String, String)>,
}

impl Freed {
    /// The error for a failed run: plain inference failure, or the refusal of a freed graph.
    pub(super) fn run_error(&self, path: &Path, message: &str) -> Error {
        match self.inputs.first() {
            None => Error::Inference {
                path: path.to_path_buf(),
                message: message.to_string(),
            },
            Some((input, declared, requested)) => Error::ShapeRefused {
                path: path.to_path_buf(),
                input: input.clone(),
                declared: declared.clone(),
                requested: requested.clone(),
                message: message.to_string(),
            },
        }
    }
}

fn shape_string(shape: &[usize]) -> String {
    shape
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("x")
}

impl Model {
    /// Lets inputs take these shapes although the file declares other fixed dims: the differing
    /// input dims (and all fixed output dims) become symbolic in memory and the session is rebuilt.
    /// Returns whether it rebuilt. A graph that still cannot run at that size fails at
    /// [`Model::run`] (or here) with [`Error::ShapeRefused`].
    pub fn accept_shapes(&mut self, shapes: &[(&str, &[usize])]) -> Result<bool> {
        let path = self.info.path.clone();
        let mut changed = false;
        for &(name, shape) in shapes {
            let Some(spec) = self.info.inputs.iter().find(|s| s.name == name) else {
                let names: Vec<String> = self
                    .info
                    .inputs
                    .iter()
                    .map(|s| format!("`{}`", s.name))
                    .collect();
                return Err(Error::InputMismatch {
                    path,
                    input: name.to_string(),
                    expected: format!("one of the inputs {}", names.join(", ")),
                    got: "no such input".into(),
                });
            };
            let Some(dims) = &spec.shape else { continue };
            if dims.len() != shape.len() {
                return Err(Error::InputMismatch {
                    path,
                    input: name.to_string(),
                    expected: format!("shape {} (rank {})", spec.shape_string(), dims.len()),
                    got: format!("shape {}", shape_string(shape)),
                });
            }
            let differ: Vec<usize> = dims
                .iter()
                .zip(shape)
                .enumerate()
                .filter(|(_, (d, n))| matches!(d, Dim::Fixed(f) if *f >= 0 && *f as usize != **n))
                .map(|(axis, _)| axis)
                .collect();
            if differ.is_empty() {
                continue;
            }
            let declared = spec.shape_string();
            let requested = shape_string(shape);
            match self.freed.inputs.iter_mut().find(|(i, _, _)| i == name) {
                Some(entry) => entry.2 = requested,
                None => self
                    .freed
                    .inputs
                    .push((name.to_string(), declared, requested)),
            }
            let axes = self.freed.axes.entry(name.to_string()).or_default();
            axes.extend(differ);
            axes.sort_unstable();
            axes.dedup();
            changed = true;
        }
        if !changed {
            return Ok(false);
        }
        self.rebuild_free()?;
        Ok(true)
    }

    fn rebuild_free(&mut self) -> Result<()> {
        let path = self.info.path.clone();
        let bytes = std::fs::read(&path).map_err(|error| Error::Io {
            path: path.clone(),
            error,
        })?;
        if bytes.len() as u64 != self.info.file_size {
            return Err(Error::InvalidModel {
                path: path.clone(),
                message: format!(
                    "the file changed since it was loaded ({} bytes, was {})",
                    bytes.len(),
                    self.info.file_size
                ),
            });
        }
        let not_onnx = |e: DecodeError| Error::NotOnnx {
            path: path.clone(),
            reason: format!("{e:?}"),
        };
        let refused = |message: String| self.freed.run_error(&path, &message);
        if decode_model(&bytes).map_err(not_onnx)?.has_external_data {
            return Err(refused(
                "its weights live in an external data file, which an in-memory copy cannot reach"
                    .into(),
            ));
        }
        let freed = free_dims(&bytes, &self.freed.axes).map_err(not_onnx)?;
        let proto = decode_model(&freed).map_err(not_onnx)?;
        let (provider, device_id) = (self.report.provider, self.report.device_id);
        let builder = configure(&self.options)?;
        let mut builder = register(builder, provider, device_id, &self.options).map_err(refused)?;
        let session = builder
            .commit_from_memory(&freed)
            .map_err(|e| refused(e.message().to_string()))?;
        tracing::info!(
            model = %path.display(),
            inputs = ?self.freed.inputs,
            "declared fixed dims made free in memory; session rebuilt"
        );
        self.session = session;
        self.info.inputs = proto.inputs;
        self.info.outputs = proto.outputs;
        Ok(())
    }
}
