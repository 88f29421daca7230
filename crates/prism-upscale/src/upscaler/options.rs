//! [`UpscaleOptions`] and its parts: tile size, alpha mode, output scale, defaults.

use prism_core::SessionOptions;

/// How large the tiles are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TileSize {
    /// From the memory budget and the provider.
    #[default]
    Auto,
    /// Square tile cores of this many input pixels; each run adds the model's context on every
    /// side (never cut to fit), rounded up to the model's multiple.
    Size(u32),
    /// The whole image in one run (memory grows with the image).
    Whole,
}

/// How transparency is upscaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlphaMode {
    /// The alpha plane goes through the model as a gray image (sharp edges).
    #[default]
    Model,
    /// Lanczos3 resampling of the alpha plane (faster, softer).
    Resample,
}

/// The size of the result.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum OutputScale {
    /// The model's own factor.
    #[default]
    Native,
    /// Any factor: below the model's, the model output is Lanczos-downsampled; above it, the model
    /// runs again on its own output (up to `max_passes`) and the result is resampled to the size.
    Factor(f64),
    /// This width; height keeps the aspect ratio.
    Width(u32),
    /// This height; width keeps the aspect ratio.
    Height(u32),
    /// Exactly this size.
    Size(u32, u32),
}

/// Everything that decides how an image is upscaled.
#[derive(Debug, Clone)]
pub struct UpscaleOptions {
    pub session: SessionOptions,
    pub tile: TileSize,
    /// Context each tile gets beyond its core, in input pixels (neighbours overlap by twice this;
    /// the blend cross-fades over half of it). `None`: by architecture, enough for tiled output to
    /// match untiled output within 1/255 (16 for SRVGGNetCompact, 64 for RRDBNet, 32 otherwise).
    pub overlap: Option<u32>,
    /// Memory for one run's activations when `tile` is `Auto`, in MiB (default: 1024 on CPU,
    /// 2048 on GPU).
    pub memory_budget_mib: Option<usize>,
    /// Tiles batched into one run; `None`: 1 on CPU, 4 on GPU.
    pub tiles_per_run: Option<usize>,
    pub alpha: AlphaMode,
    /// Premultiply colour by alpha before the model (transparent pixels' hidden colour cannot
    /// bleed into visible edges) and divide after.
    pub premultiply: bool,
    pub scale: OutputScale,
    /// Most model passes for output scales above the model's factor.
    pub max_passes: u32,
    /// Test-time augmentation: average of the 8 flips/transposes (8x slower, a little cleaner).
    pub tta: bool,
}

impl Default for UpscaleOptions {
    fn default() -> Self {
        Self {
            session: SessionOptions::default(),
            tile: TileSize::Auto,
            overlap: None,
            memory_budget_mib: None,
            tiles_per_run: None,
            alpha: AlphaMode::Model,
            premultiply: false,
            scale: OutputScale::Native,
            max_passes: 2,
            tta: false,
        }
    }
}
