//! [`Upscaler`]: one loaded super-resolution model and the tiled upscale around it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use image::DynamicImage;
use ndarray::{Array3, Array4, Axis as NdAxis, s};
use prism_core::tensor::{Channels, Depth};
use prism_core::{
    Model, PixelLayout, Precision, SessionOptions, Tensor, ValueRange, tensor_to_image,
};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::tiling::{TileRequest, Tiles};

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

/// What the upscaler knows about its model.
#[derive(Debug, Clone)]
pub struct SrModelInfo {
    pub path: PathBuf,
    pub id: Option<String>,
    pub scale: usize,
    /// Input height and width must be multiples of this.
    pub pad_multiple: usize,
    pub value_range: ValueRange,
    /// Fixed input height/width, for graphs exported with a static shape.
    pub fixed_size: Option<(usize, usize)>,
    /// `true` when the scale and multiple came from a probe run, not metadata.
    pub probed: bool,
    pub architecture: Option<String>,
    /// Tile context that keeps tiled output within 1/255 of untiled output for this architecture.
    pub default_overlap: usize,
}

/// Progress of one upscale, reported after every run of tiles.
#[derive(Debug, Clone, Copy)]
pub struct TileProgress {
    pub tiles_done: usize,
    pub tiles_total: usize,
    /// Output pixels finished so far and in total (all passes).
    pub pixels_done: u64,
    pub pixels_total: u64,
}

/// Progress callback and cancellation flag for [`Upscaler::upscale_with`].
#[derive(Default)]
pub struct Control<'a> {
    pub progress: Option<&'a mut dyn FnMut(TileProgress)>,
    /// Checked between runs; set it to stop with [`Error::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

/// A loaded super-resolution model ready to upscale images.
pub struct Upscaler {
    model: Model,
    /// FP32 copy, loaded on first need, for tiles whose FP16 output is not finite.
    fp32: Option<Model>,
    info: SrModelInfo,
    options: UpscaleOptions,
    tiles: Tiles,
    tiles_per_run: usize,
    /// Time spent inside `Model::run`, and the number of runs, since loading.
    session_time: std::time::Duration,
    runs: usize,
}

impl std::fmt::Debug for Upscaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upscaler")
            .field("model", &self.info)
            .field("tiles", &self.tiles)
            .finish()
    }
}

impl Upscaler {
    /// Loads a model by manifest id or path.
    pub fn from_model(id_or_path: &str, options: UpscaleOptions) -> Result<Upscaler> {
        let path = prism_hub::resolve_model(id_or_path)?;
        Upscaler::new(&path, options)
    }

    /// Loads the model file at `path`. Scale and pad multiple come from its `prism.*` metadata,
    /// or, for a foreign file without it, from a probe run.
    pub fn new(path: &Path, options: UpscaleOptions) -> Result<Upscaler> {
        if let Some(overlap) = options.overlap.filter(|&o| o > 512) {
            return Err(Error::Option(format!("overlap {overlap} is too large")));
        }
        let mut model = Model::load(path, &options.session)?;
        let info = inspect(&mut model, path)?;
        let gpu = model.provider().is_gpu();
        let tiles = Tiles::plan(&TileRequest {
            tile: options.tile,
            context: options.overlap.map(|o| o as usize),
            needed: info.default_overlap,
            scale: info.scale,
            multiple: info.pad_multiple,
            fixed: info.fixed_size,
            gpu,
            budget_mib: options.memory_budget_mib,
        })
        .map_err(Error::Option)?;
        let tiles_per_run = options
            .tiles_per_run
            .unwrap_or(if gpu { 4 } else { 1 })
            .max(1);
        tracing::info!(
            model = %path.display(), scale = info.scale, pad = info.pad_multiple,
            tile = tiles.core, context = tiles.context, tiles_per_run, provider = %model.provider(), "upscaler ready"
        );
        Ok(Upscaler {
            model,
            fp32: None,
            info,
            options,
            tiles,
            tiles_per_run,
            session_time: std::time::Duration::ZERO,
            runs: 0,
        })
    }

