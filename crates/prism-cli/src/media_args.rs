//! Video, folder-batch and output flags, the same for every task that reads them, and the one
//! report of a 1 -> 1 run.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use prism_media::video::VideoOptions;
use prism_media::{BatchOptions, MapJob, MapReport, WriteOptions};

use crate::global::{self, say};

/// How a video output is encoded (upscale, interpolate, style fast).
#[derive(Args, Clone, Debug)]
pub struct VideoArgs {
    /// ffmpeg binary (default: $PRISM_FFMPEG, PATH, the provisioned copy).
    #[arg(long)]
    pub ffmpeg: Option<PathBuf>,
    /// Video encoder.
    #[arg(long, default_value = "libx264")]
    pub codec: String,
    /// Video quality (constant rate factor; lower is better).
    #[arg(long, default_value_t = 18, value_parser = clap::value_parser!(u8).range(0..=63))]
    pub crf: u8,
    /// Encoder preset.
    #[arg(long, default_value = "medium")]
    pub preset: String,
    /// Output pixel format.
    #[arg(long, default_value = "yuv420p")]
    pub pix_fmt: String,
    /// Do not copy the source's audio.
    #[arg(long)]
    pub no_audio: bool,
}

impl VideoArgs {
    pub fn options(&self) -> VideoOptions {
        VideoOptions {
            codec: self.codec.clone(),
            crf: Some(self.crf),
            preset: Some(self.preset.clone()),
            pixel_format: Some(self.pix_fmt.clone()),
            keep_audio: !self.no_audio,
            extra_args: Vec::new(),
        }
    }
}

/// Which files of a folder input a run takes, whether finished outputs are redone, and progress
/// (upscale, interpolate, style fast).
#[derive(Args, Clone, Debug)]
pub struct BatchArgs {
    /// Include sub-folders (outputs mirror the folder structure).
    #[arg(short, long)]
    pub recursive: bool,
    /// Only files matching this glob (relative to the input folder), e.g. `*.png`.
    #[arg(long)]
    pub glob: Option<String>,
    /// Redo outputs that already exist (default: skip them, so a batch resumes).
    #[arg(long)]
    pub overwrite: bool,
    /// No progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

/// How image outputs are named and encoded (upscale, style fast).
#[derive(Args, Clone, Debug)]
pub struct OutputArgs {
    /// Output name suffix (default: the task's, e.g. `_x4` or `_mosaic`).
    #[arg(long)]
    pub suffix: Option<String>,
    /// Output format for folders: png, jpg, webp or tiff (default: the input's).
    #[arg(long)]
    pub format: Option<String>,
    /// JPEG quality.
    #[arg(long, default_value_t = 95, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
}

/// The 1 -> 1 run of `input` into `output` that the flags describe.
pub fn map_job<'a>(
    input: &'a Path,
    output: Option<&'a Path>,
    batch: &BatchArgs,
    out: &OutputArgs,
    video: &'a VideoArgs,
    default_suffix: String,
    label: &'static str,
) -> MapJob<'a> {
    MapJob {
        input,
        output,
        batch: BatchOptions {
            recursive: batch.recursive,
            glob: batch.glob.clone(),
            suffix: out.suffix.clone().unwrap_or(default_suffix),
            extension: out.format.clone(),
            skip_existing: !batch.overwrite,
        },
        write: WriteOptions {
            jpeg_quality: out.quality,
            ..WriteOptions::default()
        },
        video: video.options(),
        ffmpeg: video.ffmpeg.as_deref(),
        limits: global::limits(),
        cancel: Some(global::interrupt_flag()),
        label,
        show_progress: global::show_progress(batch.no_progress),
    }
}

/// Says what a 1 -> 1 run did; a batch with failures is an error (exit 7).
pub fn say_report(report: &MapReport) -> Result<()> {
    match report {
        MapReport::Image {
            input,
            output,
            from,
            to,
        } => say!(
            "{} ({}x{}) -> {} ({}x{})",
            input.display(),
            from.0,
            from.1,
            output.display(),
            to.0,
            to.1
        ),
        MapReport::Video { output, video } => say!(
            "{}: {} frames, {}x{} -> {}x{}{}",
            output.display(),
            video.frames,
            video.source.width,
            video.source.height,
            video.width,
            video.height,
            if video.audio_copied {
                ", audio copied"
            } else {
                ""
            }
        ),
        MapReport::Batch(batch) => {
            say!(
                "{} written, {} already done, {} failed",
                batch.written.len(),
                batch.skipped.len(),
                batch.failed.len()
            );
            for (_, message) in &batch.failed {
                eprintln!("  failed: {message}");
            }
            batch.check()?;
        }
    }
    Ok(())
}
