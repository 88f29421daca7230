//! The FP16 -> FP32 fallback, for every task: a run of an FP16 session whose output holds NaN or
//! Inf is redone, with a warning, by an FP32 twin of the model, loaded on first need. On TensorRT
//! the twin really computes in FP32: its FP16 kernels are off too.

use super::{Model, SessionOptions, Tensor};
use crate::Precision;
use crate::device::{Device, Provider};
use crate::error::Result;

/// Per-model fallback state.
#[derive(Debug)]
pub(super) struct Fallback {
    enabled: bool,
    twin: Option<Box<Model>>,
    reruns: usize,
    poison: bool,
}

impl Fallback {
    /// Drops a loaded twin, so the next fallback loads it with the current options.
    pub(super) fn forget_twin(&mut self) {
        self.twin = None;
    }
}

impl Default for Fallback {
    fn default() -> Self {
        Self {
            enabled: true,
            twin: None,
            reruns: 0,
            poison: false,
        }
    }
}

/// The options that load the FP32 twin of a model running on `provider`: the FP32 file, no
/// TensorRT FP16 kernels, and the same provider and device (no new search).
pub fn fp32_twin_options(
    options: &SessionOptions,
    provider: Provider,
    device_id: i32,
) -> SessionOptions {
    let mut twin = options.clone();
    twin.precision = Precision::Fp32;
    twin.tensorrt.fp16 = false;
    twin.device = match provider {
        Provider::Cpu => Device::Cpu,
        Provider::Cuda => Device::Cuda(device_id),
        Provider::TensorRt => Device::TensorRt(device_id),
    };
    twin
}

/// Whether every value of every output is finite.
pub fn all_finite(outputs: &[Tensor]) -> bool {
    outputs.iter().all(|t| match t {
        Tensor::F32(a) => a.iter().all(|v| v.is_finite()),
        Tensor::F16(a) => a.iter().all(|v| v.is_finite()),
    })
}

impl Model {
    /// Whether this session computes in FP16 (an FP16 file, or TensorRT with FP16 kernels).
    pub fn computes_in_fp16(&self) -> bool {
        self.report.fp16_kernels
    }

    /// Turns the FP32 rerun of [`Model::run_checked`] on (the default) or off.
    pub fn set_fp32_fallback(&mut self, enabled: bool) {
        self.fallback.enabled = enabled;
    }

    /// How many runs were redone in FP32.
    pub fn fp32_reruns(&self) -> usize {
        self.fallback.reruns
    }

    /// Test hook: every FP16 run is treated as if it had produced NaN, so the FP32 rerun can be
    /// exercised with real models on CPU. Not for production use.
    #[doc(hidden)]
    pub fn poison_fp16_runs(&mut self, on: bool) {
        self.fallback.poison = on;
    }

