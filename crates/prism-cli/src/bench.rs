//! Latency benchmark of a loaded model: warm-up, timed runs, and their statistics.

use std::time::Instant;

use ndarray::ArrayD;
use serde::Serialize;

use prism_core::onnx::{Dim, ElementType};
use prism_core::system::peak_memory_bytes;
use prism_core::{Error, Model, Result, Tensor};

/// A requested input shape, optionally naming the input (`input=1x3x256x256`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeArg {
    pub input: Option<String>,
    pub dims: Vec<usize>,
}

impl std::str::FromStr for ShapeArg {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let (input, dims) = match text.split_once('=') {
            Some((name, dims)) => (Some(name.trim().to_string()), dims),
            None => (None, text),
        };
        let syntax = |reason: &str| Error::ShapeSyntax {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let dims: Vec<usize> = dims
            .split(['x', 'X', ','])
            .map(|d| {
                d.trim()
                    .parse::<usize>()
                    .map_err(|_| syntax("dimensions must be positive integers joined by `x`"))
            })
            .collect::<Result<_>>()?;
        if dims.is_empty() || dims.contains(&0) {
            return Err(syntax("dimensions must be positive integers joined by `x`"));
        }
        Ok(ShapeArg { input, dims })
    }
}

/// How to benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub warmup: usize,
    pub runs: usize,
    /// Shapes for inputs with symbolic dimensions; unnamed shapes apply to inputs in order.
    pub shapes: Vec<ShapeArg>,
    /// Polled between runs: when set, the benchmark stops with [`Error::Cancelled`].
    pub cancel: Option<&'static std::sync::atomic::AtomicBool>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            warmup: 3,
            runs: 10,
            shapes: Vec::new(),
            cancel: None,
        }
    }
}

/// Benchmark results; latencies in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub model: String,
    pub provider: String,
    pub precision: String,
    pub input_shapes: Vec<(String, Vec<usize>)>,
    pub warmup: usize,
    pub runs: usize,
    pub load_ms: f64,
    pub mean_ms: f64,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Model runs per second at the mean latency.
    pub throughput_per_s: f64,
    /// Peak resident memory of the process, where the OS reports it.
    pub peak_memory_bytes: Option<u64>,
}

/// The concrete shape of every input: fixed dimensions from the graph, the rest from `shapes`.
pub fn resolve_shapes(model: &Model, shapes: &[ShapeArg]) -> Result<Vec<Vec<usize>>> {
    let inputs = &model.info().inputs;
    let mut unnamed = shapes.iter().filter(|s| s.input.is_none());
    for s in shapes.iter().filter(|s| s.input.is_some()) {
        let name = s.input.as_deref().unwrap_or_default();
        if !inputs.iter().any(|i| i.name == name) {
            let known = inputs
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::ShapeSyntax {
                text: name.into(),
                reason: format!("the model has no such input (inputs: {known})"),
            });
        }
    }
    inputs
        .iter()
        .map(|spec| {
            let given = shapes
                .iter()
                .find(|s| s.input.as_deref() == Some(spec.name.as_str()))
                .or_else(|| unnamed.next());
            match (given, &spec.shape) {
                (Some(s), _) => Ok(s.dims.clone()),
                (None, Some(dims)) if dims.iter().all(|d| matches!(d, Dim::Fixed(n) if *n > 0)) => {
                    Ok(dims
                        .iter()
                        .map(|d| {
                            if let Dim::Fixed(n) = d {
                                *n as usize
                            } else {
                                0
                            }
                        })
                        .collect())
                }
                (None, _) => Err(Error::ShapeSyntax {
                    text: spec.name.clone(),
                    reason: format!(
                        "input shape {} has symbolic dimensions: pass --shape {}=...",
                        spec.shape_string(),
                        spec.name
                    ),
                }),
            }
        })
        .collect()
}

/// Deterministic pseudo-random values in [0, 1): inputs look like images, and runs are repeatable.
fn synthetic(shape: &[usize], element_type: ElementType) -> Tensor {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let data = ArrayD::from_shape_simple_fn(shape.to_vec(), || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    });
    Tensor::F32(data).cast(element_type)
}