    pub fn info(&self) -> &SrModelInfo {
        &self.info
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn options(&self) -> &UpscaleOptions {
        &self.options
    }

    /// Side of one model run in input pixels: the tile core plus context on both sides.
    pub fn tile_size(&self) -> usize {
        self.tiles.extent()
    }

    /// Tile core and context per side, in input pixels.
    pub fn tiles(&self) -> Tiles {
        self.tiles
    }

    /// Seconds spent in the model's session (all runs so far) and the number of runs: the rest of
    /// an upscale's time is Prism's own overhead (tiling, blending, conversion).
    pub fn session_stats(&self) -> (f64, usize) {
        (self.session_time.as_secs_f64(), self.runs)
    }

    /// Context per tile side in input pixels.
    pub fn overlap(&self) -> usize {
        self.tiles.context
    }

    /// Number of model passes and the final size for a `width` x `height` input.
    pub fn plan(&self, width: u32, height: u32) -> Result<(u32, (u32, u32))> {
        let s = self.info.scale as f64;
        let (w, h) = (f64::from(width), f64::from(height));
        let (tw, th) = match self.options.scale {
            OutputScale::Native => (w * s, h * s),
            OutputScale::Factor(f) if f > 0.0 && f.is_finite() => (w * f, h * f),
            OutputScale::Width(tw) if tw > 0 => (f64::from(tw), h * f64::from(tw) / w),
            OutputScale::Height(th) if th > 0 => (w * f64::from(th) / h, f64::from(th)),
            OutputScale::Size(tw, th) if tw > 0 && th > 0 => (f64::from(tw), f64::from(th)),
            other => return Err(Error::Option(format!("invalid output scale {other:?}"))),
        };
        let (tw, th) = (tw.round().max(1.0), th.round().max(1.0));
        if tw > f64::from(u32::MAX) || th > f64::from(u32::MAX) {
            return Err(Error::TooLarge {
                width,
                height,
                scale: tw / w,
                reason: "the output side exceeds 2^32 pixels".into(),
            });
        }
        let needed = (tw / w).max(th / h);
        let mut passes = 1u32;
        let mut reach = s;
        while reach * 1.001 < needed && passes < self.options.max_passes.max(1) && s > 1.0 {
            passes += 1;
            reach *= s;
        }
        Ok((passes, (tw as u32, th as u32)))
    }

    /// Upscales `image` (any layout: 8/16-bit, float, gray, gray+alpha, RGB, RGBA) into an image
    /// of the same layout.
    pub fn upscale(&mut self, image: &DynamicImage) -> Result<DynamicImage> {
        self.upscale_with(image, &mut Control::default())
    }

    /// [`Upscaler::upscale`] with a progress callback and cancellation.
    pub fn upscale_with(
        &mut self,
        image: &DynamicImage,
        control: &mut Control<'_>,
    ) -> Result<DynamicImage> {
        if image.width() == 0 || image.height() == 0 {
            return Err(Error::Option("the image is empty (0 pixels)".into()));
        }
        let (passes, (tw, th)) = self.plan(image.width(), image.height())?;
        let s = self.info.scale as u64;
        let mut pixels_total = 0;
        let (mut w, mut h) = (u64::from(image.width()), u64::from(image.height()));
        for _ in 0..passes {
            (w, h) = (w * s, h * s);
            pixels_total += w * h;
        }
        let mut tracker = Tracker {
            pixels_done: 0,
            pixels_total,
        };
        let mut current = self.pass(image, control, &mut tracker)?;
        for _ in 1..passes {
            current = self.pass(&current, control, &mut tracker)?;
        }
        if (current.width(), current.height()) != (tw, th) {
            current = prism_media::resize(&current, tw, th);
        }
        Ok(current)
    }

    /// One model pass over the whole image, tile by tile, strip by strip.
    fn pass(
        &mut self,
        image: &DynamicImage,
        control: &mut Control<'_>,
        tracker: &mut Tracker,
    ) -> Result<DynamicImage> {
        let scale = self.info.scale;
        let (w, h) = (image.width() as usize, image.height() as usize);
        let (ow, oh) = (w * scale, h * scale);
        let layout = PixelLayout::of(image);
        let too_large = |reason: &str| Error::TooLarge {
            width: image.width(),
            height: image.height(),
            scale: scale as f64,
            reason: reason.into(),
        };
        let (Ok(ow32), Ok(oh32)) = (u32::try_from(ow), u32::try_from(oh)) else {
            return Err(too_large("the output side exceeds 2^32 pixels"));
        };
        ow.checked_mul(oh)
            .and_then(|n| n.checked_mul(8 * 4))
            .ok_or_else(|| too_large("the output does not fit in memory"))?;
        let source = Source::of(image);
        let alpha = if source.alpha {
            match source.constant_alpha() {
                Some(a) => AlphaPlan::Constant(a),
                None => match self.options.alpha {
                    AlphaMode::Model => AlphaPlan::Model,
                    AlphaMode::Resample => {
                        AlphaPlan::Resampled(resample_alpha(&source, ow32, oh32))
                    }
                },
            }
        } else {
            AlphaPlan::None
        };
        let premultiply =
            self.options.premultiply && !matches!(alpha, AlphaPlan::None | AlphaPlan::Constant(_));
        let mut output = DynamicImage::new(ow32, oh32, output_color(layout));
        let (xs, ys) = self.tiles.axes(w, h);
        // A graph with a static shape takes only tiles of exactly that shape.
        if let Some((fh, fw)) = self.info.fixed_size
            && (xs.extent != fw || ys.extent != fh)
        {
            return Err(too_large(&format!(
                "the model takes fixed {fw}x{fh} inputs; the image is smaller"
            )));
        }
        let planes = if matches!(alpha, AlphaPlan::Model) {
            4
        } else {
            3
        };
        let mut strip = Strip::new(planes, ow, ys.extent * scale);
        let tiles_total = xs.starts.len() * ys.starts.len();
        let mut tiles_done = 0;
        for (j, &y0) in ys.starts.iter().enumerate() {
            let out_rows = (ys.extent * scale).min(oh - y0 * scale);
            let wy = ys.output_weights(j, scale, out_rows);
            // Work items of this row: (tile index, plane kind).
            let mut items: Vec<(usize, Kind)> = Vec::new();
            for i in 0..xs.starts.len() {
                items.push((i, Kind::Color { premultiply }));
                if matches!(alpha, AlphaPlan::Model) {
                    items.push((i, Kind::Alpha));
                }
            }
            for chunk in items.chunks(self.tiles_per_run) {
                if control.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                    return Err(Error::Cancelled);
                }
                let (tw, th) = (xs.extent, ys.extent);
                let mut batch = Array4::<f32>::zeros((chunk.len(), 3, th, tw));
                batch
                    .axis_iter_mut(NdAxis(0))
                    .into_par_iter()
                    .zip(chunk.par_iter())
                    .for_each(|(mut dst, &(i, kind))| {
                        source.fill(
                            xs.starts[i],
                            y0,
                            tw,
                            th,
                            kind,
                            dst.as_slice_mut().expect("contiguous"),
                        );
                    });
                let result = self.infer(batch, xs.starts[chunk[0].0], y0)?;
                for (k, &(i, kind)) in chunk.iter().enumerate() {
                    let x0 = xs.starts[i];
                    let out_cols = (xs.extent * scale).min(ow - x0 * scale);
                    let wx = xs.output_weights(i, scale, out_cols);
                    strip.add(
                        result.index_axis(NdAxis(0), k),
                        kind,
                        x0 * scale,
                        y0 * scale,
                        &wx,
                        &wy,
                    );
                    if matches!(kind, Kind::Color { .. }) {
                        tiles_done += 1;
                    }
                }
                let pixels = (tiles_done as u64 * ow as u64 * oh as u64) / tiles_total as u64;
                if let Some(progress) = control.progress.as_mut() {
                    progress(TileProgress {
                        tiles_done,
                        tiles_total,
                        pixels_done: tracker.pixels_done + pixels,
                        pixels_total: tracker.pixels_total,
                    });
                }
            }
            // Rows above the next tile row get nothing more: finish them.
            let done_to = ys.starts.get(j + 1).map_or(oh, |&next| next * scale);
            strip.flush(done_to, &alpha, premultiply, layout, &mut output)?;
        }
        tracker.pixels_done += ow as u64 * oh as u64;
        Ok(output)
    }

