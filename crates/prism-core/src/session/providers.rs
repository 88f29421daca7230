//! The provider policy, in one place: which execution providers a session registers, with which
//! settings, and where TensorRT keeps its engines. [`plan`] computes it (pure, unit-tested);
//! [`register`] applies it to a session builder.

use std::path::PathBuf;

use ort::ep::ExecutionProvider;
use ort::session::builder::SessionBuilder;
use sha2::{Digest, Sha256};

use super::SessionOptions;
use crate::device::Provider;
use crate::runtime::Runtime;

/// A TensorRT optimisation profile: per input, the smallest, typical and largest shape it takes.
/// One engine built for the range serves every shape in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeProfile {
    pub inputs: Vec<ProfileInput>,
}

/// One input's shape range in a [`ShapeProfile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInput {
    pub name: String,
    pub min: Vec<usize>,
    pub opt: Vec<usize>,
    pub max: Vec<usize>,
}

impl ShapeProfile {
    /// One NCHW image input: batch `n`, `c` channels, `(h, w)` from `min` through `opt` to `max`.
    pub fn image(
        name: &str,
        n: usize,
        c: usize,
        min: (usize, usize),
        opt: (usize, usize),
        max: (usize, usize),
    ) -> ShapeProfile {
        let dims = |(h, w): (usize, usize)| vec![n, c, h, w];
        ShapeProfile {
            inputs: vec![ProfileInput {
                name: name.to_string(),
                min: dims(min),
                opt: dims(opt),
                max: dims(max),
            }],
        }
    }

