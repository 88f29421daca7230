//! `prism upscale`: flags -> `UpscaleOptions`, then one `map_media` run over an image, a folder or
//! a video.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use prism_core::RuntimeOptions;
use prism_media::map_media;
use prism_upscale::{AlphaMode, OutputScale, TileSize, UpscaleOptions, Upscaler};

use crate::media_args::{BatchArgs, OutputArgs, VideoArgs, map_job, say_report};
use crate::session_args::SessionArgs;

#[derive(Clone, Copy, ValueEnum)]
pub enum AlphaArg {
    /// Through the model as a gray image.
    Model,
    /// Lanczos3 resampling.
    Resample,
}

#[derive(Args)]
pub struct UpscaleArgs {
    /// An image, a folder of images, or a video (.mp4, .mkv, .mov, .webm, ...).
    pub input: PathBuf,
    /// Output file, or folder (default: beside each input, with the suffix).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Model id from the export manifest, or an .onnx path.
    #[arg(short, long, default_value = "realesrgan-x4plus")]
    pub model: String,
    /// Tile side in input pixels, `auto` (from the memory budget) or `whole`.
    #[arg(long, default_value = "auto", value_parser = parse_tile)]
    pub tile: TileSize,
    /// Context per tile side in input pixels (default: per architecture, seam-free).
    #[arg(long)]
    pub overlap: Option<u32>,
    /// Memory budget for one run's activations with `--tile auto`, in MiB.
    #[arg(long, value_name = "MIB")]
    pub memory_budget: Option<usize>,
    /// Tiles per run (default 1 on CPU, 4 on GPU).
    #[arg(long)]
    pub tiles_per_run: Option<usize>,
    /// Output scale factor (e.g. 2 from an x4 model, 8 as two passes, 1.5).
    #[arg(short = 's', long, conflicts_with_all = ["width", "height"])]
    pub outscale: Option<f64>,
    /// Output width (height keeps the aspect ratio unless --height is given too).
    #[arg(long)]
    pub width: Option<u32>,
    /// Output height.
    #[arg(long)]
    pub height: Option<u32>,
    /// Most model passes for scales above the model's.
    #[arg(long, default_value_t = 2)]
    pub max_passes: u32,
    /// How transparency is upscaled.
    #[arg(long, value_enum, default_value = "model")]
    pub alpha: AlphaArg,
    /// Premultiply colour by alpha before the model.
    #[arg(long)]
    pub premultiply: bool,
    /// Test-time augmentation (8 flips/transposes averaged; 8x slower).
    #[arg(long)]
    pub tta: bool,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub video: VideoArgs,
    #[command(flatten)]
    pub session: SessionArgs,
}

/// `--tile`: `auto`, `whole` or a side of 1 to 16384 input pixels.
fn parse_tile(text: &str) -> Result<TileSize, String> {
    match text {
        "auto" => Ok(TileSize::Auto),
        "whole" => Ok(TileSize::Whole),
        n => match n.parse::<u32>() {
            Ok(side @ 1..=16384) => Ok(TileSize::Size(side)),
            _ => Err("expected `auto`, `whole` or a side of 1 to 16384 pixels".into()),
        },
    }
}

pub fn run(args: UpscaleArgs, runtime: &RuntimeOptions) -> Result<()> {
    let tile = args.tile;
    let scale = match (args.outscale, args.width, args.height) {
        (Some(f), _, _) => OutputScale::Factor(f),
        (None, Some(w), Some(h)) => OutputScale::Size(w, h),
        (None, Some(w), None) => OutputScale::Width(w),
        (None, None, Some(h)) => OutputScale::Height(h),
        (None, None, None) => OutputScale::Native,
    };
    let options = UpscaleOptions {
        session: args.session.options(runtime),
        tile,
        overlap: args.overlap,
        memory_budget_mib: args.memory_budget,
        tiles_per_run: args.tiles_per_run,
        alpha: match args.alpha {
            AlphaArg::Model => AlphaMode::Model,
            AlphaArg::Resample => AlphaMode::Resample,
        },
        premultiply: args.premultiply,
        scale,
        max_passes: args.max_passes,
        tta: args.tta,
    };
    let path = prism_hub::resolve_model(&args.model)?;
    let mut upscaler = Upscaler::new(&path, options)?;
    let suffix = match scale {
        OutputScale::Factor(f) => format!("_x{f}"),
        OutputScale::Native => format!("_x{}", upscaler.info().scale),
        _ => "_up".into(),
    };
    tracing::info!(
        tile = upscaler.tiles().core,
        run = upscaler.tile_size(),
        overlap = upscaler.overlap(),
        provider = %upscaler.model().provider(),
        "upscaling with {}",
        path.display()
    );
    let started = std::time::Instant::now();
    let job = map_job(
        &args.input,
        args.output.as_deref(),
        &args.batch,
        &args.out,
        &args.video,
        suffix,
        "upscale",
    );
    say_report(&map_media(&job, &mut upscaler)?, started)
}
