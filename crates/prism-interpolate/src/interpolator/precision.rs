//! The session run, with the FP32 rerun ([`Model::run_checked`]) when an FP16 session produces
//! NaN or Inf.

use ndarray::Array4;
use prism_core::{Model, Tensor};

use super::Interpolator;
use super::contract::TimeInput;
use crate::error::{Error, Result};

impl Interpolator {
    /// Runs the session; an FP16 result with NaN or Inf is redone, with a warning, by the model's
    /// FP32 twin. Each run tries FP16 first: overflow depends on the content, so one bad frame
    /// does not slow down the rest of a video.
    pub(super) fn run_checked(
        &mut self,
        img0: Array4<f32>,
        img1: Array4<f32>,
        times: Array4<f32>,
    ) -> Result<(Array4<f32>, Array4<f32>)> {
        let time_input = self.time_input;
        let fp16 = self.model.computes_in_fp16();
        self.model.set_fp32_fallback(self.options.fp32_fallback);
        #[cfg(test)]
        self.model.poison_fp16_runs(self.poison_fp16);
        let reruns = self.model.fp32_reruns();
        let out = run_model(&mut self.model, inputs(img0, img1, times, time_input))?;
        if all_finite(&out) {
            return Ok(out);
        }
        let rerun = self.model.fp32_reruns() > reruns;
        Err(Error::NonFinite {
            path: self.path.clone(),
            precision: if fp16 && !rerun { "FP16" } else { "FP32" },
            hint: if rerun {
                " (also after the FP32 rerun)"
            } else if fp16 {
                " (FP32 fallback disabled)"
            } else {
                ""
            },
        })
    }
}

fn inputs(
    img0: Array4<f32>,
    img1: Array4<f32>,
    times: Array4<f32>,
    time_input: TimeInput,
) -> Vec<Tensor> {
    let mut v = vec![Tensor::F32(img0.into_dyn()), Tensor::F32(img1.into_dyn())];
    match time_input {
        TimeInput::None => {}
        TimeInput::Plane => v.push(Tensor::F32(times.into_dyn())),
        TimeInput::Dt => {
            let n = times.len();
            let dt = times
                .into_shape_with_order((n, 1))
                .expect("[N,1,1,1] holds N values");
            v.push(Tensor::F32(dt.into_dyn()));
        }
    }
    v
}

fn run_model(model: &mut Model, inputs: Vec<Tensor>) -> Result<(Array4<f32>, Array4<f32>)> {
    let path = model.path().to_path_buf();
    let mut out = model.run_checked(inputs)?.into_iter();
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

#[cfg(test)]
mod tests {
    use super::super::InterpolatorOptions;
    use super::*;
    use image::DynamicImage;
    use prism_core::{Precision, SessionOptions};

    /// The FP16 graph (run on CPU here) is made to "produce" a NaN through the test hook: the run
    /// is redone by the FP32 session and gives exactly the FP32 result. Needs the exported
    /// rife-v4.0 (`cargo xtask test`).
    #[test]
    fn fp16_nan_is_rerun_in_fp32() {
        let path = prism_core::models::find_exported("rife-v4.0")
            .unwrap()
            .expect("rife-v4.0 is exported: run `cargo xtask test`")
            .path;
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
        assert!(fp16.model().computes_in_fp16());
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
}