    /// Runs like [`Model::run`]; when this session computes in FP16 and an output holds NaN or
    /// Inf, the run is redone on the FP32 twin. The caller still checks the result: the FP32
    /// output (or an FP32 session's own) may be non-finite too.
    pub fn run_checked(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let fp16 = self.computes_in_fp16();
        let keep = (fp16 && self.fallback.enabled).then(|| inputs.clone());
        let mut outputs = self.run(inputs)?;
        if fp16 && self.fallback.poison {
            match outputs.first_mut() {
                Some(Tensor::F32(a)) => a.iter_mut().take(1).for_each(|v| *v = f32::NAN),
                Some(Tensor::F16(a)) => a.iter_mut().take(1).for_each(|v| *v = half::f16::NAN),
                None => {}
            }
        }
        let Some(inputs) = keep.filter(|_| !all_finite(&outputs)) else {
            return Ok(outputs);
        };
        tracing::warn!(model = %self.info.path.display(), "FP16 output has NaN or Inf; rerunning in FP32");
        if self.fallback.twin.is_none() {
            let options =
                fp32_twin_options(&self.options, self.report.provider, self.report.device_id);
            let twin = Model::load(&self.info.path, &options)?;
            self.fallback.twin = Some(Box::new(twin));
        }
        let twin = self.fallback.twin.as_mut().expect("just loaded");
        if !self.freed.is_empty() {
            let shapes: Vec<(String, Vec<usize>)> = self
                .info
                .inputs
                .iter()
                .zip(&inputs)
                .map(|(spec, t)| (spec.name.clone(), t.shape().to_vec()))
                .collect();
            let shapes: Vec<(&str, &[usize])> = shapes
                .iter()
                .map(|(n, s)| (n.as_str(), s.as_slice()))
                .collect();
            twin.accept_shapes(&shapes)?;
        }
        self.fallback.reruns += 1;
        twin.run(inputs)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{ArrayD, IxDyn};

    use super::super::tiny_model::{FLOAT, FLOAT16, scale_unscale};
    use super::*;

    /// `m.fp16.onnx`, whose FP16 weight overflowed to +Inf (its output is NaN), and its FP32 twin
    /// `m.fp32.onnx`, which computes `x * 1e5 / 1e5 = x`.
    fn twin_files(dir: &std::path::Path) -> std::path::PathBuf {
        let inf16 = half::f16::INFINITY.to_le_bytes();
        std::fs::write(dir.join("m.fp16.onnx"), scale_unscale(FLOAT16, 4, &inf16)).unwrap();
        let w32 = 1e5f32.to_le_bytes();
        std::fs::write(dir.join("m.fp32.onnx"), scale_unscale(FLOAT, 4, &w32)).unwrap();
        dir.join("m.fp16.onnx")
    }

    fn cpu(precision: Precision) -> SessionOptions {
        SessionOptions {
            device: Device::Cpu,
            precision,
            intra_threads: Some(1),
            ..SessionOptions::default()
        }
    }

    fn x() -> Vec<Tensor> {
        let values = vec![0.5f32, 1.0, 2.0, -3.0];
        vec![Tensor::F32(
            ArrayD::from_shape_vec(IxDyn(&[1, 4]), values).unwrap(),
        )]
    }

    fn values(out: Vec<Tensor>) -> Vec<f32> {
        out.into_iter()
            .next()
            .unwrap()
            .into_f32()
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn fp16_nan_is_rerun_on_the_fp32_twin() {
        let dir = tempfile::tempdir().unwrap();
        let path = twin_files(dir.path());
        let mut model = Model::load(&path, &cpu(Precision::Fp16)).unwrap();
        assert!(model.computes_in_fp16());
        // The FP16 graph really produces NaN on its own.
        assert!(values(model.run(x()).unwrap()).iter().all(|v| v.is_nan()));
        assert_eq!(
            values(model.run_checked(x()).unwrap()),
            [0.5, 1.0, 2.0, -3.0]
        );
        assert_eq!(model.fp32_reruns(), 1);
        let twin = model.fallback.twin.as_ref().unwrap();
        assert_eq!(twin.path(), dir.path().join("m.fp32.onnx"));
        assert!(!twin.computes_in_fp16());
        // The twin is loaded once and reused.
        let twin_ptr: *const Model = &**twin;
        model.run_checked(x()).unwrap();
        assert_eq!(model.fp32_reruns(), 2);
        assert!(std::ptr::eq(
            twin_ptr,
            &**model.fallback.twin.as_ref().unwrap()
        ));
        // Turned off, the NaN is handed back for the caller to report.
        model.set_fp32_fallback(false);
        assert!(values(model.run_checked(x()).unwrap())[0].is_nan());
        assert_eq!(model.fp32_reruns(), 2);
    }

    #[test]
    fn fp32_sessions_never_rerun() {
        let dir = tempfile::tempdir().unwrap();
        twin_files(dir.path());
        let mut model =
            Model::load(&dir.path().join("m.fp32.onnx"), &cpu(Precision::Fp32)).unwrap();
        assert!(!model.computes_in_fp16());
        model.poison_fp16_runs(true);
        assert_eq!(
            values(model.run_checked(x()).unwrap()),
            [0.5, 1.0, 2.0, -3.0]
        );
        assert_eq!(model.fp32_reruns(), 0);
    }

    #[test]
    fn the_twin_is_fp32_on_the_same_provider_even_on_tensorrt() {
        let options = SessionOptions::default();
        assert!(options.tensorrt.fp16);
        let twin = fp32_twin_options(&options, Provider::TensorRt, 1);
        assert_eq!(twin.precision, Precision::Fp32);
        assert!(!twin.tensorrt.fp16);
        assert_eq!(twin.device, Device::TensorRt(1));
        assert_eq!(
            fp32_twin_options(&options, Provider::Cuda, 0).device,
            Device::Cuda(0)
        );
        // FP32 kernels get an engine folder of their own.
        let key = |o: &SessionOptions| match &super::super::plan(Provider::TensorRt, 1, o, "ab")[0]
        {
            super::super::EpSpec::TensorRt {
                engine_cache, fp16, ..
            } => (engine_cache.clone(), *fp16),
            other => panic!("{other:?}"),
        };
        let (fp16_dir, fp16) = key(&options);
        let (fp32_dir, fp32) = key(&twin);
        assert!(fp16 && !fp32);
        assert_ne!(fp16_dir, fp32_dir);
    }

    /// On a GPU (`PRISM_TEST_GPU=1 tests/gpu_smoke.sh`): the real NaN of the FP16 file is rerun in
    /// FP32 on CUDA and on TensorRT, and on TensorRT an FP32 file run with FP16 kernels falls back
    /// to a twin whose kernels are FP32 too.
    #[test]
    #[ignore = "needs an NVIDIA GPU: PRISM_TEST_GPU=1 tests/gpu_smoke.sh"]
    fn gpu_fp16_nan_is_rerun_in_fp32_on_cuda_and_tensorrt() {
        if std::env::var("PRISM_TEST_GPU").as_deref() != Ok("1") {
            eprintln!("skipped: PRISM_TEST_GPU is not 1");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = twin_files(dir.path());
        for device in [Device::Cuda(0), Device::TensorRt(0)] {
            let mut options = cpu(Precision::Fp16);
            options.device = device;
            options.tensorrt.cache_dir = Some(dir.path().join("trt"));
            let mut model = Model::load(&path, &options).unwrap();
            assert!(model.provider().is_gpu(), "{device}");
            assert_eq!(
                values(model.run_checked(x()).unwrap()),
                [0.5, 1.0, 2.0, -3.0],
                "{device}"
            );
            assert_eq!(model.fp32_reruns(), 1, "{device}");
        }
        let mut options = cpu(Precision::Fp32);
        options.device = Device::TensorRt(0);
        options.tensorrt.cache_dir = Some(dir.path().join("trt"));
        let mut model = Model::load(&dir.path().join("m.fp32.onnx"), &options).unwrap();
        assert!(
            model.computes_in_fp16(),
            "TensorRT FP16 kernels on an FP32 file"
        );
        model.poison_fp16_runs(true);
        assert_eq!(
            values(model.run_checked(x()).unwrap()),
            [0.5, 1.0, 2.0, -3.0]
        );
        assert_eq!(model.fp32_reruns(), 1);
        let twin = model.fallback.twin.as_ref().unwrap();
        assert_eq!(twin.provider(), Provider::TensorRt);
        assert!(
            !twin.computes_in_fp16(),
            "the twin's TensorRT kernels are FP32"
        );
    }
}
