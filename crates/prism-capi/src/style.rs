//! `PrismStyler`: fast feed-forward style (`prism style fast` on one image).

use std::ffi::{c_char, c_void};
use std::sync::Mutex;

use prism_core::ModelInfo;
use prism_style::multistyle::is_multistyle;
use prism_style::{Arbitrary, FastOptions, FastStyle, FeedForward, MultiStyle, StyleMix};

use crate::error::{Failure, PrismStatus, Result, guard};
use crate::handle::{Handle, create, destroy};
use crate::image::{Output, PrismImage, read};
use crate::options::{
    PrismProgressFn, PrismSessionOptions, Progress, model_arg, prism_session_options_default, put,
};

/// A loaded fast style with its options. Calls on one styler are serialised by a lock.
pub struct PrismStyler(Mutex<(FeedForward, FastOptions)>);

impl Handle for PrismStyler {
    type Inner = (FeedForward, FastOptions);
    fn lock(&self) -> &Mutex<Self::Inner> {
        &self.0
    }
}

/// Which fast style and how (`prism style fast`'s flags). Start from
/// `prism_style_options_default()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PrismStyleOptions {
    pub session: PrismSessionOptions,
    /// The multistyle26 network's style, 0 to 25 (`--style`).
    pub style_index: u32,
    /// Any picture as the style, by the Magenta arbitrary network (`--style-image`); NULL: none.
    /// When set, the model argument must be NULL.
    pub style_image: *const PrismImage,
    /// 1: the stylised image; 0: the content; in between a blend (`--strength`).
    pub strength: f32,
    /// Keep the content's colours (`--preserve-colors`).
    pub preserve_colors: bool,
    /// Shrink the input by this factor first (`--content-scale`; the result has the shrunk size).
    pub content_scale: f32,
}

/// `prism style fast`'s defaults: style 0, full strength, content scale 1.
#[unsafe(no_mangle)]
pub extern "C" fn prism_style_options_default() -> PrismStyleOptions {
    PrismStyleOptions {
        session: prism_session_options_default(),
        style_index: 0,
        style_image: std::ptr::null(),
        strength: 1.0,
        preserve_colors: false,
        content_scale: 1.0,
    }
}

/// The network `model` names, as `prism style fast` opens it.
unsafe fn open(model: *const c_char, options: &PrismStyleOptions) -> Result<FeedForward> {
    let session = unsafe { options.session.library_session()? };
    if !options.style_image.is_null() {
        if !model.is_null() {
            return Err(Failure::invalid(
                "style_image runs the arbitrary-style network: pass model = NULL",
            ));
        }
        let style = unsafe { read(options.style_image, "style_image")? };
        let net = Arbitrary::load(
            &prism_hub::resolve_model("style-arbitrary-predict")?,
            &prism_hub::resolve_model("style-arbitrary-transform")?,
            &session,
        )?;
        return Ok(FeedForward::arbitrary(net, &style, "style")?);
    }
    let path = unsafe { model_arg(model, "style-multistyle26")? };
    if is_multistyle(&ModelInfo::inspect(&path)?) {
        let mix = StyleMix::one(options.style_index as usize)?;
        let net = MultiStyle::load(&path, &session)?;
        return Ok(FeedForward::Multi { net, mix });
    }
    if options.style_index != 0 {
        return Err(Failure::invalid(format!(
            "style_index {} picks one of multistyle26's styles, but {} is a single-style network",
            options.style_index,
            path.display()
        )));
    }
    Ok(FeedForward::Transformer(FastStyle::load(&path, &session)?))
}

/// Loads a fast style: `model` is a model id (default "style-multistyle26" when NULL) or an
/// .onnx path (a TransformerNet such as "style-mosaic"); `options` NULL means the defaults.
/// Release `*out` with `prism_styler_free`.
///
/// # Safety
/// `model` is NULL or a NUL-terminated string; `options` NULL or valid; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_styler_new(
    model: *const c_char,
    options: *const PrismStyleOptions,
    out: *mut *mut PrismStyler,
) -> PrismStatus {
    guard(|| {
        unsafe { put(out, std::ptr::null_mut(), "out")? };
        let options = unsafe { options.as_ref() }
            .copied()
            .unwrap_or_else(|| prism_style_options_default());
        let fast = FastOptions {
            content_scale: options.content_scale,
            strength: options.strength,
            preserve_colors: options.preserve_colors,
        };
        fast.validate()?;
        let net = unsafe { open(model, &options)? };
        unsafe { put(out, create(PrismStyler(Mutex::new((net, fast)))), "out") }
    })
}

/// Releases a styler (NULL: nothing to do).
///
/// # Safety
/// `styler` is NULL or a handle from `prism_styler_new`, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_styler_free(styler: *mut PrismStyler) {
    unsafe { destroy(styler) }
}

/// The size of the result for a `width` x `height` input (the input's, unless `content_scale`).
///
/// # Safety
/// `styler` is a valid handle; `out_width` and `out_height` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_styler_output_size(
    styler: *mut PrismStyler,
    width: u32,
    height: u32,
    out_width: *mut u32,
    out_height: *mut u32,
) -> PrismStatus {
    guard(|| {
        let (w, h) = unsafe { Handle::with(styler, |(_, o)| Ok(o.output_size(width, height)))? };
        unsafe { put(out_width, w, "out_width")? };
        unsafe { put(out_height, h, "out_height") }
    })
}

/// Stylises `input` into `output` (same channels and depth; see `PrismImage` for who owns the
/// buffer). `progress` (may be NULL) is called before (0 of 1; non-zero cancels) and after.
///
/// # Safety
/// `styler` is a valid handle; `input` a valid image; `output` a valid output image.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_stylize(
    styler: *mut PrismStyler,
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
            Handle::with(styler, |(net, options)| {
                let (w, h) = options.output_size(image.width(), image.height());
                let out = Output::new(output, w, h, &image)?;
                if !reporter.report(0, 1) {
                    return Err(Failure {
                        status: PrismStatus::Cancelled,
                        message: "cancelled by the progress callback".into(),
                    });
                }
                let result = net.stylize(&image, options)?;
                reporter.report(1, 1);
                out.write(&result)
            })
        }
    })
}