    /// Runs one batch through the model (with TTA if asked); non-finite FP16 output is rerun in FP32.
    fn infer(&mut self, batch: Array4<f32>, x: usize, y: usize) -> Result<Array4<f32>> {
        let result = self.run_model(false, &batch)?;
        if result.iter().all(|v| v.is_finite()) {
            return Ok(result);
        }
        if self.model.load_report().precision != Precision::Fp32 {
            tracing::warn!(x, y, "FP16 output has NaN/Inf; rerunning this tile in FP32");
            if self.fp32.is_none() {
                let options = SessionOptions {
                    precision: Precision::Fp32,
                    ..self.options.session.clone()
                };
                self.fp32 = Some(Model::load(&self.info.path, &options)?);
            }
            let result = self.run_model(true, &batch)?;
            if result.iter().all(|v| v.is_finite()) {
                return Ok(result);
            }
        }
        Err(Error::NonFinite {
            path: self.info.path.clone(),
            x,
            y,
        })
    }

    fn run_model(&mut self, fp32: bool, batch: &Array4<f32>) -> Result<Array4<f32>> {
        let transforms: &[(bool, bool, bool)] = if self.options.tta {
            &[
                (false, false, false),
                (false, true, false),
                (false, false, true),
                (false, true, true),
                (true, false, false),
                (true, true, false),
                (true, false, true),
                (true, true, true),
            ]
        } else {
            &[(false, false, false)]
        };
        let mut sum: Option<Array4<f32>> = None;
        for &(transpose, flip_x, flip_y) in transforms {
            let input = dihedral(batch, transpose, flip_x, flip_y, false);
            let output = self.run_once(fp32, input)?;
            let mut output = dihedral(&output, transpose, flip_x, flip_y, true);
            if transforms.len() > 1 {
                // The average of what each view would give on its own (outputs are clamped).
                output.mapv_inplace(|v| v.clamp(0.0, 1.0));
            }
            match sum.as_mut() {
                Some(total) => *total += &output,
                None => sum = Some(output),
            }
        }
        let mut out = sum.expect("at least one transform");
        if transforms.len() > 1 {
            out /= transforms.len() as f32;
        }
        Ok(out)
    }

