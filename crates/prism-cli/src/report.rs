//! Human-readable tables for `prism devices`, `prism info` and `prism bench`.

use std::fmt::Write;
use std::path::PathBuf;

use crate::bench::BenchReport;
use prism_core::system::CpuInfo;
use prism_core::{ModelInfo, Provider};
use serde::Serialize;

#[derive(Serialize)]
pub struct ProviderStatus {
    pub provider: Provider,
    pub compiled_in: bool,
    pub registers: bool,
    pub reason: Option<String>,
}

#[derive(Serialize)]
pub struct DevicesReport {
    pub runtime_version: String,
    pub runtime_path: PathBuf,
    pub compiled_providers: Vec<String>,
    pub providers: Vec<ProviderStatus>,
    pub cpu: CpuInfo,
    pub gpus: Vec<String>,
    pub preloaded_gpu_libraries: usize,
}

pub fn devices_table(r: &DevicesReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "ONNX Runtime  {} ({})",
        r.runtime_version,
        r.runtime_path.display()
    );
    let _ = writeln!(s, "compiled in   {}", r.compiled_providers.join(", "));
    let _ = writeln!(s, "providers");
    for p in &r.providers {
        let state = if p.registers {
            "works".to_string()
        } else {
            format!("unavailable: {}", p.reason.as_deref().unwrap_or("?"))
        };
        let _ = writeln!(s, "  {:<10} {state}", p.provider.to_string());
    }
    let _ = writeln!(
        s,
        "CPU           {} ({} physical / {} logical cores; {})",
        r.cpu.model,
        r.cpu.physical_cores,
        r.cpu.logical_cores,
        if r.cpu.int8_dot {
            "8-bit dot product: INT8 variants that passed their gate run by default"
        } else {
            "no 8-bit dot product (VNNI, dotprod): INT8 only on request"
        }
    );
    if r.gpus.is_empty() {
        let _ = writeln!(s, "GPUs          none usable through CUDA");
    } else {
        for (i, name) in r.gpus.iter().enumerate() {
            let _ = writeln!(s, "GPU {i}         {name}");
        }
    }
    if r.preloaded_gpu_libraries > 0 {
        let _ = writeln!(
            s,
            "preloaded     {} CUDA / cuDNN / TensorRT libraries",
            r.preloaded_gpu_libraries
        );
    }
    s
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn model_table(info: &ModelInfo) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "model       {} ({})",
        info.path.display(),
        megabytes(info.file_size)
    );
    if !info.producer.is_empty() {
        let _ = writeln!(s, "producer    {}", info.producer);
    }
    let opsets: Vec<String> = info
        .opsets
        .iter()
        .map(|(d, v)| format!("{d} {v}"))
        .collect();
    let _ = writeln!(
        s,
        "format      IR {}, opsets {}",
        info.ir_version,
        opsets.join(", ")
    );
    let weights = info
        .weight_type
        .map(|t| format!(", {t}"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "parameters  {} ({}{weights})",
        thousands(info.parameter_count),
        megabytes(info.parameter_bytes)
    );
    let _ = writeln!(s, "nodes       {}", info.node_count);
    if let Some(p) = info.provider {
        let _ = writeln!(s, "provider    {p}");
    }
    for (title, specs) in [("inputs", &info.inputs), ("outputs", &info.outputs)] {
        let _ = writeln!(s, "{title}");
        let width = specs.iter().map(|t| t.name.len()).max().unwrap_or(0);
        for t in specs {
            let _ = writeln!(
                s,
                "  {:<width$}  {:<8} {}",
                t.name,
                t.element_type.to_string(),
                t.shape_string()
            );
        }
    }
    if !info.metadata.is_empty() {
        let _ = writeln!(s, "metadata");
        let width = info.metadata.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in &info.metadata {
            let _ = writeln!(s, "  {k:<width$}  {v}");
        }
    }
    s
}

pub fn bench_table(r: &BenchReport) -> String {
    let mut s = String::new();
    let shapes: Vec<String> = r
        .input_shapes
        .iter()
        .map(|(n, d)| {
            format!(
                "{n}={}",
                d.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("x")
            )
        })
        .collect();
    let _ = writeln!(s, "model       {}", r.model);
    let _ = writeln!(s, "provider    {} ({})", r.provider, r.precision);
    let _ = writeln!(s, "inputs      {}", shapes.join(" "));
    let _ = writeln!(s, "load        {:.1} ms", r.load_ms);
    let _ = writeln!(s, "runs        {} timed after {} warm-up", r.runs, r.warmup);
    let _ = writeln!(
        s,
        "latency     mean {:.2} ms, median {:.2} ms, p95 {:.2} ms (min {:.2}, max {:.2})",
        r.mean_ms, r.median_ms, r.p95_ms, r.min_ms, r.max_ms
    );
    let _ = writeln!(s, "throughput  {:.2} runs/s", r.throughput_per_s);
    if let Some(peak) = r.peak_memory_bytes {
        let _ = writeln!(s, "peak memory {}", megabytes(peak));
    }
    s
}
