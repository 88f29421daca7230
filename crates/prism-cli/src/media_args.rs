//! Video, folder-batch and output flags, the same for every task that reads them, and the one
//! report of a 1 -> 1 run.

use std::path::{Path, PathBuf};
use std::time::Instant;

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

/// `N frames in S s: F fps, M MP/s` (output pixels) for the work since `started`.
pub fn throughput(frames: u64, pixels: u64, started: Instant) -> String {
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    format!(
        "{frames} frames in {seconds:.1} s: {} fps, {} MP/s",
        rate(frames as f64 / seconds),
        rate(pixels as f64 / seconds / 1e6)
    )
}

/// Three significant digits for rates from 0.001 up (slow CPU runs make well under 1 fps).
fn rate(x: f64) -> String {
    match x {
        x if x >= 100.0 => format!("{x:.0}"),
        x if x >= 10.0 => format!("{x:.1}"),
        x if x >= 1.0 => format!("{x:.2}"),
        x => format!("{x:.3}"),
    }
}

/// Says what a 1 -> 1 run started at `started` did, with its throughput; a batch with failures is
/// an error (exit 7).
pub fn say_report(report: &MapReport, started: Instant) -> Result<()> {
    match report {
        MapReport::Image {
            input,
            output,
            from,
            to,
        } => {
            let seconds = started.elapsed().as_secs_f64().max(1e-9);
            say!(
                "{} ({}x{}) -> {} ({}x{}) in {seconds:.2} s, {} MP/s",
                input.display(),
                from.0,
                from.1,
                output.display(),
                to.0,
                to.1,
                rate(f64::from(to.0) * f64::from(to.1) / seconds / 1e6)
            )
        }
        MapReport::Video { output, video } => say!(
            "{}: {} frames, {}x{} -> {}x{}{}; {}",
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
            },
            throughput(
                video.frames,
                video.frames * u64::from(video.width) * u64::from(video.height),
                started
            )
        ),
        MapReport::Batch(batch) => {
            let seconds = started.elapsed().as_secs_f64().max(1e-9);
            say!(
                "{} written, {} already done, {} failed; {:.1} s, {} files/s",
                batch.written.len(),
                batch.skipped.len(),
                batch.failed.len(),
                seconds,
                rate(batch.written.len() as f64 / seconds)
            );
            for (_, message) in &batch.failed {
                eprintln!("  failed: {message}");
            }
            batch.check()?;
        }
    }
    Ok(())
}
