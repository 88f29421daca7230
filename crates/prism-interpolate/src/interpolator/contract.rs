//! The interpolation model contract: inputs `img0, img1[, timestep | dt]`, outputs `frame, flow`,
//! timestep support and mode, pad multiple, value range and memory need, read from the model and
//! its `prism.*` metadata.

use std::path::Path;

use prism_core::{Model, ValueRange};

use super::memory::MemoryModel;
use super::options::TimestepMode;
use crate::error::{Error, Result};

/// Which timesteps a model can produce in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestepSupport {
    /// Any `t` in (0, 1): the graph has a `timestep` input.
    Any,
    /// Only the middle frame; others by bisection.
    HalfOnly,
}

/// How a model's graph takes the time of the frame it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeInput {
    /// No time input (t = 0.5 only).
    None,
    /// RIFE's `timestep`, `[N, 1, 1, 1]`.
    Plane,
    /// FILM's `dt`, `[N, 1]`.
    Dt,
}

/// What a model's graph and metadata promise.
pub(super) struct Contract {
    pub(super) time_input: TimeInput,
    pub(super) support: TimestepSupport,
    /// `prism.timestep_mode`: the model's own way to other timesteps (FILM: bisection).
    pub(super) default_mode: Option<TimestepMode>,
    pub(super) pad_multiple: usize,
    pub(super) memory: Option<MemoryModel>,
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
    let time_input = match names.as_slice() {
        ["img0", "img1", "timestep"] => TimeInput::Plane,
        ["img0", "img1", "dt"] => TimeInput::Dt,
        ["img0", "img1"] => TimeInput::None,
        other => {
            return Err(bad(format!(
                "inputs are {other:?}, expected img0, img1 and optionally timestep or dt"
            )));
        }
    };
    let has_timestep_input = time_input != TimeInput::None;
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
    let default_mode = match info.metadata.get("prism.timestep_mode").map(String::as_str) {
        None => None,
        Some("bisect") => Some(TimestepMode::Bisect),
        Some("direct") => Some(TimestepMode::Direct),
        Some(other) => return Err(bad(format!("unknown prism.timestep_mode `{other}`"))),
    };
    let base = info.metadata_int_in("prism.memory_base_mib", 0..=1 << 20)?;
    let per_pixel = info.metadata_int_in("prism.memory_bytes_per_pixel", 1..=1 << 30)?;
    let memory = per_pixel.map(|bytes| MemoryModel {
        base_mib: base.unwrap_or(0) as u64,
        bytes_per_pixel: bytes as u64,
    });
    Ok(Contract {
        time_input,
        support,
        default_mode,
        pad_multiple,
        memory,
    })
}
