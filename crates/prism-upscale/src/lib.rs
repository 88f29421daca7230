//! Super-resolution: tiled, seamless, alpha- and 16-bit-aware upscaling with ESRGAN / Real-ESRGAN models.
