//! [`Upscaler`]: one loaded super-resolution model and the tiled upscale around it (the pass loop).

mod contract;
mod options;
mod precision;
mod source;
mod strip;
mod tta;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use image::DynamicImage;
use ndarray::{Array4, Axis as NdAxis};
use prism_core::{Model, PixelLayout, Tensor, ValueRange};
use rayon::prelude::*;

pub use contract::SrModelInfo;
pub use options::{AlphaMode, OutputScale, TileSize, UpscaleOptions};

use crate::error::{Error, Result};
use crate::tiling::{TileRequest, Tiles};
use contract::inspect;
use source::{AlphaPlan, Kind, Source, resample_alpha};
use strip::{Strip, output_color};

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
    /// Loads a model by id or path ([`prism_hub::resolve_model`]; `hub` feature).
    #[cfg(feature = "hub")]
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
            architecture: info.architecture.as_deref(),
        })
        .map_err(Error::Option)?;
        let tiles_per_run = options
            .tiles_per_run
            .unwrap_or(if gpu { 4 } else { 1 })
            .max(1);
        if tiles.fixed.is_none()
            && let Some(input) = model.info().inputs.first()
        {
            // Every run of this upscaler fits this range: one TensorRT engine serves them all.
            let (m, e) = (tiles.multiple.max(1), tiles.extent());
            let profile = prism_core::session::ShapeProfile {
                inputs: vec![prism_core::session::ProfileInput {
                    name: input.name.clone(),
                    min: vec![1, 3, m, m],
                    opt: vec![tiles_per_run, 3, e, e],
                    max: vec![tiles_per_run, 3, e, e],
                }],
            };
            model.set_shape_profile(profile)?;
        }
        tracing::info!(
            model = %path.display(), scale = info.scale, pad = info.pad_multiple,
            tile = tiles.core, context = tiles.context, tiles_per_run, provider = %model.provider(), "upscaler ready"
        );
        Ok(Upscaler {
            model,
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
        let plan = crate::tiling::Plan::of(&xs, &ys, w, h);
        tracing::info!(
            "tile plan for {w}x{h}: {}x{} runs of {}x{} px, computing {:.2}x the image's pixels",
            plan.runs_x,
            plan.runs_y,
            plan.run_width,
            plan.run_height,
            plan.overhead
        );
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

    fn run_once(&mut self, mut input: Array4<f32>) -> Result<Array4<f32>> {
        let byte = self.info.value_range == ValueRange::Byte;
        if byte {
            input *= 255.0;
        }
        let expected = (
            input.dim().2 * self.info.scale,
            input.dim().3 * self.info.scale,
        );
        let started = std::time::Instant::now();
        // An FP16 run with NaN or Inf is redone by the model's FP32 twin.
        let outputs = self
            .model
            .run_checked(vec![Tensor::F32(input.into_dyn())])?;
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
