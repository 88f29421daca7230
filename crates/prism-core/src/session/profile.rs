//! Giving TensorRT the input shape range of a whole run, so one engine serves it.

use super::{Model, ShapeProfile, configure, register};
use crate::device::Provider;
use crate::error::{Error, Result};

impl Model {
    /// Sets the min/opt/max input shapes of the coming runs (from a tile plan, say). On TensorRT
    /// the session is rebuilt with that profile (cheap before the first run: engines are built
    /// on first use, and found in the engine cache keyed by the profile); other providers only
    /// record it, for the FP32 twin. Returns whether the session was rebuilt.
    pub fn set_shape_profile(&mut self, profile: ShapeProfile) -> Result<bool> {
        if self.options.tensorrt.profile.as_ref() == Some(&profile) {
            return Ok(false);
        }
        self.options.tensorrt.profile = Some(profile);
        // A twin loaded with the old options is loaded again when needed.
        self.fallback.forget_twin();
        let provider = self.report.provider;
        if provider != Provider::TensorRt {
            return Ok(false);
        }
        if !self.freed.is_empty() {
            let freed = self.freed.clone();
            self.rebuild_free(&freed, &[])?;
            return Ok(true);
        }
        let path = self.info.path.clone();
        let builder = configure(&self.options)?;
        let mut builder = register(
            builder,
            provider,
            self.report.device_id,
            &self.options,
            &self.info.sha256,
        )
        .map_err(|reason| Error::ProviderUnavailable { provider, reason })?;
        self.session = builder
            .commit_from_file(&path)
            .map_err(|e| Error::InvalidModel {
                path,
                message: e.message().to_string(),
            })?;
        tracing::info!(profile = ?self.options.tensorrt.profile, "TensorRT session rebuilt with a shape profile");
        Ok(true)
    }

    /// The TensorRT shape profile in effect, if any.
    pub fn shape_profile(&self) -> Option<&ShapeProfile> {
        self.options.tensorrt.profile.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tiny_model::identity;
    use super::*;
    use crate::{Device, SessionOptions};

    #[test]
    fn on_cpu_a_profile_is_recorded_without_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.onnx");
        std::fs::write(&path, identity()).unwrap();
        let options = SessionOptions {
            device: Device::Cpu,
            intra_threads: Some(1),
            ..SessionOptions::default()
        };
        let mut model = Model::load(&path, &options).unwrap();
        assert!(model.shape_profile().is_none());
        let profile = ShapeProfile::image("x", 1, 3, (8, 8), (64, 64), (64, 64));
        assert!(!model.set_shape_profile(profile.clone()).unwrap());
        assert_eq!(model.shape_profile(), Some(&profile));
        assert!(!model.set_shape_profile(profile).unwrap());
    }
}