    /// TensorRT's option strings `(min, opt, max)`, e.g. `x:1x3x64x64`.
    pub fn option_strings(&self) -> (String, String, String) {
        let join = |pick: fn(&ProfileInput) -> &Vec<usize>| {
            self.inputs
                .iter()
                .map(|i| {
                    let dims: Vec<String> = pick(i).iter().map(ToString::to_string).collect();
                    format!("{}:{}", i.name, dims.join("x"))
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        (join(|i| &i.min), join(|i| &i.opt), join(|i| &i.max))
    }

    /// A short stable name for the profile, for cache keys.
    pub fn key(&self) -> String {
        let (min, opt, max) = self.option_strings();
        format!("p{}", short_hash(&[&min, &opt, &max]))
    }
}

/// cuDNN convolution algorithm search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvSearch {
    Heuristic,
    Default,
    Exhaustive,
}

/// One execution provider to register, with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpSpec {
    Cpu {
        arena: bool,
    },
    Cuda {
        device_id: i32,
        conv_search: ConvSearch,
        memory_limit: Option<usize>,
    },
    TensorRt {
        device_id: i32,
        fp16: bool,
        builder_level: u8,
        /// Engine cache folder, keyed by [`engine_cache_key`].
        engine_cache: Option<PathBuf>,
        timing_cache: Option<PathBuf>,
        /// `(min, opt, max)` shape strings.
        profile: Option<(String, String, String)>,
    },
}

/// `<model sha256 prefix>-<fp16|fp32>-opt<level>-<profile key|dynamic>`: ONNX Runtime's own engine
/// names cover neither precision nor builder level nor the weights, so each gets its own folder.
pub fn engine_cache_key(
    model_sha256: &str,
    fp16: bool,
    builder_level: u8,
    profile: Option<&ShapeProfile>,
) -> String {
    let sha: String = model_sha256.chars().take(16).collect();
    let precision = if fp16 { "fp16" } else { "fp32" };
    let profile = profile.map_or_else(|| "dynamic".to_string(), ShapeProfile::key);
    format!("{sha}-{precision}-opt{builder_level}-{profile}")
}

/// The providers to register for `provider`, in priority order: TensorRT is backed by CUDA (for
/// the nodes TensorRT does not take); ONNX Runtime adds CPU last by itself. CPU alone carries its
/// arena setting.
pub fn plan(
    provider: Provider,
    device_id: i32,
    options: &SessionOptions,
    model_sha256: &str,
) -> Vec<EpSpec> {
    let cpu = EpSpec::Cpu {
        arena: options.cpu_memory_arena,
    };
    let cuda = EpSpec::Cuda {
        device_id,
        conv_search: if options.deterministic {
            ConvSearch::Default
        } else if options.cuda.heuristic_conv_search {
            ConvSearch::Heuristic
        } else {
            ConvSearch::Exhaustive
        },
        memory_limit: options.cuda.memory_limit,
    };
    match provider {
        Provider::Cpu => vec![cpu],
        Provider::Cuda => vec![cuda],
        Provider::TensorRt => {
            let t = &options.tensorrt;
            let key = engine_cache_key(
                model_sha256,
                t.fp16,
                t.builder_optimization_level,
                t.profile.as_ref(),
            );
            let trt = EpSpec::TensorRt {
                device_id,
                fp16: t.fp16,
                builder_level: t.builder_optimization_level,
                engine_cache: t.cache_dir.as_ref().map(|d| d.join("engines").join(key)),
                timing_cache: t.cache_dir.as_ref().map(|d| d.join("timing")),
                profile: t.profile.as_ref().map(ShapeProfile::option_strings),
            };
            vec![trt, cuda]
        }
    }
}

/// Registers [`plan`]'s providers on `builder`, preloading the GPU libraries first when a GPU
/// provider is asked for.
pub(super) fn register(
    mut builder: SessionBuilder,
    provider: Provider,
    device_id: i32,
    options: &SessionOptions,
    model_sha256: &str,
) -> std::result::Result<SessionBuilder, String> {
    if provider.is_gpu()
        && let Some(runtime) = Runtime::get()
    {
        runtime.preload_gpu_libraries();
    }
    for spec in plan(provider, device_id, options, model_sha256) {
        apply(&spec, &mut builder)?;
    }
    Ok(builder)
}

fn apply(spec: &EpSpec, builder: &mut SessionBuilder) -> std::result::Result<(), String> {
    let result = match spec {
        EpSpec::Cpu { arena } => ort::ep::CPU::default()
            .with_arena_allocator(*arena)
            .register(builder),
        EpSpec::Cuda {
            device_id,
            conv_search,
            memory_limit,
        } => {
            use ort::ep::cuda::ConvAlgorithmSearch;
            let mut ep = ort::ep::CUDA::default()
                .with_device_id(*device_id)
                .with_conv_algorithm_search(match conv_search {
                    ConvSearch::Heuristic => ConvAlgorithmSearch::Heuristic,
                    ConvSearch::Default => ConvAlgorithmSearch::Default,
                    ConvSearch::Exhaustive => ConvAlgorithmSearch::Exhaustive,
                });
            if let Some(limit) = memory_limit {
                ep = ep.with_memory_limit(*limit);
            }
            ep.register(builder)
        }
        EpSpec::TensorRt {
            device_id,
            fp16,
            builder_level,
            engine_cache,
            timing_cache,
            profile,
        } => {
            let mut ep = ort::ep::TensorRT::default()
                .with_device_id(*device_id)
                .with_fp16(*fp16)
                .with_builder_optimization_level(*builder_level);
            for dir in engine_cache.iter().chain(timing_cache) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create TensorRT cache {}: {e}", dir.display()))?;
            }
            if let Some(dir) = engine_cache {
                ep = ep
                    .with_engine_cache(true)
                    .with_engine_cache_path(dir.display());
            }
            if let Some(dir) = timing_cache {
                ep = ep
                    .with_timing_cache(true)
                    .with_timing_cache_path(dir.display());
            }
            if let Some((min, opt, max)) = profile {
                ep = ep
                    .with_profile_min_shapes(min)
                    .with_profile_opt_shapes(opt)
                    .with_profile_max_shapes(max);
            }
            ep.register(builder)
        }
    };
    result.map_err(|e| e.message().to_string())
}