    fn run_once(&mut self, fp32: bool, mut input: Array4<f32>) -> Result<Array4<f32>> {
        let byte = self.info.value_range == ValueRange::Byte;
        if byte {
            input *= 255.0;
        }
        let expected = (
            input.dim().2 * self.info.scale,
            input.dim().3 * self.info.scale,
        );
        let model = if fp32 {
            self.fp32.as_mut().expect("loaded")
        } else {
            &mut self.model
        };
        let started = std::time::Instant::now();
        let outputs = model.run(vec![Tensor::F32(input.into_dyn())])?;
        self.session_time += started.elapsed();
        self.runs += 1;
        let out = outputs
            .into_iter()
            .next()
            .ok_or_else(|| Error::NotSuperResolution {
                path: self.info.path.clone(),
                reason: "the model has no output".into(),
            })?;
        let out = out.into_f32();
        let shape = out.shape().to_vec();
        let mut out =
            out.into_dimensionality::<ndarray::Ix4>()
                .map_err(|_| Error::NotSuperResolution {
                    path: self.info.path.clone(),
                    reason: format!("output shape {shape:?} is not [N, 3, H, W]"),
                })?;
        if out.dim().1 != 3 || (out.dim().2, out.dim().3) != expected {
            return Err(Error::NotSuperResolution {
                path: self.info.path.clone(),
                reason: format!(
                    "output shape {shape:?}, expected [N, 3, {}, {}]",
                    expected.0, expected.1
                ),
            });
        }
        if byte {
            out /= 255.0;
        }
        Ok(out)
    }
}

struct Tracker {
    pixels_done: u64,
    pixels_total: u64,
}

