//! Frame interpolation with RIFE and FILM: pairs, sequences and videos, any timestep, scene cuts, optical flow.
//!
//! ```no_run
//! use prism_interpolate::{Interpolator, InterpolatorOptions};
//! let a = image::open("a.png").unwrap();
//! let b = image::open("b.png").unwrap();
//! let mut rife = Interpolator::new("rife-v4.0.fp32.onnx".as_ref(), InterpolatorOptions::default())?;
//! let middle = rife.interpolate(&a, &b, 0.5)?;
//! # Ok::<(), prism_interpolate::Error>(())
//! ```

pub mod error;
pub mod flow;
pub mod interpolator;
pub mod media;
pub mod metrics;
pub mod segment;
pub mod sequence;
pub mod timing;

pub use error::{Error, Result};
pub use flow::{Flow, flow_to_color, read_flo, write_flo};
pub use interpolator::{
    Interpolated, Interpolator, InterpolatorOptions, Prepared, TimestepMode, TimestepSupport,
};
pub use media::{MediaJob, MediaReport, Source, interpolate_media};
pub use sequence::{
    FrameKind, InterpolatedStream, OutputFrame, PairFlow, SequenceOptions, SequenceStats,
};
pub use timing::{FrameRate, Timing};

/// Flow scales RIFE supports (Practical-RIFE's `--scale`): the IFNet pyramid runs at
/// `[8, 4, 2, 1] / scale` (v4) or `[4, 2, 1] / scale` (HD v3), so 0.5 halves the flow resolution
/// (for UHD input) and 2 doubles it. Warping and the final merge stay at full resolution.
pub const FLOW_SCALES: [f64; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];

/// The model id of `model`'s variant exported at flow scale `scale`: `model` itself at 1, else
/// `<model>-scale<S>` (e.g. `rife-v4.0-scale0.5`), which `prism_export` exports with the scale
/// baked into the graph, exactly as PyTorch's `IFNet(scale=S)`.
pub fn scale_variant(model: &str, scale: f64) -> Result<String> {
    if !FLOW_SCALES.contains(&scale) {
        return Err(Error::Scale {
            scale,
            reason: "use 0.25, 0.5, 1, 2 or 4".into(),
        });
    }
    if scale == 1.0 {
        return Ok(model.to_string());
    }
    let is_id = !model.ends_with(".onnx") && !model.contains(std::path::MAIN_SEPARATOR);
    if !is_id {
        return Err(Error::Scale {
            scale,
            reason: format!(
                "{model} is a file; give a model id (the scale variant is a separate export)"
            ),
        });
    }
    Ok(format!("{model}-scale{scale}"))
}
