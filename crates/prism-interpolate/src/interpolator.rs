//! [`Interpolator`]: one RIFE model, frames in, intermediate frames (and flow) out.
//!
//! The network sees frames zero-padded on the right and bottom to the model's pad multiple
//! (`prism.pad_multiple`) and its results are cropped back, exactly as the official RIFE inference
//! scripts do. Models with a timestep input (`prism.timestep = any`) are asked for `t` directly;
//! models that only make the middle frame (`prism.timestep = 0.5`, RIFE HD v3) reach other dyadic
//! timesteps by recursive bisection, as ECCV2022-RIFE's `inference_img.py --exp` does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use image::DynamicImage;
use ndarray::{Array2, Array4, ArrayView4, s};
use prism_core::{
    ImageTensor, Model, PixelLayout, Precision, SessionOptions, Tensor, ValueRange,
    image_to_tensor, tensor_to_image,
};

use crate::error::{Error, Result};
use crate::flow::Flow;

/// How an [`Interpolator`] runs its model.
#[derive(Debug, Clone)]
pub struct InterpolatorOptions {
    pub session: SessionOptions,
    /// Also run the swapped pair at `1 - t` and average (flows swapped back).
    pub ensemble: bool,
    /// Test-time augmentation: also run the horizontally mirrored pair and average.
    pub tta: bool,
    /// For t = 0.5-only models: accept the nearest reachable timestep (with a warning) instead of
    /// failing on one bisection cannot reach.
    pub nearest_timestep: bool,
    /// Deepest bisection for t = 0.5-only models: timesteps are multiples of `1 / 2^max_depth`.
    pub max_depth: u32,
    /// Rerun in FP32 (with a warning) when an FP16 session produces NaN or Inf.
    pub fp32_fallback: bool,
}

impl Default for InterpolatorOptions {
    fn default() -> Self {
        Self {
            session: SessionOptions::default(),
            ensemble: false,
            tta: false,
            nearest_timestep: false,
            max_depth: 6,
            fp32_fallback: true,
        }
    }
}

/// Which timesteps a model can produce in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestepSupport {
    /// Any `t` in (0, 1): the graph has a `timestep` input.
    Any,
    /// Only the middle frame; others by bisection.
    HalfOnly,
}

/// A frame converted for the network once, so each frame of a sequence is prepared only once
/// although it takes part in two pairs.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// `[1, 3, Hp, Wp]`, 0..1, zero-padded to the pad multiple.
    pub(crate) padded: Array4<f32>,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) alpha: Option<Array2<f32>>,
    pub(crate) layout: PixelLayout,
}

impl Prepared {
    pub fn width(&self) -> u32 {
        self.width as u32
    }

    pub fn height(&self) -> u32 {
        self.height as u32
    }

    /// The padded `[1, 3, Hp, Wp]` planes the network sees.
    pub fn padded(&self) -> &Array4<f32> {
        &self.padded
    }

    /// The frame as an image again (exact for 8 and 16-bit frames).
    pub fn to_image(&self) -> Result<DynamicImage> {
        let color = self.padded.slice(s![0, .., ..self.height, ..self.width]);
        Ok(tensor_to_image(
            color,
            self.alpha.as_ref().map(|a| a.view()),
            self.layout,
            ValueRange::Unit,
        )?)
    }
}

/// One intermediate frame with the flow the network estimated for it.
#[derive(Debug, Clone)]
pub struct Interpolated {
    /// The timestep really produced (differs from the one asked for only with `nearest_timestep`).
    pub t: f64,
    pub image: DynamicImage,
    /// Flow from this frame to the frames the network was given (the pair itself, or for bisected
    /// timesteps the two bracketing frames).
    pub flow: Flow,
}

/// A padded network result: frame `[1,3,Hp,Wp]` and flow `[1,4,Hp,Wp]`.
#[derive(Debug, Clone)]
struct Raw {
    frame: Array4<f32>,
    flow: Array4<f32>,
}

