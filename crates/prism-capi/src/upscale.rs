//! `PrismUpscaler`: super-resolution (`prism upscale` on one image).

use std::ffi::{c_char, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use prism_upscale::{AlphaMode, Control, OutputScale, TileSize, UpscaleOptions, Upscaler};

use crate::error::{Failure, PrismStatus, Result, guard};
use crate::handle::{Handle, create, destroy};
use crate::image::{Output, PrismImage, read};
use crate::options::{
    PrismProgressFn, PrismSessionOptions, Progress, model_arg, prism_session_options_default, put,
};

/// A loaded super-resolution model. Calls on one upscaler are serialised by a lock; use one per
/// thread for parallel work.
pub struct PrismUpscaler(Mutex<Upscaler>);

impl Handle for PrismUpscaler {
    type Inner = Upscaler;
    fn lock(&self) -> &Mutex<Upscaler> {
        &self.0
    }
}

/// How images are upscaled (`prism upscale`'s flags). Start from `prism_upscale_options_default()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PrismUpscaleOptions {
    pub session: PrismSessionOptions,
    /// Tile core side in input pixels; 0: from the memory budget (`--tile auto`); -1: the whole
    /// image in one run.
    pub tile: i32,
    /// Context per tile side in input pixels; -1: per architecture (seam-free).
    pub overlap: i32,
    /// Memory budget of one run with automatic tiles, in MiB; 0: 1024 on CPU, 2048 on GPU.
    pub memory_budget_mib: u32,
    /// Tiles batched per run; 0: 1 on CPU, 4 on GPU.
    pub tiles_per_run: u32,
    /// Output scale factor (2 from an x4 model, 8 as two passes); 0: the model's. Or set
    /// `width` and/or `height` instead (0: unset; one alone keeps the aspect ratio).
    pub outscale: f64,
    pub width: u32,
    pub height: u32,
    /// Most model passes for scales above the model's.
    pub max_passes: u32,
    /// Alpha by Lanczos3 resampling instead of through the model.
    pub alpha_resample: bool,
    /// Premultiply colour by alpha before the model.
    pub premultiply: bool,
    /// Test-time augmentation (8 flips/transposes averaged; 8x slower).
    pub tta: bool,
}

/// `prism upscale`'s defaults: automatic tiles, the model's scale, alpha through the model.
#[unsafe(no_mangle)]
pub extern "C" fn prism_upscale_options_default() -> PrismUpscaleOptions {
    PrismUpscaleOptions {
        session: prism_session_options_default(),
        tile: 0,
        overlap: -1,
        memory_budget_mib: 0,
        tiles_per_run: 0,
        outscale: 0.0,
        width: 0,
        height: 0,
        max_passes: 2,
        alpha_resample: false,
        premultiply: false,
        tta: false,
    }
}

impl PrismUpscaleOptions {
    unsafe fn library_options(&self) -> Result<UpscaleOptions> {
        let tile = match self.tile {
            0 => TileSize::Auto,
            -1 => TileSize::Whole,
            n @ 1..=16384 => TileSize::Size(n as u32),
            n => {
                return Err(Failure::invalid(format!(
                    "tile {n}: use 0 (auto), -1 (whole) or 1 to 16384 pixels"
                )));
            }
        };
        let overlap = match self.overlap {
            -1 => None,
            n if n >= 0 => Some(n as u32),
            n => return Err(Failure::invalid(format!("overlap {n}: use -1 or >= 0"))),
        };
        let scale = match (self.outscale, self.width, self.height) {
            (0.0, 0, 0) => OutputScale::Native,
            (f, 0, 0) if f > 0.0 && f.is_finite() => OutputScale::Factor(f),
            (0.0, w, 0) => OutputScale::Width(w),
            (0.0, 0, h) => OutputScale::Height(h),
            (0.0, w, h) => OutputScale::Size(w, h),
            (f, 0, 0) => return Err(Failure::invalid(format!("outscale {f} is not positive"))),
            _ => return Err(Failure::invalid("give outscale or width/height, not both")),
        };
        Ok(UpscaleOptions {
            session: unsafe { self.session.library_session()? },
            tile,
            overlap,
            memory_budget_mib: (self.memory_budget_mib > 0)
                .then_some(self.memory_budget_mib as usize),
            tiles_per_run: (self.tiles_per_run > 0).then_some(self.tiles_per_run as usize),
            alpha: if self.alpha_resample {
                AlphaMode::Resample
            } else {
                AlphaMode::Model
            },
            premultiply: self.premultiply,
            scale,
            max_passes: self.max_passes,
            tta: self.tta,
        })
    }
}

