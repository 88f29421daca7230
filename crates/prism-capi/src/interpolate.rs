//! `PrismInterpolator`: RIFE frame interpolation between two images (`prism interpolate a b`).

use std::ffi::{c_char, c_void};
use std::sync::Mutex;

use prism_interpolate::{Interpolator, InterpolatorOptions};

use crate::error::{Failure, PrismStatus, guard};
use crate::handle::{Handle, create, destroy};
use crate::image::{Output, PrismImage, read};
use crate::options::{
    PrismProgressFn, PrismSessionOptions, Progress, model_arg, prism_session_options_default, put,
};

/// A loaded interpolation model. Calls on one interpolator are serialised by a lock.
pub struct PrismInterpolator(Mutex<Interpolator>);

impl Handle for PrismInterpolator {
    type Inner = Interpolator;
    fn lock(&self) -> &Mutex<Interpolator> {
        &self.0
    }
}

/// How frames are interpolated (`prism interpolate`'s flags). Start from
/// `prism_interpolate_options_default()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PrismInterpolateOptions {
    pub session: PrismSessionOptions,
    /// Also run the swapped pair at 1 - t and average.
    pub ensemble: bool,
    /// Also run the mirrored pair and average.
    pub tta: bool,
    /// For t = 0.5-only models: use the nearest reachable timestep instead of failing.
    pub nearest_timestep: bool,
}

/// `prism interpolate`'s defaults.
#[unsafe(no_mangle)]
pub extern "C" fn prism_interpolate_options_default() -> PrismInterpolateOptions {
    PrismInterpolateOptions {
        session: prism_session_options_default(),
        ensemble: false,
        tta: false,
        nearest_timestep: false,
    }
}

/// Loads an interpolator: `model` is a model id (default "rife-v4.6" when NULL) or an .onnx
/// path; `options` NULL means the defaults. Release `*out` with `prism_interpolator_free`.
///
/// # Safety
/// `model` is NULL or a NUL-terminated string; `options` NULL or valid; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_interpolator_new(
    model: *const c_char,
    options: *const PrismInterpolateOptions,
    out: *mut *mut PrismInterpolator,
) -> PrismStatus {
    guard(|| {
        unsafe { put(out, std::ptr::null_mut(), "out")? };
        let options = unsafe { options.as_ref() }
            .copied()
            .unwrap_or_else(|| prism_interpolate_options_default());
        let options = InterpolatorOptions {
            session: unsafe { options.session.library_session()? },
            ensemble: options.ensemble,
            tta: options.tta,
            nearest_timestep: options.nearest_timestep,
            ..InterpolatorOptions::default()
        };
        let path = unsafe { model_arg(model, "rife-v4.6")? };
        let rife = Interpolator::new(&path, options)?;
        unsafe { put(out, create(PrismInterpolator(Mutex::new(rife))), "out") }
    })
}

/// Releases an interpolator (NULL: nothing to do).
///
/// # Safety
/// `interpolator` is NULL or a handle from `prism_interpolator_new`, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_interpolator_free(interpolator: *mut PrismInterpolator) {
    unsafe { destroy(interpolator) }
}

/// The frames at `timesteps[0..count]` (each in (0, 1)) between `first` and `second` (same size,
/// channels and depth) into `outputs[0..count]`, each the inputs' size and layout (see
/// `PrismImage` for who owns the buffers). `progress` (may be NULL) sees frames done; outputs
/// are written only when every frame succeeded.
///
/// # Safety
/// `interpolator` is a valid handle; `first`, `second` valid images; `timesteps` and `outputs`
/// arrays of `count` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_interpolate(
    interpolator: *mut PrismInterpolator,
    first: *const PrismImage,
    second: *const PrismImage,
    timesteps: *const f64,
    count: usize,
    outputs: *mut PrismImage,
    progress: PrismProgressFn,
    user_data: *mut c_void,
) -> PrismStatus {
    guard(|| {
        if count == 0 {
            return Ok(());
        }
        if timesteps.is_null() || outputs.is_null() {
            return Err(Failure::invalid("timesteps or outputs is NULL"));
        }
        let a = unsafe { read(first, "the first frame")? };
        let b = unsafe { read(second, "the second frame")? };
        if a.color() != b.color() {
            return Err(Failure::invalid(format!(
                "the frames differ in layout ({:?} and {:?})",
                a.color(),
                b.color()
            )));
        }
        let ts = unsafe { std::slice::from_raw_parts(timesteps, count) };
        let outs = (0..count)
            .map(|i| unsafe { Output::new(outputs.add(i), a.width(), a.height(), &a) })
            .collect::<Result<Vec<_>, _>>()?;
        let reporter = Progress {
            callback: progress,
            user_data,
        };
        let total = count as u64;
        let frames = unsafe {
            Handle::with(interpolator, |rife| {
                if (a.width(), a.height()) != (b.width(), b.height()) {
                    // The library's own message, naming both sizes.
                    rife.interpolate_many(&a, &b, ts)?;
                }
                let pa = rife.prepare(&a)?;
                let pb = rife.prepare(&b)?;
                let mut frames = Vec::with_capacity(count);
                for (i, &t) in ts.iter().enumerate() {
                    if !reporter.report(i as u64, total) {
                        return Err(prism_interpolate::Error::Cancelled.into());
                    }
                    frames.push(rife.interpolate_prepared(&pa, &pb, &[t])?.remove(0).image);
                }
                reporter.report(total, total);
                Ok(frames)
            })?
        };
        for (out, frame) in outs.into_iter().zip(&frames) {
            out.write(frame)?;
        }
        Ok(())
    })
}