/// A dihedral transform of NCHW tiles (`inverse` undoes it).
fn dihedral(
    x: &Array4<f32>,
    transpose: bool,
    flip_x: bool,
    flip_y: bool,
    inverse: bool,
) -> Array4<f32> {
    if !transpose && !flip_x && !flip_y {
        return x.clone();
    }
    let mut view = x.view();
    if inverse {
        if flip_x {
            view.invert_axis(NdAxis(3));
        }
        if flip_y {
            view.invert_axis(NdAxis(2));
        }
        if transpose {
            view = view.permuted_axes([0, 1, 3, 2]);
        }
    } else {
        if transpose {
            view = view.permuted_axes([0, 1, 3, 2]);
        }
        if flip_x {
            view.invert_axis(NdAxis(3));
        }
        if flip_y {
            view.invert_axis(NdAxis(2));
        }
    }
    view.as_standard_layout().into_owned()
}

/// Scale, multiple and value range from metadata, or from a probe run.
fn inspect(model: &mut Model, path: &Path) -> Result<SrModelInfo> {
    let info = model.info().clone();
    let not_sr = |reason: String| Error::NotSuperResolution {
        path: path.to_path_buf(),
        reason,
    };
    if info.inputs.len() != 1 {
        return Err(not_sr(format!(
            "it has {} inputs; an upscaler takes one image",
            info.inputs.len()
        )));
    }
    if let Some(task) = info.metadata.get("prism.task")
        && task != "upscale"
    {
        return Err(not_sr(format!("its prism.task is `{task}`")));
    }
    let fixed_size = info.inputs[0]
        .shape
        .as_ref()
        .and_then(|dims| match dims.as_slice() {
            [
                _,
                _,
                prism_core::onnx::Dim::Fixed(h),
                prism_core::onnx::Dim::Fixed(w),
            ] if *h > 0 && *w > 0 => Some((*h as usize, *w as usize)),
            _ => None,
        });
    let value_range = info
        .metadata
        .get("prism.value_range")
        .and_then(|v| ValueRange::from_metadata(v))
        .unwrap_or(ValueRange::Unit);
    let id = info.metadata.get("prism.model_id").cloned();
    let architecture = info.metadata.get("prism.architecture").cloned();
    // Receptive fields: SRVGGNetCompact has ~18 convolutions at input resolution; RRDBNet's 23
    // dense blocks reach much further (measured: 48 px of context still leaves 2/255 at seams).
    let default_overlap = match architecture.as_deref() {
        Some("SRVGGNetCompact") => 16,
        Some("RRDBNet") => 64,
        _ => 32,
    };
    // Bounded: a foreign file's metadata must not ask for absurd scales or paddings.
    let meta_scale = info.metadata_int_in("prism.scale", 1..=16)?;
    let meta_pad = info.metadata_int_in("prism.pad_multiple", 1..=1024)?;
    if let Some(scale) = meta_scale {
        return Ok(SrModelInfo {
            path: path.to_path_buf(),
            id,
            scale: scale as usize,
            pad_multiple: meta_pad.unwrap_or(1) as usize,
            value_range,
            fixed_size,
            probed: false,
            architecture,
            default_overlap,
        });
    }
    // Foreign file: find the multiple and the scale by running small inputs.
    let candidates: Vec<usize> = match fixed_size {
        Some((h, _)) => vec![h],
        None => vec![33, 34, 36, 40, 48, 64],
    };
    let mut last_error = String::new();
    for size in candidates {
        let (h, w) = fixed_size.unwrap_or((size, size));
        let probe = Array4::<f32>::from_elem((1, 3, h, w), 0.5);
        match model.run(vec![Tensor::F32(probe.into_dyn())]) {
            Ok(out) => {
                let shape = out.first().map(|t| t.shape().to_vec()).unwrap_or_default();
                let [_, 3, oh, ow] = shape.as_slice() else {
                    return Err(not_sr(format!(
                        "probe output shape {shape:?} is not [N, 3, H, W]"
                    )));
                };
                if oh % h != 0 || ow % w != 0 || oh / h != ow / w || *oh < h {
                    return Err(not_sr(format!(
                        "probe output {oh}x{ow} for input {h}x{w} is not an integer upscale"
                    )));
                }
                let pad_multiple = if fixed_size.is_some() { 1 } else { size - 32 };
                let pad_multiple = if size == 33 { 1 } else { pad_multiple.max(1) };
                tracing::info!(
                    scale = oh / h,
                    pad_multiple,
                    "probed a model without prism metadata"
                );
                return Ok(SrModelInfo {
                    path: path.to_path_buf(),
                    id,
                    scale: oh / h,
                    pad_multiple,
                    value_range,
                    fixed_size,
                    probed: true,
                    architecture,
                    default_overlap,
                });
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(not_sr(format!("probe runs failed: {last_error}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Color {
        premultiply: bool,
    },
    /// The alpha plane, replicated to three channels.
    Alpha,
}

enum AlphaPlan {
    None,
    Constant(f32),
    Model,
    /// Output-size alpha, Lanczos-resampled (16-bit).
    Resampled(image::ImageBuffer<image::Luma<u16>, Vec<u16>>),
}

fn output_color(layout: PixelLayout) -> image::ColorType {
    use image::ColorType as C;
    match (layout.channels, layout.depth) {
        (Channels::Gray, Depth::U8) => C::L8,
        (Channels::GrayAlpha, Depth::U8) => C::La8,
        (Channels::Rgb, Depth::U8) => C::Rgb8,
        (Channels::Rgba, Depth::U8) => C::Rgba8,
        (Channels::Gray, Depth::U16) => C::L16,
        (Channels::GrayAlpha, Depth::U16) => C::La16,
        (Channels::Rgb, Depth::U16) => C::Rgb16,
        (Channels::Rgba, Depth::U16) => C::Rgba16,
        (Channels::Gray | Channels::Rgb, Depth::F32) => C::Rgb32F,
        (Channels::GrayAlpha | Channels::Rgba, Depth::F32) => C::Rgba32F,
    }
}

/// Raw samples of a decoded image.
enum Samples<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    F32(&'a [f32]),
    /// Layouts outside the bridge's set, converted once.
    Owned(Vec<f32>),
}

struct Source<'a> {
    samples: Samples<'a>,
    channels: usize,
    width: usize,
    height: usize,
    gray: bool,
    alpha: bool,
}

impl<'a> Source<'a> {
    fn of(image: &'a DynamicImage) -> Source<'a> {
        use DynamicImage::*;
        let (samples, channels) = match image {
            ImageLuma8(b) => (Samples::U8(b.as_raw()), 1),
            ImageLumaA8(b) => (Samples::U8(b.as_raw()), 2),
            ImageRgb8(b) => (Samples::U8(b.as_raw()), 3),
            ImageRgba8(b) => (Samples::U8(b.as_raw()), 4),
            ImageLuma16(b) => (Samples::U16(b.as_raw()), 1),
            ImageLumaA16(b) => (Samples::U16(b.as_raw()), 2),
            ImageRgb16(b) => (Samples::U16(b.as_raw()), 3),
            ImageRgba16(b) => (Samples::U16(b.as_raw()), 4),
            ImageRgb32F(b) => (Samples::F32(b.as_raw()), 3),
            ImageRgba32F(b) => (Samples::F32(b.as_raw()), 4),
            other => (Samples::Owned(other.to_rgba32f().into_raw()), 4),
        };
        Source {
            samples,
            channels,
            width: image.width() as usize,
            height: image.height() as usize,
            gray: channels <= 2,
            alpha: channels == 2 || channels == 4,
        }
    }

    fn sample(&self, index: usize) -> f32 {
        match &self.samples {
            Samples::U8(d) => f32::from(d[index]) / 255.0,
            Samples::U16(d) => f32::from(d[index]) / 65535.0,
            Samples::F32(d) => d[index],
            Samples::Owned(d) => d[index],
        }
    }

    /// The alpha value when every pixel has the same one.
    fn constant_alpha(&self) -> Option<f32> {
        let c = self.channels;
        let n = self.width * self.height;
        let first = self.sample(c - 1);
        let all_same = (0..n)
            .into_par_iter()
            .all(|i| self.sample(i * c + c - 1) == first);
        all_same.then_some(first)
    }

    /// Fills `[3, th, tw]` planes with the tile at (`x0`, `y0`), reflecting past the borders.
    fn fill(&self, x0: usize, y0: usize, tw: usize, th: usize, kind: Kind, out: &mut [f32]) {
        let plane = tw * th;
        let c = self.channels;
        let cols: Vec<usize> = (0..tw).map(|x| reflect(x0 + x, self.width)).collect();
        for y in 0..th {
            let row = reflect(y0 + y, self.height) * self.width;
            for (x, &col) in cols.iter().enumerate() {
                let base = (row + col) * c;
                let a = if self.alpha {
                    self.sample(base + c - 1)
                } else {
                    1.0
                };
                let (r, g, b) = match kind {
                    Kind::Alpha => (a, a, a),
                    Kind::Color { premultiply } => {
                        let (r, g, b) = if self.gray {
                            let v = self.sample(base);
                            (v, v, v)
                        } else {
                            (
                                self.sample(base),
                                self.sample(base + 1),
                                self.sample(base + 2),
                            )
                        };
                        if premultiply {
                            (r * a, g * a, b * a)
                        } else {
                            (r, g, b)
                        }
                    }
                };
                let i = y * tw + x;
                out[i] = r;
                out[plane + i] = g;
                out[2 * plane + i] = b;
            }
        }
    }
}

/// Mirror index (no edge repeat, like `torch.nn.functional.pad(mode="reflect")`), for any overshoot.
fn reflect(i: usize, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let k = i % period;
    if k < n { k } else { period - k }
}

fn resample_alpha(
    source: &Source<'_>,
    width: u32,
    height: u32,
) -> image::ImageBuffer<image::Luma<u16>, Vec<u16>> {
    let c = source.channels;
    let data: Vec<u16> = (0..source.width * source.height)
        .map(|i| (source.sample(i * c + c - 1).clamp(0.0, 1.0) * 65535.0).round() as u16)
        .collect();
    let plane = image::ImageBuffer::from_raw(source.width as u32, source.height as u32, data)
        .expect("sized");
    match prism_media::resize(&DynamicImage::ImageLuma16(plane), width, height) {
        DynamicImage::ImageLuma16(b) => b,
        other => other.to_luma16(),
    }
}

/// FP32 accumulator for the output rows that tiles still contribute to.
struct Strip {
    planes: usize,
    width: usize,
    rows: usize,
    /// Output row held in the strip's first row.
    y0: usize,
    data: Vec<f32>,
}

impl Strip {
    fn new(planes: usize, width: usize, rows: usize) -> Strip {
        Strip {
            planes,
            width,
            rows,
            y0: 0,
            data: vec![0.0; planes * width * rows],
        }
    }

    /// Adds a weighted tile output (`[3, h, w]`, placed at output `ox`, `oy`).
    fn add(
        &mut self,
        tile: ndarray::ArrayView3<f32>,
        kind: Kind,
        ox: usize,
        oy: usize,
        wx: &[f32],
        wy: &[f32],
    ) {
        let (width, rows, y0) = (self.width, self.rows, self.y0);
        let plane_len = width * rows;
        let row_offset = oy - y0;
        let cols = wx.len();
        let target_planes: &[usize] = match kind {
            Kind::Color { .. } => &[0, 1, 2],
            Kind::Alpha => &[3],
        };
        for (pi, &p) in target_planes.iter().enumerate() {
            let plane = &mut self.data[p * plane_len..(p + 1) * plane_len];
            plane
                .par_chunks_mut(width)
                .skip(row_offset)
                .take(wy.len())
                .enumerate()
                .for_each(|(y, row)| {
                    let weight_y = wy[y];
                    if weight_y == 0.0 {
                        return;
                    }
                    let dst = &mut row[ox..ox + cols];
                    match kind {
                        Kind::Color { .. } => {
                            let src = tile.slice(s![pi, y, ..cols]);
                            for ((d, &v), &wxv) in dst.iter_mut().zip(src.iter()).zip(wx) {
                                *d += v.clamp(0.0, 1.0) * wxv * weight_y;
                            }
                        }
                        Kind::Alpha => {
                            for (x, (d, &wxv)) in dst.iter_mut().zip(wx).enumerate() {
                                let v = (tile[[0, y, x]] + tile[[1, y, x]] + tile[[2, y, x]]) / 3.0;
                                *d += v.clamp(0.0, 1.0) * wxv * weight_y;
                            }
                        }
                    }
                });
        }
    }

    /// Converts output rows `[y0, until)` into `output`'s layout, then shifts the strip up.
    fn flush(
        &mut self,
        until: usize,
        alpha: &AlphaPlan,
        premultiplied: bool,
        layout: PixelLayout,
        output: &mut DynamicImage,
    ) -> prism_core::Result<()> {
        let n = until - self.y0;
        if n == 0 {
            return Ok(());
        }
        let (width, rows) = (self.width, self.rows);
        let plane_len = width * rows;
        let mut color = Array3::<f32>::zeros((3, n, width));
        for p in 0..3 {
            color
                .index_axis_mut(NdAxis(0), p)
                .as_slice_mut()
                .expect("contiguous")
                .copy_from_slice(&self.data[p * plane_len..p * plane_len + n * width]);
        }
        let alpha_plane = match alpha {
            AlphaPlan::None => None,
            AlphaPlan::Constant(a) => Some(ndarray::Array2::from_elem((n, width), *a)),
            AlphaPlan::Model => Some(
                ndarray::Array2::from_shape_vec(
                    (n, width),
                    self.data[3 * plane_len..3 * plane_len + n * width].to_vec(),
                )
                .expect("sized"),
            ),
            AlphaPlan::Resampled(buffer) => {
                let start = self.y0 * width;
                let values = buffer.as_raw()[start..start + n * width]
                    .iter()
                    .map(|&v| f32::from(v) / 65535.0)
                    .collect();
                Some(ndarray::Array2::from_shape_vec((n, width), values).expect("sized"))
            }
        };
        if premultiplied && let Some(a) = &alpha_plane {
            for mut plane in color.outer_iter_mut() {
                ndarray::Zip::from(&mut plane).and(a).par_for_each(|c, &a| {
                    *c = if a > 1.0 / 65535.0 {
                        (*c / a).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                });
            }
        }
        let part = tensor_to_image(
            color.view(),
            alpha_plane.as_ref().map(|a| a.view()),
            layout,
            ValueRange::Unit,
        )?;
        paste_rows(output, &part, self.y0);
        // Shift the remaining rows up and clear the freed ones.
        for p in 0..self.planes {
            let plane = &mut self.data[p * plane_len..(p + 1) * plane_len];
            plane.copy_within(n * width.., 0);
            let keep = plane_len - n * width;
            plane[keep..].fill(0.0);
        }
        self.y0 = until;
        Ok(())
    }
}

/// Copies `part` (full width, same layout) into `output` starting at row `y`.
fn paste_rows(output: &mut DynamicImage, part: &DynamicImage, y: usize) {
    macro_rules! paste {
        ($($variant:ident),*) => {
            match (output, part) {
                $((DynamicImage::$variant(dst), DynamicImage::$variant(src)) => {
                    let row = src.as_raw().len() / (src.height().max(1) as usize);
                    let start = y * row;
                    let raw: &mut [_] = &mut *dst;
                    raw[start..start + src.as_raw().len()].copy_from_slice(src.as_raw());
                })*
                _ => unreachable!("strip and output share a layout"),
            }
        };
    }
    paste!(
        ImageLuma8,
        ImageLumaA8,
        ImageRgb8,
        ImageRgba8,
        ImageLuma16,
        ImageLumaA16,
        ImageRgb16,
        ImageRgba16,
        ImageRgb32F,
        ImageRgba32F
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_torch() {
        // torch reflect pad of [0,1,2,3]: ... 2 1 | 0 1 2 3 | 2 1 0 1 ...
        let got: Vec<usize> = (0..10).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]);
        assert_eq!(reflect(5, 1), 0);
    }

    #[test]
    fn dihedral_round_trips() {
        let x = Array4::from_shape_fn((2, 3, 4, 5), |(a, b, c, d)| {
            (a * 1000 + b * 100 + c * 10 + d) as f32
        });
        for t in [false, true] {
            for fx in [false, true] {
                for fy in [false, true] {
                    let y = dihedral(&x, t, fx, fy, false);
                    assert_eq!(dihedral(&y, t, fx, fy, true), x);
                }
            }
        }
    }
}