fn short_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::TensorRtOptions;

    const SHA: &str = "0123456789abcdef0123456789abcdef";

    fn trt_options(fp16: bool, level: u8, profile: Option<ShapeProfile>) -> SessionOptions {
        SessionOptions {
            tensorrt: TensorRtOptions {
                fp16,
                cache_dir: Some(PathBuf::from("/cache/tensorrt")),
                builder_optimization_level: level,
                profile,
            },
            ..SessionOptions::default()
        }
    }

    #[test]
    fn tensorrt_is_backed_by_cuda_on_the_same_device() {
        let specs = plan(Provider::TensorRt, 1, &trt_options(true, 3, None), SHA);
        assert_eq!(specs.len(), 2);
        assert!(matches!(
            specs[0],
            EpSpec::TensorRt {
                device_id: 1,
                fp16: true,
                builder_level: 3,
                ..
            }
        ));
        assert!(matches!(
            specs[1],
            EpSpec::Cuda {
                device_id: 1,
                conv_search: ConvSearch::Heuristic,
                ..
            }
        ));
        assert_eq!(
            plan(Provider::Cuda, 0, &trt_options(true, 3, None), SHA).len(),
            1
        );
        let cpu = plan(Provider::Cpu, 0, &SessionOptions::default(), SHA);
        assert_eq!(cpu, vec![EpSpec::Cpu { arena: true }]);
    }

    #[test]
    fn engine_cache_is_keyed_by_model_precision_level_and_profile() {
        let profile = ShapeProfile::image("x", 1, 3, (64, 64), (128, 128), (256, 256));
        let cache = |o: &SessionOptions, sha: &str| match &plan(Provider::TensorRt, 0, o, sha)[0] {
            EpSpec::TensorRt {
                engine_cache,
                timing_cache,
                ..
            } => {
                assert_eq!(
                    timing_cache.as_deref(),
                    Some(std::path::Path::new("/cache/tensorrt/timing"))
                );
                engine_cache.clone().unwrap()
            }
            other => panic!("{other:?}"),
        };
        let base = cache(&trt_options(true, 3, None), SHA);
        assert_eq!(
            base,
            PathBuf::from("/cache/tensorrt/engines/0123456789abcdef-fp16-opt3-dynamic")
        );
        let variants = [
            cache(&trt_options(false, 3, None), SHA),
            cache(&trt_options(true, 5, None), SHA),
            cache(&trt_options(true, 3, Some(profile.clone())), SHA),
            cache(&trt_options(true, 3, None), "fedcba9876543210"),
        ];
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(*v, base);
            for w in &variants[i + 1..] {
                assert_ne!(v, w);
            }
        }
        // The same request gives the same folder: the second run reuses the engine.
        assert_eq!(
            cache(&trt_options(true, 3, Some(profile.clone())), SHA),
            variants[2]
        );
    }

    #[test]
    fn profiles_become_tensorrt_shape_strings() {
        let mut profile = ShapeProfile::image("img0", 1, 3, (32, 48), (64, 64), (128, 256));
        profile.inputs.push(ProfileInput {
            name: "t".into(),
            min: vec![1, 1, 1, 1],
            opt: vec![1, 1, 1, 1],
            max: vec![1, 1, 1, 1],
        });
        let (min, opt, max) = profile.option_strings();
        assert_eq!(min, "img0:1x3x32x48,t:1x1x1x1");
        assert_eq!(opt, "img0:1x3x64x64,t:1x1x1x1");
        assert_eq!(max, "img0:1x3x128x256,t:1x1x1x1");
        match &plan(
            Provider::TensorRt,
            0,
            &trt_options(true, 3, Some(profile)),
            SHA,
        )[0]
        {
            EpSpec::TensorRt {
                profile: Some((a, b, c)),
                ..
            } => {
                assert_eq!((a, b, c), (&min, &opt, &max))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deterministic_runs_use_the_default_conv_search() {
        let options = SessionOptions {
            deterministic: true,
            ..SessionOptions::default()
        };
        assert!(matches!(
            plan(Provider::Cuda, 0, &options, SHA)[0],
            EpSpec::Cuda {
                conv_search: ConvSearch::Default,
                ..
            }
        ));
    }
}
