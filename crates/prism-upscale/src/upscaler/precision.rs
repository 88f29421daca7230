//! FP16 fallback: each model run goes through [`prism_core::Model::run_checked`], which reruns an
//! FP16 run whose output is not finite on the model's FP32 twin; what is still not finite is an
//! error naming the tile.

use ndarray::Array4;

use super::Upscaler;
use crate::error::{Error, Result};

impl Upscaler {
    /// Runs one batch through the model (with TTA if asked); a non-finite result is an error.
    pub(super) fn infer(&mut self, batch: Array4<f32>, x: usize, y: usize) -> Result<Array4<f32>> {
        let result = self.run_model(&batch)?;
        if result.iter().all(|v| v.is_finite()) {
            return Ok(result);
        }
        Err(Error::NonFinite {
            path: self.info.path.clone(),
            x,
            y,
        })
    }
}