/// Runs `model` `warmup` times untimed, then `runs` times timed.
pub fn bench(model: &mut Model, options: &BenchOptions) -> Result<BenchReport> {
    let shapes = resolve_shapes(model, &options.shapes)?;
    let inputs: Vec<Tensor> = model
        .info()
        .inputs
        .iter()
        .zip(&shapes)
        .map(|(spec, shape)| synthetic(shape, spec.element_type))
        .collect();
    let stopped = || {
        options
            .cancel
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    };
    for _ in 0..options.warmup {
        if stopped() {
            return Err(Error::Cancelled);
        }
        model.run(inputs.clone())?;
    }
    let mut times = Vec::with_capacity(options.runs.max(1));
    for _ in 0..options.runs.max(1) {
        if stopped() {
            return Err(Error::Cancelled);
        }
        let batch = inputs.clone();
        let start = Instant::now();
        model.run(batch)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let stats = Stats::of(&times);
    let info = model.info();
    Ok(BenchReport {
        model: info.path.display().to_string(),
        provider: model.provider().to_string(),
        precision: model.load_report().precision.as_str().to_string(),
        input_shapes: info
            .inputs
            .iter()
            .map(|i| i.name.clone())
            .zip(shapes)
            .collect(),
        warmup: options.warmup,
        runs: times.len(),
        load_ms: model.load_report().load_ms,
        mean_ms: stats.mean,
        median_ms: stats.median,
        p95_ms: stats.p95,
        min_ms: stats.min,
        max_ms: stats.max,
        throughput_per_s: 1e3 / stats.mean,
        peak_memory_bytes: peak_memory_bytes(),
    })
}

/// Summary statistics of a sample of latencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub mean: f64,
    pub median: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// Nearest-rank percentiles over a non-empty sample.
    pub fn of(sample: &[f64]) -> Stats {
        let mut sorted = sample.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let rank = |p: f64| sorted[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Stats {
            mean: sorted.iter().sum::<f64>() / n as f64,
            median,
            p95: rank(0.95),
            min: sorted[0],
            max: sorted[n - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse() {
        assert_eq!(
            "1x3x256x256".parse::<ShapeArg>().unwrap(),
            ShapeArg {
                input: None,
                dims: vec![1, 3, 256, 256]
            }
        );
        let named: ShapeArg = "img0=1x3x64x96".parse().unwrap();
        assert_eq!(named.input.as_deref(), Some("img0"));
        assert!("1x0x4".parse::<ShapeArg>().is_err());
        assert!("axb".parse::<ShapeArg>().is_err());
        assert!("".parse::<ShapeArg>().is_err());
    }

    #[test]
    fn stats_are_nearest_rank() {
        let s = Stats::of(&(1..=20).map(f64::from).collect::<Vec<_>>());
        assert_eq!((s.mean, s.median, s.p95), (10.5, 10.5, 19.0));
        assert_eq!((s.min, s.max), (1.0, 20.0));
        let one = Stats::of(&[7.0]);
        assert_eq!((one.median, one.p95), (7.0, 7.0));
    }

    #[test]
    fn bench_resolves_named_and_symbolic_shapes() {
        let fixture = prism_core::checkout::path("tests/fixtures/two_inputs.onnx")
            .expect("tests run in a checkout");
        let cpu = prism_core::SessionOptions {
            device: prism_core::Device::Cpu,
            ..prism_core::SessionOptions::default()
        };
        let mut model = Model::load(&fixture, &cpu).unwrap_or_else(|e| {
            panic!("{e}: run `cargo xtask test` once to provision the runtime")
        });
        let err = bench(&mut model, &BenchOptions::default()).unwrap_err();
        assert!(err.to_string().contains("--shape img0="), "{err}");
        let shapes = vec![
            "img1=1x3x16x24".parse::<ShapeArg>().unwrap(),
            "img0=1x3x16x24".parse().unwrap(),
        ];
        let options = BenchOptions {
            warmup: 1,
            runs: 5,
            shapes,
            cancel: None,
        };
        let report = bench(&mut model, &options).unwrap();
        assert_eq!(report.runs, 5);
        assert_eq!(
            report.input_shapes[0],
            ("img0".to_string(), vec![1, 3, 16, 24])
        );
        assert!(
            report.min_ms <= report.median_ms
                && report.median_ms <= report.p95_ms
                && report.p95_ms <= report.max_ms
        );
        assert!(report.peak_memory_bytes.unwrap_or(1) > 0);
        let bad = BenchOptions {
            shapes: vec!["nope=1x3x4x4".parse::<ShapeArg>().unwrap()],
            ..BenchOptions::default()
        };
        assert!(bench(&mut model, &bad).is_err());
    }
}
