//! FP16 fallback: a batch whose FP16 output is not finite is rerun by an FP32 copy of the model.

use ndarray::Array4;
use prism_core::{Model, Precision, SessionOptions};

use super::Upscaler;
use crate::error::{Error, Result};

impl Upscaler {
    /// Runs one batch through the model (with TTA if asked); non-finite FP16 output is rerun in FP32.
    pub(super) fn infer(&mut self, batch: Array4<f32>, x: usize, y: usize) -> Result<Array4<f32>> {
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
}
