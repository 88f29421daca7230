//! Running fully convolutional graphs whose file declares fixed input dims at other sizes: the
//! declared dims are made symbolic in an in-memory copy of the file (never on disk) and the session
//! is rebuilt from those bytes on the same provider.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Model, configure, register};
use crate::error::{Error, Result};
use crate::info::{MAX_MODEL_BYTES, decode_error, read_model_bytes, sha256_hex};
use crate::onnx::{Dim, decode_model, free_dims};

/// What [`Model::accept_shapes`] freed: per input, the free axes and the shape the file declares.
#[derive(Debug, Default, Clone)]
pub(super) struct Freed {
    axes: BTreeMap<String, Vec<usize>>,
    declared: BTreeMap<String, String>,
}

impl Freed {
    /// Whether no input axis was freed.
    pub(super) fn is_empty(&self) -> bool {
        self.axes.is_empty()
    }

    /// The error for a failed run with these input shapes: the refusal of a freed graph when a
    /// freed input ran at another shape than the file declares, else a plain inference failure.
    pub(super) fn run_error(
        &self,
        path: &Path,
        message: &str,
        shapes: &[(&str, &[usize])],
    ) -> Error {
        let refused = shapes.iter().find_map(|(name, shape)| {
            let declared = self.declared.get(*name)?;
            let requested = shape_string(shape);
            (*declared != requested).then(|| (name.to_string(), declared.clone(), requested))
        });
        match refused {
            None => Error::Inference {
                path: path.to_path_buf(),
                message: message.to_string(),
            },
            Some((input, declared, requested)) => Error::ShapeRefused {
                path: path.to_path_buf(),
                input,
                declared,
                requested,
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
        let mut freed = self.freed.clone();
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
            freed
                .declared
                .entry(name.to_string())
                .or_insert_with(|| spec.shape_string());
            let axes = freed.axes.entry(name.to_string()).or_default();
            axes.extend(differ);
            axes.sort_unstable();
            axes.dedup();
            changed = true;
        }
        if !changed {
            return Ok(false);
        }
        // The recorded state changes only once the rebuilt session exists.
        self.rebuild_free(&freed, shapes)?;
        self.freed = freed;
        Ok(true)
    }

    pub(super) fn rebuild_free(
        &mut self,
        freed: &Freed,
        shapes: &[(&str, &[usize])],
    ) -> Result<()> {
        let path = self.info.path.clone();
        let bytes = read_model_bytes(&path, MAX_MODEL_BYTES)?;
        // The bytes rewritten must be the very file that was loaded (and verified by the caller).
        if sha256_hex(&bytes) != self.info.sha256 {
            return Err(Error::InvalidModel {
                path: path.clone(),
                message: "the file changed since it was loaded".into(),
            });
        }
        let refused = |message: String| freed.run_error(&path, &message, shapes);
        if decode_model(&bytes)
            .map_err(|e| decode_error(&path, e))?
            .has_external_data
        {
            return Err(refused(
                "its weights live in an external data file, which an in-memory copy cannot reach"
                    .into(),
            ));
        }
        let rewritten = free_dims(&bytes, &freed.axes).map_err(|e| decode_error(&path, e))?;
        let proto = decode_model(&rewritten).map_err(|e| decode_error(&path, e))?;
        let (provider, device_id) = (self.report.provider, self.report.device_id);
        let builder = configure(&self.options)?;
        let mut builder = register(
            builder,
            provider,
            device_id,
            &self.options,
            &self.info.sha256,
        )
        .map_err(|reason| Error::ProviderUnavailable { provider, reason })?;
        let session = builder
            .commit_from_memory(&rewritten)
            .map_err(|e| refused(e.message().to_string()))?;
        tracing::info!(
            model = %path.display(),
            inputs = ?freed.declared,
            "declared fixed dims made free in memory; session rebuilt"
        );
        self.session = session;
        self.info.inputs = proto.inputs;
        self.info.outputs = proto.outputs;
        Ok(())
    }
}