/// A RIFE model ready to interpolate.
pub struct Interpolator {
    model: Model,
    /// The FP32 session, loaded the first time an FP16 run produces NaN or Inf.
    fp32: Option<Model>,
    path: PathBuf,
    options: InterpolatorOptions,
    pad_multiple: usize,
    support: TimestepSupport,
    has_timestep_input: bool,
    fp32_reruns: usize,
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
    /// Loads a RIFE model exported by `prism_export` (inputs `img0, img1[, timestep]`, outputs
    /// `frame, flow`) and reads its contract from the metadata.
    pub fn new(path: &Path, options: InterpolatorOptions) -> Result<Interpolator> {
        let model = Model::load(path, &options.session)?;
        let info = model.info();
        let bad = |reason: String| Error::NotInterpolationModel {
            path: path.to_path_buf(),
            reason,
        };
        let task = info.metadata.get("prism.task").map(String::as_str);
        if task.is_some_and(|t| t != "interpolate") {
            return Err(bad(format!("its prism.task is `{}`", task.unwrap_or(""))));
        }
        let names: Vec<&str> = info.inputs.iter().map(|i| i.name.as_str()).collect();
        let has_timestep_input = match names.as_slice() {
            ["img0", "img1", "timestep"] => true,
            ["img0", "img1"] => false,
            other => {
                return Err(bad(format!(
                    "inputs are {other:?}, expected img0, img1 and optionally timestep"
                )));
            }
        };
        if info.outputs.len() != 2 {
            return Err(bad(format!(
                "{} outputs, expected frame and flow",
                info.outputs.len()
            )));
        }
        let support = match info.metadata.get("prism.timestep").map(String::as_str) {
            Some("any") => TimestepSupport::Any,
            Some("0.5") => TimestepSupport::HalfOnly,
            Some(other) => return Err(bad(format!("unknown prism.timestep `{other}`"))),
            None if has_timestep_input => TimestepSupport::Any,
            None => TimestepSupport::HalfOnly,
        };
        let pad_multiple = info
            .metadata_int_in("prism.pad_multiple", 1..=1024)?
            .unwrap_or(32) as usize;
        if let Some(range) = info.metadata.get("prism.value_range")
            && ValueRange::from_metadata(range) != Some(ValueRange::Unit)
        {
            return Err(bad(format!("value range {range}, expected 0..1")));
        }
        Ok(Interpolator {
            model,
            fp32: None,
            path: path.to_path_buf(),
            options,
            pad_multiple,
            support,
            has_timestep_input,
            fp32_reruns: 0,
            #[cfg(test)]
            poison_fp16: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

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
        self.fp32_reruns
    }

    /// Converts and pads a frame for the network.
    pub fn prepare(&self, image: &DynamicImage) -> Result<Prepared> {
        let ImageTensor {
            color,
            alpha,
            layout,
        } = image_to_tensor(image, ValueRange::Unit);
        let (_, _, h, w) = color.dim();
        if h == 0 || w == 0 {
            return Err(Error::Input("an empty (0-pixel) frame".into()));
        }
        Ok(Prepared {
            padded: pad(color.view(), self.pad_multiple),
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

    /// The timestep this model really produces for `t`: `t` itself for timestep models; for
    /// t = 0.5-only models the dyadic `t`, the nearest reachable one (option), or an error.
    pub fn reachable(&self, t: f64) -> Result<f64> {
        if !(t > 0.0 && t < 1.0) {
            return Err(Error::Timestep {
                t,
                reason: "it must lie strictly between 0 and 1".into(),
            });
        }
        match self.support {
            TimestepSupport::Any => Ok(t),
            TimestepSupport::HalfOnly => {
                let (k, d) = dyadic(t, self.options.max_depth, self.options.nearest_timestep)
                    .map_err(|nearest| Error::Unreachable {
                        t,
                        model: self.path.display().to_string(),
                        depth: self.options.max_depth,
                        nearest,
                    })?;
                let got = k as f64 / (1u64 << d) as f64;
                if (got - t).abs() > 1e-9 {
                    tracing::warn!(
                        asked = t,
                        made = got,
                        "timestep not reachable by bisection; using the nearest"
                    );
                }
                Ok(got)
            }
        }
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

    /// RIFE HD v3: every timestep `k / 2^D` by halving the interval that contains it; frames on
    /// the way are shared between timesteps.
    fn bisect(&mut self, a: &Prepared, b: &Prepared, ts: &[f64]) -> Result<Vec<Raw>> {
        let depth = self.options.max_depth;
        let full = 1u64 << depth;
        let mut made: HashMap<u64, Raw> = HashMap::new();
        let mut out = Vec::with_capacity(ts.len());
        for &t in ts {
            let target = (t * full as f64).round() as u64;
            let (mut lo, mut hi) = (0u64, full);
            loop {
                let mid = (lo + hi) / 2;
                if !made.contains_key(&mid) {
                    let frame_at = |k: u64| -> &Array4<f32> {
                        if k == 0 {
                            &a.padded
                        } else if k == full {
                            &b.padded
                        } else {
                            &made[&k].frame
                        }
                    };
                    let (x, y) = (frame_at(lo).clone(), frame_at(hi).clone());
                    let raw = self.infer(&x, &y, 0.5, a.height, a.width)?;
                    made.insert(mid, raw);
                }
                if mid == target {
                    break;
                }
                if target < mid {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            out.push(made[&target].clone());
        }
        Ok(out)
    }

    /// One network evaluation at `t` on padded frames, with ensemble / TTA variants batched into
    /// one run and averaged back, and the FP32 rerun on non-finite output.
    fn infer(
        &mut self,
        a: &Array4<f32>,
        b: &Array4<f32>,
        t: f32,
        height: usize,
        width: usize,
    ) -> Result<Raw> {
        let mut variants = vec![Variant::default()];
        if self.options.ensemble {
            variants.push(Variant {
                swap: true,
                flip: false,
            });
        }
        if self.options.tta {
            let mirrored: Vec<Variant> = variants
                .iter()
                .map(|v| Variant { flip: true, ..*v })
                .collect();
            variants.extend(mirrored);
        }
        let (n, hp, wp) = (variants.len(), a.dim().2, a.dim().3);
        let mut img0 = Array4::<f32>::zeros((n, 3, hp, wp));
        let mut img1 = Array4::<f32>::zeros((n, 3, hp, wp));
        let mut times = Array4::<f32>::zeros((n, 1, 1, 1));
        for (i, v) in variants.iter().enumerate() {
            let (x, y, tt) = if v.swap { (b, a, 1.0 - t) } else { (a, b, t) };
            if v.flip {
                mirror_into(
                    x.view(),
                    img0.slice_mut(s![i..i + 1, .., .., ..]),
                    height,
                    width,
                );
                mirror_into(
                    y.view(),
                    img1.slice_mut(s![i..i + 1, .., .., ..]),
                    height,
                    width,
                );
            } else {
                img0.slice_mut(s![i, .., .., ..])
                    .assign(&x.slice(s![0, .., .., ..]));
                img1.slice_mut(s![i, .., .., ..])
                    .assign(&y.slice(s![0, .., .., ..]));
            }
            times[[i, 0, 0, 0]] = tt;
        }
        let (frames, flows) = self.run_checked(img0, img1, times)?;
        let mut frame = Array4::<f32>::zeros((1, 3, hp, wp));
        let mut flow = Array4::<f32>::zeros((1, 4, hp, wp));
        for (i, v) in variants.iter().enumerate() {
            let mut f = frames.slice(s![i..i + 1, .., .., ..]).to_owned();
            let mut w = flows.slice(s![i..i + 1, .., .., ..]).to_owned();
            if v.flip {
                let f0 = f.clone();
                mirror_into(f0.view(), f.view_mut(), height, width);
                let w0 = w.clone();
                mirror_into(w0.view(), w.view_mut(), height, width);
                // Mirrored x displacements point the other way.
                w.slice_mut(s![.., 0, .., ..]).mapv_inplace(|x| -x);
                w.slice_mut(s![.., 2, .., ..]).mapv_inplace(|x| -x);
            }
            if v.swap {
                // The swapped run's flow to its img0 is our flow to img1, and the reverse.
                let w0 = w.clone();
                w.slice_mut(s![.., 0..2, .., ..])
                    .assign(&w0.slice(s![.., 2..4, .., ..]));
                w.slice_mut(s![.., 2..4, .., ..])
                    .assign(&w0.slice(s![.., 0..2, .., ..]));
            }
            frame += &f;
            flow += &w;
        }
        let k = 1.0 / n as f32;
        frame.mapv_inplace(|x| x * k);
        flow.mapv_inplace(|x| x * k);
        Ok(Raw { frame, flow })
    }

    /// Runs the session; an FP16 result with NaN or Inf is redone, with a warning, by the FP32
    /// model (loaded the first time it is needed). Each run tries FP16 first: overflow depends on
    /// the content, so one bad frame does not slow down the rest of a video.
    fn run_checked(
        &mut self,
        img0: Array4<f32>,
        img1: Array4<f32>,
        times: Array4<f32>,
    ) -> Result<(Array4<f32>, Array4<f32>)> {
        let with_t = self.has_timestep_input;
        let fp16 = self.model.load_report().precision == Precision::Fp16;
        let fallback = fp16 && self.options.fp32_fallback;
        let keep = fallback.then(|| (img0.clone(), img1.clone(), times.clone()));
        #[allow(unused_mut)]
        let mut out = run_model(&mut self.model, inputs(img0, img1, times, with_t))?;
        #[cfg(test)]
        if self.poison_fp16 && fp16 {
            out.0[[0, 0, 0, 0]] = f32::NAN;
        }
        if all_finite(&out) {
            return Ok(out);
        }
        let Some((img0, img1, times)) = keep else {
            return Err(Error::NonFinite {
                path: self.path.clone(),
                precision: if fp16 { "FP16" } else { "FP32" },
                hint: if fp16 {
                    " (FP32 fallback disabled)"
                } else {
                    ""
                },
            });
        };
        tracing::warn!(model = %self.path.display(), "FP16 output has NaN or Inf; rerunning in FP32");
        if self.fp32.is_none() {
            let mut options = self.options.session.clone();
            options.precision = Precision::Fp32;
            self.fp32 = Some(Model::load(&self.path, &options)?);
        }
        self.fp32_reruns += 1;
        let fp32 = self.fp32.as_mut().expect("just loaded");
        let out = run_model(fp32, inputs(img0, img1, times, with_t))?;
        if all_finite(&out) {
            Ok(out)
        } else {
            Err(Error::NonFinite {
                path: self.path.clone(),
                precision: "FP32",
                hint: " (also after the FP32 rerun)",
            })
        }
    }
}

fn inputs(img0: Array4<f32>, img1: Array4<f32>, times: Array4<f32>, with_t: bool) -> Vec<Tensor> {
    let mut v = vec![Tensor::F32(img0.into_dyn()), Tensor::F32(img1.into_dyn())];
    if with_t {
        v.push(Tensor::F32(times.into_dyn()));
    }
    v
}

fn run_model(model: &mut Model, inputs: Vec<Tensor>) -> Result<(Array4<f32>, Array4<f32>)> {
    let path = model.path().to_path_buf();
    let mut out = model.run(inputs)?.into_iter();
    let (Some(frame), Some(flow)) = (out.next(), out.next()) else {
        return Err(Error::NotInterpolationModel {
            path,
            reason: "fewer than two outputs".into(),
        });
    };
    let to4 = |t: Tensor, what: &str| -> Result<Array4<f32>> {
        t.into_f32()
            .into_dimensionality()
            .map_err(|_| Error::NotInterpolationModel {
                path: path.clone(),
                reason: format!("{what} output is not 4-dimensional"),
            })
    };
    Ok((to4(frame, "frame")?, to4(flow, "flow")?))
}

fn all_finite((frame, flow): &(Array4<f32>, Array4<f32>)) -> bool {
    frame.iter().chain(flow.iter()).all(|x| x.is_finite())
}

#[derive(Debug, Clone, Copy, Default)]
struct Variant {
    swap: bool,
    flip: bool,
}

/// Writes `src` (one image, padded) mirrored left-right within its valid `height x width` region
/// into `dst`; the padding stays as `dst` had it for images and becomes zero for fresh arrays.
fn mirror_into(
    src: ArrayView4<f32>,
    mut dst: ndarray::ArrayViewMut4<f32>,
    height: usize,
    width: usize,
) {
    let valid = src.slice(s![0..1, .., ..height, ..width]);
    let flipped = valid.slice(s![.., .., .., ..;-1]);
    dst.slice_mut(s![0..1, .., ..height, ..width])
        .assign(&flipped);
}

/// Zero padding on the right and bottom to the next multiple of `multiple` (the official RIFE
/// scripts' `F.pad(img, (0, pw - w, 0, ph - h))`).
pub fn pad(color: ArrayView4<f32>, multiple: usize) -> Array4<f32> {
    let (n, c, h, w) = color.dim();
    let (hp, wp) = (
        h.div_ceil(multiple) * multiple,
        w.div_ceil(multiple) * multiple,
    );
    if (hp, wp) == (h, w) {
        return color.to_owned();
    }
    let mut out = Array4::<f32>::zeros((n, c, hp, wp));
    out.slice_mut(s![.., .., ..h, ..w]).assign(&color);
    out
}

/// Crops a padded result and turns it into an image of `a`'s layout; alpha (if any) is the
/// linear blend of the two frames' alpha.
fn finish(a: &Prepared, b: &Prepared, t: f64, raw: Raw) -> Result<Interpolated> {
    let (h, w) = (a.height, a.width);
    let color = raw.frame.slice(s![0, .., ..h, ..w]);
    let alpha = match (&a.alpha, &b.alpha) {
        (Some(x), Some(y)) => Some(x * (1.0 - t as f32) + y * t as f32),
        (Some(x), None) => Some(x.clone()),
        _ => None,
    };
    let image = tensor_to_image(
        color,
        alpha.as_ref().map(|a| a.view()),
        a.layout,
        ValueRange::Unit,
    )?;
    let flow = Flow::new(raw.flow.slice(s![0, .., ..h, ..w]).to_owned());
    Ok(Interpolated { t, image, flow })
}

/// `t` as `k / 2^d` (k odd, d <= max_depth); otherwise the nearest such value (when `nearest`)
/// or `Err(nearest)`.
pub fn dyadic(t: f64, max_depth: u32, nearest: bool) -> std::result::Result<(u64, u32), f64> {
    for d in 1..=max_depth {
        let scaled = t * (1u64 << d) as f64;
        if (scaled - scaled.round()).abs() < 1e-9 {
            return Ok(reduce(scaled.round() as u64, d));
        }
    }
    let full = 1u64 << max_depth;
    let k = ((t * full as f64).round() as u64).clamp(1, full - 1);
    if nearest {
        Ok(reduce(k, max_depth))
    } else {
        Err(k as f64 / full as f64)
    }
}

fn reduce(mut k: u64, mut d: u32) -> (u64, u32) {
    while d > 0 && k.is_multiple_of(2) {
        k /= 2;
        d -= 1;
    }
    (k, d)
}

pub(crate) fn check_same_size(
    a: &DynamicImage,
    b: &DynamicImage,
    first: &str,
    second: &str,
) -> Result<()> {
    if (a.width(), a.height()) != (b.width(), b.height()) {
        return Err(Error::FrameSize {
            first: first.into(),
            second: second.into(),
            a_w: a.width(),
            a_h: a.height(),
            b_w: b.width(),
            b_h: b.height(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dyadic_timesteps() {
        assert_eq!(dyadic(0.5, 6, false), Ok((1, 1)));
        assert_eq!(dyadic(0.25, 6, false), Ok((1, 2)));
        assert_eq!(dyadic(0.375, 6, false), Ok((3, 3)));
        assert_eq!(dyadic(1.0 / 3.0, 4, false), Err(5.0 / 16.0));
        assert_eq!(dyadic(1.0 / 3.0, 4, true), Ok((5, 4)));
        assert_eq!(dyadic(0.001, 3, true), Ok((1, 3)));
    }

    #[test]
    fn padding_to_multiple() {
        let x = Array4::<f32>::from_elem((1, 3, 33, 64), 0.5);
        let p = pad(x.view(), 32);
        assert_eq!(p.dim(), (1, 3, 64, 64));
        assert_eq!(p[[0, 1, 32, 63]], 0.5);
        assert_eq!(p[[0, 1, 33, 0]], 0.0);
        assert_eq!(pad(x.view(), 1).dim(), (1, 3, 33, 64));
    }

    /// The FP16 graph (run on CPU here) is made to "produce" a NaN through the test hook: the run
    /// is redone by the FP32 session and gives exactly the FP32 result. Needs the exported
    /// rife-v4.0 (`cargo xtask test`).
    #[test]
    fn fp16_nan_is_rerun_in_fp32() {
        let path = prism_core::models::resolve_model("rife-v4.0").unwrap();
        assert!(
            path.is_file(),
            "{} missing: run `cargo xtask test`",
            path.display()
        );
        let options = |precision| InterpolatorOptions {
            session: SessionOptions {
                device: prism_core::Device::Cpu,
                precision,
                ..SessionOptions::default()
            },
            ..InterpolatorOptions::default()
        };
        let frame = |shift: u32| {
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(40, 24, |x, y| {
                image::Rgb([
                    ((x + shift) * 6) as u8,
                    (y * 9) as u8,
                    ((x + y + shift) * 3) as u8,
                ])
            }))
        };
        let (a, b) = (frame(0), frame(2));
        let mut fp16 = Interpolator::new(&path, options(Precision::Fp16)).unwrap();
        assert_eq!(fp16.model().load_report().precision, Precision::Fp16);
        fp16.poison_fp16 = true;
        let got = fp16.interpolate(&a, &b, 0.5).unwrap();
        assert_eq!(fp16.fp32_reruns(), 1);
        let want = Interpolator::new(&path, options(Precision::Fp32))
            .unwrap()
            .interpolate(&a, &b, 0.5)
            .unwrap();
        assert_eq!(got, want);

        let mut strict = Interpolator::new(
            &path,
            InterpolatorOptions {
                fp32_fallback: false,
                ..options(Precision::Fp16)
            },
        )
        .unwrap();
        strict.poison_fp16 = true;
        assert!(matches!(
            strict.interpolate(&a, &b, 0.5),
            Err(Error::NonFinite { .. })
        ));
    }

    #[test]
    fn mirror_keeps_padding_out() {
        let mut x = Array4::<f32>::zeros((1, 1, 2, 4));
        x[[0, 0, 0, 0]] = 1.0;
        x[[0, 0, 0, 2]] = 3.0;
        let mut y = Array4::<f32>::zeros((1, 1, 2, 4));
        mirror_into(x.view(), y.view_mut(), 2, 3);
        assert_eq!(y[[0, 0, 0, 0]], 3.0);
        assert_eq!(y[[0, 0, 0, 2]], 1.0);
        assert_eq!(y[[0, 0, 0, 3]], 0.0);
    }
}
