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
    /// How timesteps other than 0.5 are made; `None`: the model's own (`prism.timestep_mode`:
    /// bisection for FILM and t = 0.5-only models, direct for RIFE v4).
    pub timestep_mode: Option<TimestepMode>,
    /// Memory one run may need, in MiB, for models that state their need (FILM); `None`: the
    /// memory available now on CPU, no check on GPU.
    pub memory_budget_mib: Option<u64>,
}

/// How an interpolator makes a frame at `t` other than 0.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestepMode {
    /// One run at `t` from the pair (needs a model with a time input).
    Direct,
    /// Recursive bisection from t = 0.5 runs (FILM's official `--times_to_interpolate`); a
    /// timestep that is not `k / 2^d` takes its last step at the relative time nearest 0.5.
    Bisect,
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
            timestep_mode: None,
            memory_budget_mib: None,
        }
    }
}
