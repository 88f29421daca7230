//! Gatys et al. neural style: the optimisation loop over the image, in Rust.

use std::ops::ControlFlow;

use image::DynamicImage;
use image::imageops::FilterType;
use ndarray::{Array3, Array4, s};
use prism_core::tensor::{Channels, Depth, PixelLayout};
use prism_core::{ValueRange, image_to_tensor, tensor_to_image};

use crate::color::preserve_colors;
use crate::error::{Error, Result};
use crate::fast::reflect_pad;
use crate::loss::{LossTerms, LossWeights, Targets, feature_loss, total_variation};
use crate::optim::{Adam, Lbfgs, LineSearch, directional_derivative};
use crate::vgg::{VGG_MULTIPLE, Vgg};

/// The optimiser of the loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// L-BFGS with `history` curvature pairs; `lr` is the (initial) step length.
    Lbfgs {
        history: usize,
        line_search: LineSearch,
        lr: f32,
    },
    /// Adam with PyTorch's defaults (betas 0.9 / 0.999, eps 1e-8) and learning rate `lr` on the
    /// 0..1 image.
    Adam { lr: f32 },
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer::Lbfgs {
            history: 100,
            line_search: LineSearch::Armijo,
            lr: 1.0,
        }
    }
}

/// Where the optimised image starts.
#[derive(Debug, Clone, Default)]
pub enum Init {
    /// The content image (default).
    #[default]
    Content,
    /// Uniform noise in 0..1 from the seed.
    Noise,
    /// Another image, resized to the result's size.
    Image(DynamicImage),
}

/// Everything that shapes a neural-style run. `Default`: [`LossWeights::default`] (tuned for the
/// Caffe VGG19), 300 L-BFGS steps, started from the content image.
#[derive(Debug, Clone)]
pub struct NeuralOptions {
    /// Long side of the result in pixels; `None` keeps the content image's size (see
    /// [`output_size`]).
    pub size: Option<u32>,
    /// Optimiser steps at each scale.
    pub steps: usize,
    pub optimizer: Optimizer,
    pub loss: LossWeights,
    pub init: Init,
    /// Seed of the noise initialisation (the only randomness of a run).
    pub seed: u64,
    /// Style images are resized to this fraction of the working image's long side.
    pub style_scale: f32,
    /// Keep the content's colours: luminance-only transfer.
    pub original_colors: bool,
    /// Coarse-to-fine levels: 1 optimises at full size only; n starts at `size / 2^(n-1)`,
    /// doubling each level and starting each from the previous result, upsampled.
    pub scales: usize,
    /// Hand an image of the current result to the progress callback every this many steps (0: never).
    pub snapshot_every: usize,
}

impl Default for NeuralOptions {
    fn default() -> Self {
        Self {
            size: None,
            steps: 300,
            optimizer: Optimizer::default(),
            loss: LossWeights::default(),
            init: Init::Content,
            seed: 0,
            style_scale: 1.0,
            original_colors: false,
            scales: 1,
            snapshot_every: 0,
        }
    }
}

/// A style image and its blend weight.
#[derive(Debug, Clone, Copy)]
pub struct StyleImage<'a> {
    pub image: &'a DynamicImage,
    pub weight: f32,
}

/// Reported to the progress callback once per step (before the step's update).
#[derive(Debug)]
pub struct Progress<'a> {
    /// 0-based scale level, and how many there are.
    pub scale: usize,
    pub scales: usize,
    /// This level's image size (the VGG works on a copy reflect-padded to multiples of 16).
    pub width: u32,
    pub height: u32,
    /// 0-based step within the level, and steps per level.
    pub step: usize,
    pub steps: usize,
    /// The loss of the current image.
    pub loss: LossTerms,
    /// The current image, every `snapshot_every` steps.
    pub snapshot: Option<&'a DynamicImage>,
}

/// The result of [`neural_style`].
#[derive(Debug, Clone)]
pub struct NeuralResult {
    pub image: DynamicImage,
    /// The loss before each step, per scale level.
    pub losses: Vec<Vec<LossTerms>>,
    /// The loss of the final image (of the last level).
    pub final_loss: LossTerms,
    /// The final image as optimised, `[1, 3, H, W]` 0..1 at the result's size (padding cropped),
    /// before colour handling and clamping.
    pub raw: Array4<f32>,
}

/// The result's `(width, height)` for a `width` x `height` content: the content's own, or with
/// `size` the long side `size` and the short side `round(size * short / long)` (halves away from
/// zero, at least 1).
pub fn output_size(width: u32, height: u32, size: Option<u32>) -> (u32, u32) {
    let Some(long) = size else {
        return (width, height);
    };
    let short = |s: u32| {
        ((f64::from(long) * f64::from(s) / f64::from(width.max(height))).round() as u32)
            .clamp(1, long)
    };
    if width >= height {
        (long, short(height))
    } else {
        (short(width), long)
    }
}

