//! Super-resolution: tiled, seamless, alpha- and 16-bit-aware upscaling with ESRGAN / Real-ESRGAN
//! models exported by `prism_export` (or any ONNX `[N,3,H,W] -> [N,3,sH,sW]` network).
//!
//! ```no_run
//! use prism_upscale::{Upscaler, UpscaleOptions};
//! let mut upscaler = Upscaler::from_model("realesrgan-x4plus", UpscaleOptions::default())?;
//! let image = image::open("photo.png").unwrap();
//! let big = upscaler.upscale(&image)?;
//! # Ok::<(), prism_upscale::Error>(())
//! ```
//!
//! **Memory.** Working memory is bounded by the tile, not the image: besides the input and the
//! output images themselves, an upscale holds one strip of output rows in FP32
//! (`planes x tile_out_height x output_width x 4` bytes, planes = 3, or 4 with a model-upscaled
//! alpha), the tensors of one run (`tiles_per_run x 3 x tile^2 x (1 + scale^2) x 4` bytes, x8 with
//! TTA) and ONNX Runtime's arena for one tile shape. Non-native output scales add the resampled copy.

pub mod error;
mod files;
pub mod tiling;
mod upscaler;

pub use error::{Error, Result};
pub use upscaler::{
    AlphaMode, Control, OutputScale, SrModelInfo, TileProgress, TileSize, UpscaleOptions, Upscaler,
};
