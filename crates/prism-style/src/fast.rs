//! Fast (feed-forward) style: Johnson et al. TransformerNet graphs.

use std::path::Path;

use image::DynamicImage;
use image::imageops::FilterType;
use ndarray::{Array4, Ix4, s};
use prism_core::{Model, SessionOptions, Tensor, ValueRange, image_to_tensor, tensor_to_image};

use crate::color::{blend, preserve_colors};
use crate::error::{Error, Result};

/// Input sides are reflect-padded to a multiple of this (two stride-2 convolutions, in every
/// feed-forward style network here).
pub const PAD_MULTIPLE: usize = 4;
/// The smallest side the network's own reflection paddings accept (smaller inputs are mirrored
/// up to it and cropped back).
pub const MIN_SIDE: u32 = 8;

/// How a fast style is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct FastOptions {
    /// Shrink the input by this factor before stylising (the output has the shrunk size), as
    /// `--content-scale` of PyTorch's fast_neural_style: larger values give coarser strokes.
    pub content_scale: f32,
    /// 1: the stylised image; 0: the content; in between, a linear blend.
    pub strength: f32,
    /// Keep the content's colours: luminance-only transfer.
    pub preserve_colors: bool,
}

impl Default for FastOptions {
    fn default() -> Self {
        Self {
            content_scale: 1.0,
            strength: 1.0,
            preserve_colors: false,
        }
    }
}

impl FastOptions {
    /// The size of the stylised image for a `width` x `height` input (`content_scale` shrinks it).
    pub fn output_size(&self, width: u32, height: u32) -> (u32, u32) {
        let scale = |n: u32| (n as f32 / self.content_scale).round().max(1.0) as u32;
        if self.content_scale == 1.0 {
            (width, height)
        } else {
            (scale(width), scale(height))
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.content_scale > 0.0 && self.content_scale.is_finite()) {
            return Err(Error::Options("content scale must be positive".into()));
        }
        if !(0.0..=1.0).contains(&self.strength) {
            return Err(Error::Options("strength must be within 0..=1".into()));
        }
        Ok(())
    }
}

/// A loaded TransformerNet style.
pub struct FastStyle {
    model: Model,
    range: ValueRange,
    /// `prism.weights`: `real` or `seeded-random`.
    pub weights: String,
    /// `prism.style` (mosaic, candy, ...) or the file stem.
    pub style: String,
}

impl std::fmt::Debug for FastStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastStyle")
            .field("model", &self.model.path())
            .field("style", &self.style)
            .field("weights", &self.weights)
            .finish()
    }
}

impl FastStyle {
    /// Loads a TransformerNet graph (one image input `[N,3,H,W]`, one output of the same shape).
    pub fn load(path: &Path, options: &SessionOptions) -> Result<FastStyle> {
        let model = Model::load(path, options)?;
        let info = model.info();
        if info.inputs.len() != 1 || info.outputs.len() != 1 {
            return Err(Error::BadModel {
                path: path.to_path_buf(),
                reason: format!(
                    "not a fast-style network: {} inputs and {} outputs (expected 1 and 1)",
                    info.inputs.len(),
                    info.outputs.len()
                ),
            });
        }
        if info
            .metadata
            .get("prism.task")
            .is_some_and(|t| t != "style")
        {
            return Err(Error::BadModel {
                path: path.to_path_buf(),
                reason: format!(
                    "is a `{}` model, not a style network",
                    info.metadata["prism.task"]
                ),
            });
        }
        let range = info
            .metadata
            .get("prism.value_range")
            .and_then(|v| ValueRange::from_metadata(v))
            .unwrap_or(ValueRange::Byte);
        let weights = info
            .metadata
            .get("prism.weights")
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        let style = info
            .metadata
            .get("prism.style")
            .cloned()
            .unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| {
                        s.to_string_lossy()
                            .split('.')
                            .next()
                            .unwrap_or("")
                            .to_string()
                    })
                    .unwrap_or_default()
            });
        Ok(FastStyle {
            model,
            range,
            weights,
            style,
        })
    }

    /// The provider the network runs on.
    pub fn provider(&self) -> prism_core::Provider {
        self.model.provider()
    }

    /// Runs the network on `[1, 3, H, W]` RGB in the model's value range, any H and W: reflect-pads
    /// to a multiple of 4 and at least [`MIN_SIDE`], crops back, clamps to the range.
    pub fn run_tensor(&mut self, rgb: &Array4<f32>) -> Result<Array4<f32>> {
        let max = match self.range {
            ValueRange::Unit => 1.0,
            ValueRange::Byte => 255.0,
        };
        run_padded(
            &mut self.model,
            rgb,
            Layout::Nchw,
            vec![],
            MIN_SIDE,
            "fast style",
            max,
        )
    }

    /// Stylises an image: same kind of image out (bit depth, alpha kept), of the input's size
    /// divided by `content_scale`.
    pub fn stylize(&mut self, image: &DynamicImage, options: &FastOptions) -> Result<DynamicImage> {
        let range = self.range;
        stylize_image(image, options, range, options.strength, &mut |rgb| {
            self.run_tensor(rgb)
        })
    }
}