/// Style-image `(width, height)`: long side `long`, the image's aspect, sides multiples of 16
/// (only their Gram matrices are used, so the rounding never shows).
fn style_size(width: u32, height: u32, long: f64) -> (usize, usize) {
    let round = |v: f64| ((v / VGG_MULTIPLE as f64).round() as usize).max(1) * VGG_MULTIPLE;
    let scale = long / f64::from(width.max(height));
    (
        round(f64::from(width) * scale),
        round(f64::from(height) * scale),
    )
}

/// `[1, C, h, w]` reflect-padded at the bottom and right to the VGG's multiple of 16.
fn pad(x: &Array4<f32>) -> Array4<f32> {
    reflect_pad(x, VGG_MULTIPLE, VGG_MULTIPLE)
}

/// The top-left `h` x `w` of a padded `[1, C, H, W]` tensor.
fn crop(x: &Array4<f32>, h: usize, w: usize) -> Array4<f32> {
    x.slice(s![.., .., ..h, ..w]).to_owned()
}

/// An image as a `[1, 3, h, w]` 0..1 tensor, resized (Lanczos) only if its size differs.
fn to_tensor(image: &DynamicImage, w: usize, h: usize) -> Array4<f32> {
    let resized;
    let image = if image.width() as usize == w && image.height() as usize == h {
        image
    } else {
        resized = image.resize_exact(w as u32, h as u32, FilterType::Lanczos3);
        &resized
    };
    let mut t = image_to_tensor(image, ValueRange::Unit).color;
    t.mapv_inplace(|v| v.clamp(0.0, 1.0));
    t
}

/// Bilinear resize of a `[1, C, H, W]` tensor (half-pixel centres, as PyTorch's
/// `interpolate(mode="bilinear", align_corners=False)`).
pub fn resize_bilinear(x: &Array4<f32>, h: usize, w: usize) -> Array4<f32> {
    let (n, c, ih, iw) = x.dim();
    let coords = |out: usize, inp: usize| -> Vec<(usize, usize, f32)> {
        (0..out)
            .map(|o| {
                let src = ((o as f32 + 0.5) * inp as f32 / out as f32 - 0.5).max(0.0);
                let i0 = (src.floor() as usize).min(inp - 1);
                let i1 = (i0 + 1).min(inp - 1);
                (i0, i1, src - i0 as f32)
            })
            .collect()
    };
    let ys = coords(h, ih);
    let xs = coords(w, iw);
    Array4::from_shape_fn((n, c, h, w), |(b, ch, y, xo)| {
        let (y0, y1, fy) = ys[y];
        let (x0, x1, fx) = xs[xo];
        let top = x[[b, ch, y0, x0]] * (1.0 - fx) + x[[b, ch, y0, x1]] * fx;
        let bot = x[[b, ch, y1, x0]] * (1.0 - fx) + x[[b, ch, y1, x1]] * fx;
        top * (1.0 - fy) + bot * fy
    })
}

/// Uniform 0..1 noise from SplitMix64, identical on every platform.
fn noise(shape: (usize, usize, usize, usize), seed: u64) -> Array4<f32> {
    let mut state = seed;
    Array4::from_shape_simple_fn(shape, || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    })
}

/// The loss and (optionally) its image gradient at `x`: one VGG forward, then one VJP.
pub fn evaluate(
    vgg: &mut Vgg,
    weights: &LossWeights,
    targets: &Targets,
    x: &Array4<f32>,
    with_grad: bool,
) -> Result<(LossTerms, Option<Array4<f32>>)> {
    let features = vgg.features(x)?;
    let (content, style, feature_grads) = feature_loss(weights, targets, &features);
    drop(features);
    let mut grad = if with_grad {
        vgg.vjp(x, &feature_grads)?
    } else {
        Array4::zeros(x.dim())
    };
    let tv = total_variation(weights.tv, x, &mut grad);
    let terms = LossTerms {
        content,
        style,
        tv,
        total: content + style + tv,
    };
    Ok((terms, with_grad.then_some(grad)))
}

