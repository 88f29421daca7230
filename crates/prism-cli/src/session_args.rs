//! Command-line flags shared by the commands that load models.

use clap::Args;
use prism_core::session::default_cache_dir;
use prism_core::{Device, OptLevel, Precision, RuntimeOptions, SessionOptions};

/// Device, precision and session flags shared by every command that runs a model.
#[derive(Args)]
pub struct SessionArgs {
    /// auto, cpu, cuda[:ID] or tensorrt[:ID].
    #[arg(long, default_value = "auto")]
    pub device: Device,
    /// auto (FP16 on GPU; on CPU INT8 where its export passed the quality gate and the CPU has an
    /// 8-bit dot product, else FP32), fp32, fp16 or int8.
    #[arg(long, default_value = "auto")]
    pub precision: Precision,
    /// Intra-op threads (default: one per physical core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Graph optimisation level: disable, basic, extended or all.
    #[arg(long, default_value = "all")]
    pub opt_level: OptLevel,
    /// Do not read or write the optimised-model cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Deterministic kernels.
    #[arg(long)]
    pub deterministic: bool,
    /// CUDA memory arena limit in MiB.
    #[arg(long, value_name = "MIB")]
    pub cuda_mem_limit: Option<usize>,
    /// Let TensorRT choose FP16 kernels (default on).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub trt_fp16: bool,
    /// TensorRT builder optimisation level 0..=5.
    #[arg(long, default_value_t = 3)]
    pub trt_opt_level: u8,
}

impl SessionArgs {
    pub fn options(&self, runtime: &RuntimeOptions) -> SessionOptions {
        let mut options = SessionOptions {
            runtime: runtime.clone(),
            device: self.device,
            precision: self.precision,
            optimization: self.opt_level,
            optimized_cache_dir: (!self.no_cache).then(|| default_cache_dir().join("optimized")),
            intra_threads: self.threads,
            deterministic: self.deterministic,
            ..SessionOptions::default()
        };
        options.cuda.memory_limit = self.cuda_mem_limit.map(|mib| mib << 20);
        options.tensorrt.fp16 = self.trt_fp16;
        options.tensorrt.builder_optimization_level = self.trt_opt_level;
        options
    }
}