/// Loads an upscaler: `model` is a model id (default "realesrgan-x4plus" when NULL) or an .onnx
/// path; `options` NULL means the defaults. On success `*out` is the handle, to be released with
/// `prism_upscaler_free`.
///
/// # Safety
/// `model` is NULL or a NUL-terminated string; `options` NULL or valid; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_upscaler_new(
    model: *const c_char,
    options: *const PrismUpscaleOptions,
    out: *mut *mut PrismUpscaler,
) -> PrismStatus {
    guard(|| {
        unsafe { put(out, std::ptr::null_mut(), "out")? };
        let options = unsafe { options.as_ref() }
            .copied()
            .unwrap_or_else(|| prism_upscale_options_default());
        let options = unsafe { options.library_options()? };
        let path = unsafe { model_arg(model, "realesrgan-x4plus")? };
        let upscaler = Upscaler::new(&path, options)?;
        unsafe { put(out, create(PrismUpscaler(Mutex::new(upscaler))), "out") }
    })
}

/// Releases an upscaler (NULL: nothing to do).
///
/// # Safety
/// `upscaler` is NULL or a handle from `prism_upscaler_new`, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_upscaler_free(upscaler: *mut PrismUpscaler) {
    unsafe { destroy(upscaler) }
}

/// The model's own scale factor (4 for x4 models).
///
/// # Safety
/// `upscaler` is a valid handle; `scale` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_upscaler_scale(
    upscaler: *mut PrismUpscaler,
    scale: *mut u32,
) -> PrismStatus {
    guard(|| {
        let value = unsafe { Handle::with(upscaler, |u| Ok(u.info().scale as u32))? };
        unsafe { put(scale, value, "scale") }
    })
}

/// The size of the result for a `width` x `height` input (the model's scale or the options').
///
/// # Safety
/// `upscaler` is a valid handle; `out_width` and `out_height` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_upscaler_output_size(
    upscaler: *mut PrismUpscaler,
    width: u32,
    height: u32,
    out_width: *mut u32,
    out_height: *mut u32,
) -> PrismStatus {
    guard(|| {
        let (w, h) = unsafe { Handle::with(upscaler, |u| Ok(u.plan(width, height)?.1))? };
        unsafe { put(out_width, w, "out_width")? };
        unsafe { put(out_height, h, "out_height") }
    })
}

/// Upscales `input` into `output` (same channels and depth; see `PrismImage` for who owns the
/// buffer). `progress` (may be NULL) sees output pixels done after each run of tiles.
///
/// # Safety
/// `upscaler` is a valid handle; `input` a valid image; `output` a valid output image.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_upscale(
    upscaler: *mut PrismUpscaler,
    input: *const PrismImage,
    output: *mut PrismImage,
    progress: PrismProgressFn,
    user_data: *mut c_void,
) -> PrismStatus {
    guard(|| {
        let image = unsafe { read(input, "input")? };
        let reporter = Progress {
            callback: progress,
            user_data,
        };
        unsafe {
            Handle::with(upscaler, |u| {
                let (_, (w, h)) = u.plan(image.width(), image.height())?;
                let out = Output::new(output, w, h, &image)?;
                let stop = AtomicBool::new(!reporter.report(0, 1));
                let mut on_tiles = |p: prism_upscale::TileProgress| {
                    if !reporter.report(p.pixels_done, p.pixels_total) {
                        stop.store(true, Ordering::SeqCst);
                    }
                };
                let mut control = Control {
                    progress: Some(&mut on_tiles),
                    cancel: Some(&stop),
                };
                let result = u.upscale_with(&image, &mut control)?;
                if stop.load(Ordering::SeqCst) {
                    return Err(prism_upscale::Error::Cancelled.into());
                }
                out.write(&result)
            })
        }
    })
}
