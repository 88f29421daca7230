//! Giving TensorRT the input shape range of a whole run, so one engine serves it.

use super::{Model, ShapeProfile, configure, register};
use crate::device::Provider;
use crate::error::{Error, Result};
use crate::onnx::{Dim, TensorSpec};

/// `profile` fitted to the graph: an axis the graph fixes takes that size, inputs the graph fixes
/// entirely (or does not have) are left out; `None` when nothing dynamic is left.
pub fn fit_profile(profile: &ShapeProfile, inputs: &[TensorSpec]) -> Option<ShapeProfile> {
    let fitted: Vec<_> = profile
        .inputs
        .iter()
        .filter_map(|p| {
            let dims = inputs.iter().find(|s| s.name == p.name)?.shape.as_ref();
            let fixed = |axis: usize| match dims.and_then(|d| d.get(axis)) {
                Some(Dim::Fixed(f)) if *f >= 0 => Some(*f as usize),
                _ => None,
            };
            // A profile of another rank does not fit; a fully static input needs none.
            if dims
                .is_some_and(|d| d.len() != p.min.len() || (0..d.len()).all(|a| fixed(a).is_some()))
            {
                return None;
            }
            let mut p = p.clone();
            for axis in 0..p.min.len() {
                if let Some(f) = fixed(axis) {
                    (p.min[axis], p.opt[axis], p.max[axis]) = (f, f, f);
                }
            }
            Some(p)
        })
        .collect();
    (!fitted.is_empty()).then_some(ShapeProfile { inputs: fitted })
}

impl Model {
    /// Sets the min/opt/max input shapes of the coming runs (from a tile plan, say), fitted to the
    /// graph's fixed dims ([`fit_profile`]). On TensorRT
    /// the session is rebuilt with that profile (cheap before the first run: engines are built
    /// on first use, and found in the engine cache keyed by the profile); other providers only
    /// record it, for the FP32 twin. Returns whether the session was rebuilt.
    pub fn set_shape_profile(&mut self, profile: ShapeProfile) -> Result<bool> {
        let profile = fit_profile(&profile, &self.info.inputs);
        if self.options.tensorrt.profile == profile {
            return Ok(false);
        }
        self.options.tensorrt.profile = profile;
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
    use super::super::ProfileInput;
    use super::super::tiny_model::{FLOAT, scale_unscale};
    use super::*;
    use crate::{Device, SessionOptions};

    #[test]
    fn profiles_keep_the_graphs_fixed_dims() {
        let spec = |name: &str, dims: Vec<Dim>| TensorSpec {
            name: name.into(),
            element_type: crate::onnx::ElementType::Float32,
            shape: Some(dims),
        };
        let free = Dim::Symbol("h".into());
        let inputs = [
            spec("x", vec![Dim::Fixed(1), Dim::Fixed(3), free.clone(), free]),
            spec(
                "s",
                vec![Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(8), Dim::Fixed(8)],
            ),
        ];
        let mut profile = ShapeProfile::image("x", 4, 3, (8, 8), (64, 64), (64, 64));
        let fitted = fit_profile(&profile, &inputs).unwrap();
        assert_eq!(fitted.inputs[0].min, [1, 3, 8, 8]);
        assert_eq!(fitted.inputs[0].max, [1, 3, 64, 64]);
        // Static or unknown inputs get no profile.
        profile.inputs[0].name = "s".into();
        assert_eq!(fit_profile(&profile, &inputs), None);
        profile.inputs[0].name = "nope".into();
        assert_eq!(fit_profile(&profile, &inputs), None);
    }

    #[test]
    fn on_cpu_a_profile_is_recorded_without_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("free.onnx");
        // x: [1, d1], free along its second axis.
        std::fs::write(&path, scale_unscale(FLOAT, -1, &2f32.to_le_bytes())).unwrap();
        let options = SessionOptions {
            device: Device::Cpu,
            intra_threads: Some(1),
            ..SessionOptions::default()
        };
        let mut model = Model::load(&path, &options).unwrap();
        assert!(model.shape_profile().is_none());
        let range = |min, opt, max| ProfileInput {
            name: "x".into(),
            min: vec![4, min],
            opt: vec![4, opt],
            max: vec![4, max],
        };
        let profile = ShapeProfile {
            inputs: vec![range(8, 64, 256)],
        };
        assert!(!model.set_shape_profile(profile.clone()).unwrap());
        // The batch axis is fixed at 1 by the graph.
        let mut fitted = range(8, 64, 256);
        (fitted.min[0], fitted.opt[0], fitted.max[0]) = (1, 1, 1);
        assert_eq!(model.shape_profile().unwrap().inputs, [fitted]);
        assert!(!model.set_shape_profile(profile).unwrap());
        // Runs at any width in the range still work on CPU.
        let x = ndarray::ArrayD::from_elem(ndarray::IxDyn(&[1, 8]), 3.0f32);
        let out = model.run(vec![super::super::Tensor::F32(x)]).unwrap();
        assert_eq!(out[0].shape(), [1, 8]);
    }
}
