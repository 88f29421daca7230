//! `prism upscale`: a thin layer over `prism_upscale` for files, folders and videos.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use prism_core::RuntimeOptions;
use prism_media::video::is_video;
use prism_media::{BatchOptions, WriteOptions, plan_jobs, read_image, write_image};

use crate::global::{self, say};
use prism_upscale::{AlphaMode, OutputScale, TileSize, UpscaleOptions, Upscaler};

use crate::media_args::{BatchArgs, VideoArgs};
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
    /// Output name suffix (default `_x<scale>`).
    #[arg(long)]
    pub suffix: Option<String>,
    /// Output format for folders: png, jpg, webp or tiff (default: the input's).
    #[arg(long)]
    pub format: Option<String>,
    /// JPEG quality.
    #[arg(long, default_value_t = 95)]
    pub quality: u8,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub video: VideoArgs,
    /// No progress bars.
    #[arg(long)]
    pub no_progress: bool,
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
    let show = global::show_progress(args.no_progress);
    let limits = global::limits();
    let path = prism_hub::resolve_model(&args.model)?;
    let mut upscaler = Upscaler::new(&path, options)?;
    let suffix = args.suffix.clone().unwrap_or_else(|| match scale {
        OutputScale::Factor(f) => format!("_x{f}"),
        OutputScale::Native => format!("_x{}", upscaler.info().scale),
        _ => "_up".into(),
    });
    tracing::info!(
        tile = upscaler.tiles().core,
        run = upscaler.tile_size(),
        overlap = upscaler.overlap(),
        provider = %upscaler.model().provider(),
        "upscaling with {}",
        path.display()
    );

    if is_video(&args.input) {
        let output = args
            .output
            .clone()
            .unwrap_or_else(|| prism_media::output_path(&args.input, None, None, &suffix, None));
        let video = args.video.options();
        let report = prism_upscale::upscale_video(
            &mut upscaler,
            &args.input,
            &output,
            &limits,
            args.video.ffmpeg.as_deref(),
            &video,
            show,
            Some(global::interrupt_flag()),
        )?;
        say!(
            "{}: {} frames, {}x{} -> {}x{}{}",
            output.display(),
            report.frames,
            report.source.width,
            report.source.height,
            report.width,
            report.height,
            if report.source.has_audio && !args.video.no_audio {
                ", audio copied"
            } else {
                ""
            }
        );
        return Ok(());
    }

    let batch = BatchOptions {
        recursive: args.batch.recursive,
        glob: args.batch.glob.clone(),
        suffix,
        extension: args.format.clone(),
        skip_existing: !args.batch.overwrite,
    };
    let write = WriteOptions {
        jpeg_quality: args.quality,
        ..WriteOptions::default()
    };
    let jobs = plan_jobs(&args.input, args.output.as_deref(), &batch)?;
    if !args.input.is_dir() {
        // One file: errors keep their own exit codes.
        let job = &jobs[0];
        prism_media::OutputFormat::from_path(&job.output)?;
        let loaded = read_image(&job.input, &limits)?;
        let mut control = prism_upscale::Control {
            progress: None,
            cancel: Some(global::interrupt_flag()),
        };
        let image = upscaler.upscale_with(&loaded.image, &mut control)?;
        global::check_interrupted()?;
        write_image(&job.output, &image, loaded.icc_profile.as_deref(), &write)?;
        say!(
            "{} ({}x{}) -> {} ({}x{})",
            job.input.display(),
            loaded.image.width(),
            loaded.image.height(),
            job.output.display(),
            image.width(),
            image.height()
        );
        return Ok(());
    }
    let report = prism_upscale::upscale_files(
        &mut upscaler,
        &jobs,
        &limits,
        &write,
        !args.batch.overwrite,
        show,
        Some(global::interrupt_flag()),
    );
    say!(
        "{} written, {} already done, {} failed",
        report.written.len(),
        report.skipped.len(),
        report.failed.len()
    );
    for (_, message) in &report.failed {
        eprintln!("  failed: {message}");
    }
    Ok(report.check()?)
}
