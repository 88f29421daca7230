//! `prism`: the command-line face of the Prism engine.
//!
//! Exit codes (the README's table): 0 success, 1 other failure, 2 bad usage, 3 ONNX Runtime
//! missing or unusable, 4 execution provider unavailable, 5 bad or missing model file, 6 inputs
//! that do not fit, 7 partial batch, 130 interrupted by Ctrl-C, 143 stopped by SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use bench::{BenchOptions, ShapeArg, bench};
use clap::{Parser, Subcommand};
use prism_core::{Model, ModelInfo, Provider, Runtime, RuntimeOptions, SessionOptions};
use prism_hub::resolve_model;

mod bench;
mod exit;
mod global;
mod interpolate;
mod media_args;
mod models;
mod report;
mod serve;
mod session_args;
mod style;
mod style_fast;
mod upscale;

use session_args::SessionArgs;

#[derive(Parser)]
#[command(
    name = "prism",
    version,
    about = "Image and video AI inference on ONNX Runtime"
)]
struct Cli {
    /// Load this libonnxruntime instead of searching for one.
    #[arg(long, global = true, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Refuse images and video frames with more pixels than this (default: Pillow's
    /// decompression-bomb limit, 178956970, about 13,377 px square), before decoding them.
    #[arg(long, global = true, value_name = "PIXELS", default_value_t = prism_media::Limits::DEFAULT_MAX_PIXELS,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_pixels: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the ONNX Runtime in use, its execution providers, and this machine's CPU and GPUs.
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// Describe a model: inputs, outputs, parameters, opsets, metadata and the provider it runs on.
    Info {
        /// A model file, or a model id (registry: local export, Hub cache or download).
        model: String,
        /// Read the file only; do not create a session.
        #[arg(long)]
        no_session: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Measure a model's latency on synthetic inputs.
    Bench {
        /// A model file, or a model id (registry: local export, Hub cache or download).
        model: String,
        /// Input shape, e.g. 1x3x256x256 or img0=1x3x256x448; repeat for several inputs.
        #[arg(long = "shape", value_name = "[NAME=]DIMS")]
        shapes: Vec<ShapeArg>,
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Frame interpolation (RIFE): frames between two images, or a folder of frames or a video
    /// to a higher frame rate.
    Interpolate(Box<interpolate::InterpolateArgs>),
    /// Style transfer: fast feed-forward styles, or Gatys neural style optimised in Rust.
    Style(style::StyleArgs),
    /// Upscale images, folders or videos with a super-resolution model (tiled, seam-free).
    Upscale(Box<upscale::UpscaleArgs>),
    /// Named models: the registry, the Hugging Face Hub cache, downloads and search.
    Models(models::ModelsArgs),
    /// A local web page for upscaling, interpolation and style transfer (drag files, run, compare).
    Serve(Box<serve::ServeArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    global::set(global::Global {
        quiet: cli.quiet,
        limits: prism_media::Limits {
            max_pixels: cli.max_pixels,
        },
    });
    global::install_signal_handlers();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},ort={}",
            if cli.verbose >= 3 { "debug" } else { "error" }
        ))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = exit::code(&error);
            if code == exit::INTERRUPTED {
                eprintln!("interrupted ({error:#}): nothing half-written was left");
            } else {
                eprintln!("error: {error:#}");
            }
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let runtime = RuntimeOptions {
        library: cli.ort_lib,
    };
    match cli.command {
        Command::Interpolate(args) => interpolate::run(*args, &runtime),
        Command::Style(args) => style::run(args, &runtime),
        Command::Devices { json } => devices(&runtime, json),
        Command::Upscale(args) => upscale::run(*args, &runtime),
        Command::Models(args) => models::run(args),
        Command::Serve(args) => serve::run(*args, &runtime),
        Command::Info {
            model,
            no_session,
            json,
            session,
        } => {
            let path = resolve_model(&model)?;
            let info = if no_session {
                ModelInfo::inspect(&path)?
            } else {
                Model::load(&path, &session.options(&runtime))?
                    .info()
                    .clone()
            };
            if json {
                let mut value = serde_json::to_value(&info)?;
                value["weights"] =
                    serde_json::to_value(models::provenance(&model, &info.metadata))?;
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", report::model_table(&info));
                println!(
                    "weights     {}",
                    models::weights_line(&model, &info.metadata)
                );
            }
            Ok(())
        }
        Command::Bench {
            model,
            shapes,
            warmup,
            runs,
            json,
            session,
        } => {
            let mut model = Model::load(&resolve_model(&model)?, &session.options(&runtime))?;
            let result = bench(
                &mut model,
                &BenchOptions {
                    warmup,
                    runs,
                    shapes,
                    cancel: Some(global::interrupt_flag()),
                },
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                print!("{}", report::bench_table(&result));
            }
            Ok(())
        }
    }
}

fn devices(runtime_options: &RuntimeOptions, json: bool) -> Result<()> {
    let runtime = Runtime::init(runtime_options)?;
    let compiled = runtime.compiled_providers()?;
    let options = SessionOptions {
        runtime: runtime_options.clone(),
        ..SessionOptions::default()
    };
    let mut providers = Vec::new();
    for provider in [Provider::TensorRt, Provider::Cuda, Provider::Cpu] {
        let compiled_in = compiled.iter().any(|p| p == provider.ort_name());
        let status = if !compiled_in {
            Err("not compiled into this ONNX Runtime".to_string())
        } else {
            prism_core::session::probe_provider(provider, 0, &options)
        };
        providers.push(report::ProviderStatus {
            provider,
            compiled_in,
            registers: status.is_ok(),
            reason: status.err(),
        });
    }
    let cuda_works = providers
        .iter()
        .any(|p| p.provider == Provider::Cuda && p.registers);
    let report = report::DevicesReport {
        runtime_version: runtime.version().to_string(),
        runtime_path: runtime.path().to_path_buf(),
        compiled_providers: compiled,
        providers,
        cpu: prism_core::system::cpu_info(),
        gpus: if cuda_works {
            prism_core::system::cuda_device_names()
        } else {
            Vec::new()
        },
        preloaded_gpu_libraries: runtime.preloaded_libraries().len(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report::devices_table(&report));
    }
    Ok(())
}
