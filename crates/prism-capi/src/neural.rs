//! `prism_neural_style`: Gatys neural style (`prism style neural`), one call per image.

use std::ffi::c_void;
use std::ops::ControlFlow;

use prism_style::{
    Init, LossWeights, NeuralOptions, Optimizer, Pool, StyleImage, Vgg, neural_style,
};

use crate::error::{Failure, PrismStatus, guard};
use crate::image::{Output, PrismImage, read};
use crate::options::{
    PrismProgressFn, PrismSessionOptions, Progress, prism_session_options_default,
};

/// How neural style optimises (`prism style neural`'s flags). Start from
/// `prism_neural_options_default()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PrismNeuralOptions {
    pub session: PrismSessionOptions,
    /// Long side of the result; 0: the content's size.
    pub size: u32,
    /// Optimiser steps at each scale.
    pub steps: u32,
    /// Adam instead of L-BFGS.
    pub adam: bool,
    /// Learning rate; 0: 1 for L-BFGS, 0.02 for Adam.
    pub learning_rate: f32,
    pub content_weight: f64,
    pub style_weight: f64,
    pub tv_weight: f64,
    /// Start from noise (seeded by `seed`) instead of the content.
    pub init_noise: bool,
    pub seed: u64,
    /// Style images are resized to this fraction of the working image's long side.
    pub style_scale: f32,
    /// Keep the content's colours.
    pub original_colors: bool,
    /// Coarse-to-fine levels (1: full size only).
    pub scales: u32,
    /// VGG19 with average pooling instead of max pooling.
    pub avg_pool: bool,
}

/// `prism style neural`'s defaults: 300 L-BFGS steps from the content, the library's loss weights.
#[unsafe(no_mangle)]
pub extern "C" fn prism_neural_options_default() -> PrismNeuralOptions {
    let loss = LossWeights::default();
    let base = NeuralOptions::default();
    PrismNeuralOptions {
        session: prism_session_options_default(),
        size: 0,
        steps: base.steps as u32,
        adam: false,
        learning_rate: 0.0,
        content_weight: loss.content,
        style_weight: loss.style,
        tv_weight: loss.tv,
        init_noise: false,
        seed: base.seed,
        style_scale: base.style_scale,
        original_colors: base.original_colors,
        scales: base.scales as u32,
        avg_pool: false,
    }
}

/// Paints `content` in the style of `styles[0..count]` (blended by `weights`, NULL: equal) into
/// `output` (the content's channels and depth; size from `options.size`). Loads VGG19 (the
/// `vgg19-features` and `vgg19-vjp` models) for the call. `progress` (may be NULL) sees
/// optimiser steps over all scales.
///
/// # Safety
/// `content` a valid image; `styles` an array of `count` valid images; `weights` NULL or
/// `count` floats; `options` NULL or valid; `output` a valid output image.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_neural_style(
    content: *const PrismImage,
    styles: *const PrismImage,
    weights: *const f32,
    count: usize,
    options: *const PrismNeuralOptions,
    output: *mut PrismImage,
    progress: PrismProgressFn,
    user_data: *mut c_void,
) -> PrismStatus {
    guard(|| {
        let o = unsafe { options.as_ref() }
            .copied()
            .unwrap_or_else(|| prism_neural_options_default());
        if count == 0 || styles.is_null() {
            return Err(Failure::invalid("give at least one style image"));
        }
        let content = unsafe { read(content, "the content image")? };
        let style_images = (0..count)
            .map(|i| unsafe { read(styles.add(i), &format!("style image {i}")) })
            .collect::<Result<Vec<_>, _>>()?;
        let blend = if weights.is_null() {
            vec![1.0; count]
        } else {
            unsafe { std::slice::from_raw_parts(weights, count) }.to_vec()
        };
        let lr = |default: f32| {
            if o.learning_rate > 0.0 {
                o.learning_rate
            } else {
                default
            }
        };
        let options = NeuralOptions {
            size: (o.size > 0).then_some(o.size),
            steps: o.steps as usize,
            optimizer: if o.adam {
                Optimizer::Adam { lr: lr(0.02) }
            } else {
                match Optimizer::default() {
                    Optimizer::Lbfgs {
                        history,
                        line_search,
                        ..
                    } => Optimizer::Lbfgs {
                        history,
                        line_search,
                        lr: lr(1.0),
                    },
                    adam => adam,
                }
            },
            loss: LossWeights {
                content: o.content_weight,
                style: o.style_weight,
                tv: o.tv_weight,
                ..LossWeights::default()
            },
            init: if o.init_noise {
                Init::Noise
            } else {
                Init::Content
            },
            seed: o.seed,
            style_scale: o.style_scale,
            original_colors: o.original_colors,
            scales: o.scales as usize,
            snapshot_every: 0,
        };
        let (w, h) =
            prism_style::neural::output_size(content.width(), content.height(), options.size);
        let out = unsafe { Output::new(output, w, h, &content)? };
        let pool = if o.avg_pool { Pool::Avg } else { Pool::Max };
        let mut vgg = Vgg::load(pool, &unsafe { o.session.library_session()? })?;
        let refs: Vec<StyleImage<'_>> = style_images
            .iter()
            .zip(&blend)
            .map(|(image, &weight)| StyleImage { image, weight })
            .collect();
        let reporter = Progress {
            callback: progress,
            user_data,
        };
        let total = options.steps as u64 * options.scales as u64;
        let result = neural_style(&mut vgg, &content, &refs, &options, &mut |p| {
            let done = (p.scale * p.steps + p.step) as u64;
            if reporter.report(done, total) {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        })?;
        reporter.report(total, total);
        out.write(&result.image)
    })
}
