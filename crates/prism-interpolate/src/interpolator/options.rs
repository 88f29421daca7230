//! [`InterpolatorOptions`]: how an [`Interpolator`](super::Interpolator) runs its model.

use prism_core::SessionOptions;

/// How an [`Interpolator`](super::Interpolator) runs its model.
#[derive(Debug, Clone)]
pub struct InterpolatorOptions {
    pub session: SessionOptions,
    /// Also run the swapped pair at `1 - t` and average (flows swapped back).
    pub ensemble: bool,
    /// Test-time augmentation: also run the horizontally mirrored pair and average.
    pub tta: bool,
    /// For t = 0.5-only models: accept the nearest reachable timestep (with a warning) instead of
    /// failing on one bisection cannot reach.
    pub nearest_timestep: bool,
    /// Deepest bisection for t = 0.5-only models: timesteps are multiples of `1 / 2^max_depth`.
    pub max_depth: u32,
    /// Rerun in FP32 (with a warning) when an FP16 session produces NaN or Inf.
    pub fp32_fallback: bool,
}

impl Default for InterpolatorOptions {
    fn default() -> Self {
        Self {
            session: SessionOptions::default(),
            ensemble: false,
            tta: false,
            nearest_timestep: false,
            max_depth: 6,
            fp32_fallback: true,
        }
    }
}
