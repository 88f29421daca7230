//! The RIFE model contract: inputs `img0, img1[, timestep]`, outputs `frame, flow`, timestep
//! support, pad multiple and value range, read from the model and its `prism.*` metadata.

use std::path::Path;

use prism_core::{Model, ValueRange};

use crate::error::{Error, Result};

/// Which timesteps a model can produce in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestepSupport {
    /// Any `t` in (0, 1): the graph has a `timestep` input.
    Any,
    /// Only the middle frame; others by bisection.
    HalfOnly,
}

/// What a model's graph and metadata promise.
pub(super) struct Contract {
    pub(super) has_timestep_input: bool,
    pub(super) support: TimestepSupport,
    pub(super) pad_multiple: usize,
}

/// Checks a loaded model against the contract.
pub(super) fn read(model: &Model, path: &Path) -> Result<Contract> {
    let info = model.info();
    let bad = |reason: String| Error::NotInterpolationModel {
        path: path.to_path_buf(),
        reason,
    };
    let task = info.metadata.get("prism.task").map(String::as_str);
    if task.is_some_and(|t| t != "interpolate") {
        return Err(bad(format!("its prism.task is `{}`", task.unwrap_or(""))));
    }
    let names: Vec<&str> = info.inputs.iter().map(|i| i.name.as_str()).collect();
    let has_timestep_input = match names.as_slice() {
        ["img0", "img1", "timestep"] => true,
        ["img0", "img1"] => false,
        other => {
            return Err(bad(format!(
                "inputs are {other:?}, expected img0, img1 and optionally timestep"
            )));
        }
    };
    if info.outputs.len() != 2 {
        return Err(bad(format!(
            "{} outputs, expected frame and flow",
            info.outputs.len()
        )));
    }
    let support = match info.metadata.get("prism.timestep").map(String::as_str) {
        Some("any") => TimestepSupport::Any,
        Some("0.5") => TimestepSupport::HalfOnly,
        Some(other) => return Err(bad(format!("unknown prism.timestep `{other}`"))),
        None if has_timestep_input => TimestepSupport::Any,
        None => TimestepSupport::HalfOnly,
    };
    let pad_multiple = info
        .metadata_int_in("prism.pad_multiple", 1..=1024)?
        .unwrap_or(32) as usize;
    if let Some(range) = info.metadata.get("prism.value_range")
        && ValueRange::from_metadata(range) != Some(ValueRange::Unit)
    {
        return Err(bad(format!("value range {range}, expected 0..1")));
    }
    Ok(Contract {
        has_timestep_input,
        support,
        pad_multiple,
    })
}
