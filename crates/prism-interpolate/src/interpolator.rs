//! [`Interpolator`]: one RIFE or FILM model, frames in, intermediate frames (and flow) out.
//!
//! The network sees frames zero-padded on the right and bottom to the model's pad multiple
//! (`prism.pad_multiple`) and its results are cropped back, exactly as the official RIFE inference
//! scripts do. Models with a time input (`prism.timestep = any`) are asked for `t` directly, unless
//! they (FILM, `prism.timestep_mode = bisect`) or the options ask for bisection; models that only
//! make the middle frame (`prism.timestep = 0.5`, RIFE HD v3) reach other dyadic timesteps by
//! recursive bisection, as ECCV2022-RIFE's `inference_img.py --exp` does.

mod bisect;
mod contract;
mod ensemble;
mod frames;
mod memory;
mod options;
mod precision;
mod timestep;

use std::path::{Path, PathBuf};

use image::DynamicImage;
use prism_core::{ImageTensor, Model, ValueRange, image_to_tensor_padded};

pub use contract::TimestepSupport;
pub use frames::{Interpolated, Prepared, pad};
pub use options::{InterpolatorOptions, TimestepMode};
pub use timestep::dyadic;

use crate::error::{Error, Result};
use contract::{Contract, TimeInput};
pub(crate) use frames::check_same_size;
use frames::finish;
use memory::MemoryModel;

/// A RIFE or FILM model ready to interpolate.
pub struct Interpolator {
    model: Model,
    path: PathBuf,
    options: InterpolatorOptions,
    pad_multiple: usize,
    /// How timesteps are reached: `Any` one run each, `HalfOnly` by bisection.
    support: TimestepSupport,
    time_input: TimeInput,
    memory: Option<MemoryModel>,
    /// Test hook: pretend every FP16 run produced a NaN, to exercise the FP32 rerun.
    #[cfg(test)]
    pub(crate) poison_fp16: bool,
}

impl std::fmt::Debug for Interpolator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interpolator")
            .field("path", &self.path)
            .field("support", &self.support)
            .field("pad_multiple", &self.pad_multiple)
            .finish()
    }
}

impl Interpolator {
    /// Loads a model exported by `prism_export` (inputs `img0, img1[, timestep | dt]`, outputs
    /// `frame, flow`) and reads its contract from the metadata.
    pub fn new(path: &Path, options: InterpolatorOptions) -> Result<Interpolator> {
        let model = Model::load(path, &options.session)?;
        let Contract {
            time_input,
            support,
            default_mode,
            pad_multiple,
            memory,
        } = contract::read(&model, path)?;
        let support = match (options.timestep_mode.or(default_mode), support) {
            (Some(TimestepMode::Direct), TimestepSupport::HalfOnly) => {
                return Err(Error::Timestep {
                    t: 0.5,
                    reason: format!(
                        "{} only makes the middle frame, so other timesteps need bisection, not direct runs",
                        path.display()
                    ),
                });
            }
            (Some(TimestepMode::Bisect), _) => TimestepSupport::HalfOnly,
            (Some(TimestepMode::Direct), _) => TimestepSupport::Any,
            (None, support) => support,
        };
        Ok(Interpolator {
            model,
            path: path.to_path_buf(),
            options,
            pad_multiple,
            support,
            time_input,
            memory,
            #[cfg(test)]
            poison_fp16: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How this interpolator reaches timesteps: `Any` (one run at `t`) or `HalfOnly` (by
    /// bisection: t = 0.5-only models, and FILM or any model run in [`TimestepMode::Bisect`]).
    pub fn support(&self) -> TimestepSupport {
        self.support
    }

    pub fn pad_multiple(&self) -> usize {
        self.pad_multiple
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// How many runs were redone in FP32 because FP16 produced NaN or Inf.
    pub fn fp32_reruns(&self) -> usize {
        self.model.fp32_reruns()
    }

    /// Converts and pads a frame for the network (one pass).
    pub fn prepare(&self, image: &DynamicImage) -> Result<Prepared> {
        let (w, h) = (image.width() as usize, image.height() as usize);
        if h == 0 || w == 0 {
            return Err(Error::Input("an empty (0-pixel) frame".into()));
        }
        let ImageTensor {
            color,
            alpha,
            layout,
        } = image_to_tensor_padded(image, ValueRange::Unit, self.pad_multiple);
        Ok(Prepared {
            padded: color,
            height: h,
            width: w,
            alpha,
            layout,
        })
    }

    /// The frame at `t` in (0, 1) between `a` and `b`.
    pub fn interpolate(
        &mut self,
        a: &DynamicImage,
        b: &DynamicImage,
        t: f64,
    ) -> Result<DynamicImage> {
        let (a, b) = self.prepare_pair(a, b)?;
        Ok(self.interpolate_prepared(&a, &b, &[t])?.remove(0).image)
    }

    /// `n` evenly spaced frames between `a` and `b` (at `1/(n+1)`, `2/(n+1)`, ...).
    pub fn frames_between(
        &mut self,
        a: &DynamicImage,
        b: &DynamicImage,
        n: usize,
    ) -> Result<Vec<Interpolated>> {
        let ts: Vec<f64> = (1..=n).map(|i| i as f64 / (n + 1) as f64).collect();
        let (a, b) = self.prepare_pair(a, b)?;
        self.interpolate_prepared(&a, &b, &ts)
    }

    /// Frames at each of `ts` between `a` and `b`.
    pub fn interpolate_many(
        &mut self,
        a: &DynamicImage,
        b: &DynamicImage,
        ts: &[f64],
    ) -> Result<Vec<Interpolated>> {
        let (a, b) = self.prepare_pair(a, b)?;
        self.interpolate_prepared(&a, &b, ts)
    }

    fn prepare_pair(&self, a: &DynamicImage, b: &DynamicImage) -> Result<(Prepared, Prepared)> {
        check_same_size(a, b, "the first frame", "the second frame")?;
        Ok((self.prepare(a)?, self.prepare(b)?))
    }

    /// Frames at each of `ts` between two prepared frames of the same size.
    pub fn interpolate_prepared(
        &mut self,
        a: &Prepared,
        b: &Prepared,
        ts: &[f64],
    ) -> Result<Vec<Interpolated>> {
        if (a.height, a.width) != (b.height, b.width) {
            return Err(Error::FrameSize {
                first: "the first frame".into(),
                second: "the second frame".into(),
                a_w: a.width as u32,
                a_h: a.height as u32,
                b_w: b.width as u32,
                b_h: b.height as u32,
            });
        }
        let reached: Vec<f64> = ts
            .iter()
            .map(|&t| self.reachable(t))
            .collect::<Result<_>>()?;
        let batch = (1 + usize::from(self.options.ensemble)) * (1 + usize::from(self.options.tta));
        self.check_memory(a.height, a.width, batch)?;
        let raws = match self.support {
            TimestepSupport::Any => reached
                .iter()
                .map(|&t| self.infer(&a.padded, &b.padded, t as f32, a.height, a.width))
                .collect::<Result<Vec<_>>>()?,
            TimestepSupport::HalfOnly => self.bisect(a, b, &reached)?,
        };
        reached
            .iter()
            .zip(raws)
            .map(|(&t, raw)| finish(a, b, t, raw))
            .collect()
    }
}