fn validate(options: &NeuralOptions, styles: &[StyleImage<'_>]) -> Result<()> {
    let bad = |m: &str| Err(Error::Options(m.to_string()));
    if styles.is_empty() {
        return bad("at least one style image is needed");
    }
    if styles.iter().any(|s| s.weight.is_nan() || s.weight < 0.0)
        || styles.iter().map(|s| s.weight).sum::<f32>() <= 0.0
    {
        return bad("style blend weights must be non-negative and not all zero");
    }
    if options.style_scale.is_nan() || options.style_scale <= 0.0 {
        return bad("style scale must be positive");
    }
    if options.size == Some(0) {
        return bad("size must be at least 1 pixel");
    }
    if options.scales == 0 || options.scales > 8 {
        return bad("scales must be 1..=8");
    }
    if options.loss.content_layers.is_empty() && options.loss.style_layers.is_empty() {
        return bad("no content and no style layers");
    }
    match options.optimizer {
        Optimizer::Adam { lr } | Optimizer::Lbfgs { lr, .. } if lr.is_nan() || lr <= 0.0 => {
            bad("learning rate must be positive")
        }
        _ => Ok(()),
    }
}

/// Runs neural style: optimises an image so that its VGG19 features match `content`'s and its
/// Gram matrices the (blended) `styles`'. `progress` sees every step; returning
/// `ControlFlow::Break` cancels the run ([`Error::Cancelled`]).
pub fn neural_style(
    vgg: &mut Vgg,
    content: &DynamicImage,
    styles: &[StyleImage<'_>],
    options: &NeuralOptions,
    progress: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
) -> Result<NeuralResult> {
    validate(options, styles)?;
    let (cw, ch) = (content.width(), content.height());
    if cw == 0 || ch == 0 {
        return Err(Error::ImageSize {
            width: cw,
            height: ch,
            reason: "empty image".into(),
        });
    }
    let (ow, oh) = output_size(cw, ch, options.size);
    let long = ow.max(oh);
    // The optimised image of the previous level, at that level's size (padding cropped).
    let mut x: Option<Array4<f32>> = None;
    let mut losses = Vec::new();
    let mut final_loss = LossTerms::default();
    let mut content_t = Array4::zeros((1, 3, 1, 1));
    for level in 0..options.scales {
        // Lower levels halve the long side (not below 16 px, never above the result's).
        let level_long = (f64::from(long) / f64::from(1u32 << (options.scales - 1 - level)))
            .round()
            .max(16.0) as u32;
        let (w, h) = if level + 1 == options.scales {
            (ow as usize, oh as usize)
        } else {
            let (w, h) = output_size(ow, oh, Some(level_long.min(long)));
            (w as usize, h as usize)
        };
        content_t = to_tensor(content, w, h);
        let content_features = vgg.features(&pad(&content_t))?;
        let mut style_features = Vec::with_capacity(styles.len());
        for style in styles {
            let slong = f64::from(options.style_scale) * w.max(h) as f64;
            let (sw, sh) = style_size(style.image.width(), style.image.height(), slong);
            let st = to_tensor(style.image, sw, sh);
            style_features.push((vgg.features(&st)?, style.weight));
        }
        let targets = Targets::new(&options.loss, &content_features, &style_features);
        drop((content_features, style_features));
        let start = match (x.take(), &options.init) {
            (Some(prev), _) => resize_bilinear(&prev, h, w),
            (None, Init::Content) => content_t.clone(),
            (None, Init::Noise) => noise((1, 3, h, w), options.seed),
            (None, Init::Image(init)) => to_tensor(init, w, h),
        };
        let start = pad(&start);
        let (_, _, ph, pw) = start.dim();
        tracing::info!(
            level,
            width = w,
            height = h,
            padded_width = pw,
            padded_height = ph,
            "neural style level"
        );
        let mut report = |step: usize, loss: LossTerms, x: &Array4<f32>| -> Result<()> {
            if !loss.total.is_finite() {
                return Err(Error::Diverged {
                    step,
                    loss: loss.total,
                });
            }
            let snapshot = (options.snapshot_every > 0
                && step.is_multiple_of(options.snapshot_every))
            .then(|| render(&crop(x, h, w), &content_t, options.original_colors, content))
            .transpose()?;
            let p = Progress {
                scale: level,
                scales: options.scales,
                width: w as u32,
                height: h as u32,
                step,
                steps: options.steps,
                loss,
                snapshot: snapshot.as_ref(),
            };
            match progress(&p) {
                ControlFlow::Continue(()) => Ok(()),
                ControlFlow::Break(()) => Err(Error::Cancelled { step }),
            }
        };
        let (result, level_losses, last) =
            optimise(vgg, &options.loss, &targets, start, options, &mut report)?;
        losses.push(level_losses);
        final_loss = last;
        x = Some(crop(&result, h, w));
    }
    let raw = x.expect("at least one level");
    let image = render(&raw, &content_t, options.original_colors, content)?;
    Ok(NeuralResult {
        image,
        losses,
        final_loss,
        raw,
    })
}

/// The optimisation at one level: returns the image, the loss before each step and the final loss.
fn optimise(
    vgg: &mut Vgg,
    weights: &LossWeights,
    targets: &Targets,
    mut x: Array4<f32>,
    options: &NeuralOptions,
    report: &mut dyn FnMut(usize, LossTerms, &Array4<f32>) -> Result<()>,
) -> Result<(Array4<f32>, Vec<LossTerms>, LossTerms)> {
    let mut losses = Vec::with_capacity(options.steps);
    let (mut f, g) = evaluate(vgg, weights, targets, &x, true)?;
    let mut g = g.expect("asked for");
    match options.optimizer {
        Optimizer::Adam { lr } => {
            let mut adam = Adam::new(lr, x.len());
            for step in 0..options.steps {
                if step > 0 {
                    let (fl, gr) = evaluate(vgg, weights, targets, &x, true)?;
                    (f, g) = (fl, gr.expect("asked for"));
                }
                report(step, f, &x)?;
                losses.push(f);
                adam.step(
                    x.as_slice_mut().expect("standard layout"),
                    g.as_slice().expect("standard layout"),
                );
            }
            if options.steps > 0 {
                f = evaluate(vgg, weights, targets, &x, false)?.0;
            }
        }
        Optimizer::Lbfgs {
            history,
            line_search,
            lr,
        } => {
            let mut lbfgs = Lbfgs::new(lr, history);
            for step in 0..options.steps {
                report(step, f, &x)?;
                losses.push(f);
                let gs = g.as_slice().expect("standard layout");
                let (d, mut t) = lbfgs.direction(gs);
                let gtd = directional_derivative(gs, &d);
                if gtd > -1e-9 {
                    tracing::info!(step, "L-BFGS converged (no descent direction)");
                    break;
                }
                let mut accepted = false;
                for _ in 0..20 {
                    let mut trial = x.clone();
                    for (v, d) in trial.iter_mut().zip(&d) {
                        *v += t * d;
                    }
                    let (ft, gt) = evaluate(vgg, weights, targets, &trial, true)?;
                    if line_search == LineSearch::Fixed
                        || ft.total <= f.total + 1e-4 * f64::from(t) * gtd
                    {
                        lbfgs.taken(&d, t);
                        (x, f, g) = (trial, ft, gt.expect("asked for"));
                        accepted = true;
                        break;
                    }
                    t *= 0.5;
                }
                if !accepted {
                    tracing::info!(step, "L-BFGS line search found no decrease: converged");
                    break;
                }
            }
        }
    }
    Ok((x, losses, f))
}

/// The optimised tensor as an image of the content's kind (RGB, its bit depth, its alpha
/// resized), with original colours applied if asked.
fn render(
    x: &Array4<f32>,
    content_t: &Array4<f32>,
    original_colors: bool,
    content: &DynamicImage,
) -> Result<DynamicImage> {
    let mut rgb: Array3<f32> = x.slice(s![0, .., .., ..]).to_owned();
    if original_colors {
        preserve_colors(rgb.view_mut(), content_t.slice(s![0, .., .., ..]));
    }
    rgb.mapv_inplace(|v| v.clamp(0.0, 1.0));
    let (_, h, w) = rgb.dim();
    let source = PixelLayout::of(content);
    let depth = if source.depth == Depth::U16 {
        Depth::U16
    } else {
        Depth::U8
    };
    let alpha = source.channels.has_alpha().then(|| to_alpha(content, w, h));
    let layout = PixelLayout {
        channels: if alpha.is_some() {
            Channels::Rgba
        } else {
            Channels::Rgb
        },
        depth,
    };
    Ok(tensor_to_image(
        rgb.view(),
        alpha.as_ref().map(|a| a.view()),
        layout,
        ValueRange::Unit,
    )?)
}

fn to_alpha(content: &DynamicImage, w: usize, h: usize) -> ndarray::Array2<f32> {
    let resized = content.resize_exact(w as u32, h as u32, FilterType::Triangle);
    image_to_tensor(&resized, ValueRange::Unit)
        .alpha
        .unwrap_or_else(|| ndarray::Array2::ones((h, w)))
}

#[cfg(test)]
mod tests {
    use super::output_size;

    #[test]
    fn output_sizes_round_the_short_side() {
        assert_eq!(output_size(161, 97, Some(40)), (40, 24));
        assert_eq!(output_size(97, 161, Some(33)), (20, 33));
        assert_eq!(output_size(97, 161, None), (97, 161));
        assert_eq!(output_size(3, 1, Some(3)), (3, 1));
        assert_eq!(output_size(2, 1, Some(3)), (3, 2), "1.5 rounds up");
        assert_eq!(output_size(1000, 1, Some(10)), (10, 1), "at least 1");
    }
}
