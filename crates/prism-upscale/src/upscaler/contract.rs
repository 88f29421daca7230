//! The model contract ([`SrModelInfo`]): `prism.*` metadata, or a probe run for a foreign model.

use std::path::{Path, PathBuf};

use ndarray::Array4;
use prism_core::{Model, Tensor, ValueRange};

use crate::error::{Error, Result};

/// What the upscaler knows about its model.
#[derive(Debug, Clone)]
pub struct SrModelInfo {
    pub path: PathBuf,
    pub id: Option<String>,
    pub scale: usize,
    /// Input height and width must be multiples of this.
    pub pad_multiple: usize,
    pub value_range: ValueRange,
    /// Fixed input height/width, for graphs exported with a static shape.
    pub fixed_size: Option<(usize, usize)>,
    /// `true` when the scale and multiple came from a probe run, not metadata.
    pub probed: bool,
    pub architecture: Option<String>,
    /// Tile context that keeps tiled output within 1/255 of untiled output for this architecture.
    pub default_overlap: usize,
}

/// Scale, multiple and value range from metadata, or from a probe run.
pub(super) fn inspect(model: &mut Model, path: &Path) -> Result<SrModelInfo> {
    let info = model.info().clone();
    let not_sr = |reason: String| Error::NotSuperResolution {
        path: path.to_path_buf(),
        reason,
    };
    if info.inputs.len() != 1 {
        return Err(not_sr(format!(
            "it has {} inputs; an upscaler takes one image",
            info.inputs.len()
        )));
    }
    if let Some(task) = info.metadata.get("prism.task")
        && task != "upscale"
    {
        return Err(not_sr(format!("its prism.task is `{task}`")));
    }
    let fixed_size = info.inputs[0]
        .shape
        .as_ref()
        .and_then(|dims| match dims.as_slice() {
            [
                _,
                _,
                prism_core::onnx::Dim::Fixed(h),
                prism_core::onnx::Dim::Fixed(w),
            ] if *h > 0 && *w > 0 => Some((*h as usize, *w as usize)),
            _ => None,
        });
    let value_range = info
        .metadata
        .get("prism.value_range")
        .and_then(|v| ValueRange::from_metadata(v))
        .unwrap_or(ValueRange::Unit);
    let id = info.metadata.get("prism.model_id").cloned();
    let architecture = info.metadata.get("prism.architecture").cloned();
    // Receptive fields: SRVGGNetCompact has ~18 convolutions at input resolution; RRDBNet's 23
    // dense blocks reach much further (measured: 48 px of context still leaves 2/255 at seams).
    let default_overlap = match architecture.as_deref() {
        Some("SRVGGNetCompact") => 16,
        Some("RRDBNet") => 64,
        _ => 32,
    };
    // Bounded: a foreign file's metadata must not ask for absurd scales or paddings.
    let meta_scale = info.metadata_int_in("prism.scale", 1..=16)?;
    let meta_pad = info.metadata_int_in("prism.pad_multiple", 1..=1024)?;
    if let Some(scale) = meta_scale {
        return Ok(SrModelInfo {
            path: path.to_path_buf(),
            id,
            scale: scale as usize,
            pad_multiple: meta_pad.unwrap_or(1) as usize,
            value_range,
            fixed_size,
            probed: false,
            architecture,
            default_overlap,
        });
    }
    // Foreign file: find the multiple and the scale by running small inputs.
    let candidates: Vec<usize> = match fixed_size {
        Some((h, _)) => vec![h],
        None => vec![33, 34, 36, 40, 48, 64],
    };
    let mut last_error = String::new();
    for size in candidates {
        let (h, w) = fixed_size.unwrap_or((size, size));
        let probe = Array4::<f32>::from_elem((1, 3, h, w), 0.5);
        match model.run(vec![Tensor::F32(probe.into_dyn())]) {
            Ok(out) => {
                let shape = out.first().map(|t| t.shape().to_vec()).unwrap_or_default();
                let [_, 3, oh, ow] = shape.as_slice() else {
                    return Err(not_sr(format!(
                        "probe output shape {shape:?} is not [N, 3, H, W]"
                    )));
                };
                if oh % h != 0 || ow % w != 0 || oh / h != ow / w || *oh < h {
                    return Err(not_sr(format!(
                        "probe output {oh}x{ow} for input {h}x{w} is not an integer upscale"
                    )));
                }
                let pad_multiple = if fixed_size.is_some() { 1 } else { size - 32 };
                let pad_multiple = if size == 33 { 1 } else { pad_multiple.max(1) };
                tracing::info!(
                    scale = oh / h,
                    pad_multiple,
                    "probed a model without prism metadata"
                );
                return Ok(SrModelInfo {
                    path: path.to_path_buf(),
                    id,
                    scale: oh / h,
                    pad_multiple,
                    value_range,
                    fixed_size,
                    probed: true,
                    architecture,
                    default_overlap,
                });
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(not_sr(format!("probe runs failed: {last_error}")))
}