/// The image path of every feed-forward style: `content_scale` shrink, `run` on `[1, 3, H, W]` in
/// `range`, then a pixel blend with the content at `pixel_strength`, colour preservation, clamp;
/// bit depth and alpha are kept.
pub(crate) fn stylize_image(
    image: &DynamicImage,
    options: &FastOptions,
    range: ValueRange,
    pixel_strength: f32,
    run: &mut dyn FnMut(&Array4<f32>) -> Result<Array4<f32>>,
) -> Result<DynamicImage> {
    options.validate()?;
    let resized;
    let image = if options.content_scale == 1.0 {
        image
    } else {
        let (w, h) = options.output_size(image.width(), image.height());
        resized = image.resize_exact(w, h, FilterType::Lanczos3);
        &resized
    };
    let input = image_to_tensor(image, range);
    let mut out = run(&input.color)?;
    let content = input.color.slice(s![0, .., .., ..]);
    if pixel_strength < 1.0 {
        blend(out.slice_mut(s![0, .., .., ..]), content, pixel_strength);
    }
    if options.preserve_colors {
        preserve_colors(out.slice_mut(s![0, .., .., ..]), content);
    }
    let max = if range == ValueRange::Unit {
        1.0
    } else {
        255.0
    };
    out.mapv_inplace(|v| v.clamp(0.0, max));
    Ok(tensor_to_image(
        out.slice(s![0, .., .., ..]),
        input.alpha.as_ref().map(|a| a.view()),
        input.layout,
        range,
    )?)
}

/// `[1, C, H, W]` (sides at least 1) reflect-padded at the bottom and right to multiples of
/// `multiple`, and to at least `min` (mirrored as often as it takes).
pub(crate) fn reflect_pad(rgb: &Array4<f32>, multiple: usize, min: usize) -> Array4<f32> {
    let (_, c, h, w) = rgb.dim();
    let side = |n: usize| n.max(min).next_multiple_of(multiple);
    let (ph, pw) = (side(h), side(w));
    Array4::from_shape_fn((1, c, ph, pw), |(_, c, y, x)| {
        rgb[[0, c, reflect(y, h), reflect(x, w)]]
    })
}

/// Mirror index (no edge repeat) of `i` into `0..n`, as ONNX / PyTorch reflect padding.
fn reflect(i: usize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let m = i % period;
    if m < n { m } else { period - m }
}

/// The image layout a feed-forward network takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Nchw,
    /// Magenta's TensorFlow graphs.
    Nhwc,
}

/// Runs a fully convolutional style network on `[1, 3, H, W]` RGB (any non-empty size):
/// reflect-pads to [`PAD_MULTIPLE`] and to at least `min_side` (the smallest the network takes),
/// lets fixed declared dims take that size, runs with `extra` inputs after the image, checks that
/// the output has the padded input's shape, crops back to `H x W` and clamps to `0..=max`.
pub(crate) fn run_padded(
    model: &mut Model,
    rgb: &Array4<f32>,
    layout: Layout,
    extra: Vec<Tensor>,
    min_side: u32,
    what: &str,
    max: f32,
) -> Result<Array4<f32>> {
    let (_, _, h, w) = rgb.dim();
    if h == 0 || w == 0 {
        return Err(Error::ImageSize {
            width: w as u32,
            height: h as u32,
            reason: format!("{what} needs a non-empty image"),
        });
    }
    let padded = reflect_pad(rgb, PAD_MULTIPLE, min_side as usize);
    let padded = match layout {
        Layout::Nchw => padded,
        Layout::Nhwc => padded
            .permuted_axes([0, 2, 3, 1])
            .as_standard_layout()
            .into_owned(),
    };
    let shape = padded.shape().to_vec();
    let name = model.info().inputs[0].name.clone();
    model.accept_shapes(&[(&name, &shape)])?;
    let mut inputs = vec![Tensor::F32(padded.into_dyn())];
    inputs.extend(extra);
    let out = model
        .run(inputs)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::BadModel {
            path: model.path().to_path_buf(),
            reason: "no output".into(),
        })?
        .into_f32()
        .into_dimensionality::<Ix4>()
        .map_err(|e| Error::BadModel {
            path: model.path().to_path_buf(),
            reason: format!("output is not 4-D: {e}"),
        })?;
    if out.shape() != shape.as_slice() {
        return Err(Error::BadModel {
            path: model.path().to_path_buf(),
            reason: format!(
                "output shape {:?} is not the input's {shape:?}",
                out.shape()
            ),
        });
    }
    let out = match layout {
        Layout::Nchw => out,
        Layout::Nhwc => out.permuted_axes([0, 3, 1, 2]),
    };
    Ok(out.slice(s![.., .., ..h, ..w]).mapv(|v| v.clamp(0.0, max)))
}
