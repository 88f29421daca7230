//! Upscaling files: image batches (decode, upscale and encode overlapping; failures reported and
//! skipped) and videos through ffmpeg. The `prism upscale` command is a thin layer over these.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use prism_media::video::{VideoInfo, VideoOptions, VideoReader, VideoWriter, find_ffmpeg, probe};
use prism_media::{
    BatchReport, Job, LoadedImage, Progress, Unit, WriteOptions, pipeline, read_image, write_image,
};

use crate::error::{Error, Result};
use crate::upscaler::{Control, Upscaler};

/// Upscales each job's input into its output (atomically, ICC profile kept). Outputs that exist are
/// skipped when `skip_existing`; a file that fails is reported on stderr and in the report, and the
/// batch goes on. `cancel` stops it between tiles.
pub fn upscale_files(
    upscaler: &mut Upscaler,
    jobs: &[Job],
    write: &WriteOptions,
    skip_existing: bool,
    show_progress: bool,
    cancel: Option<&AtomicBool>,
) -> BatchReport {
    let progress = Progress::new(jobs.len() as u64, Unit::Files, "upscale", show_progress);
    let report = prism_media::batch::run_batch(
        jobs,
        skip_existing,
        |job| read_image(&job.input).map_err(Error::from),
        |job, loaded: LoadedImage| {
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return None;
            }
            progress.set_message(job.input.display().to_string());
            let mut control = Control {
                progress: None,
                cancel,
            };
            match upscaler.upscale_with(&loaded.image, &mut control) {
                Err(Error::Cancelled) => None,
                result => Some(result.map(|image| (image, loaded.icc_profile))),
            }
        },
        |job, (image, icc)| {
            if let Some(parent) = job.output.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|error| prism_media::Error::Io {
                    path: parent.to_path_buf(),
                    error,
                })?;
            }
            write_image(&job.output, &image, icc.as_deref(), write)?;
            progress.inc(1);
            Ok(())
        },
        |_job, error| progress.println(format!("error: {error}")),
    );
    progress.finish();
    report
}

/// What a video upscale did.
#[derive(Debug, Clone)]
pub struct VideoReport {
    pub source: VideoInfo,
    pub frames: u64,
    pub width: u32,
    pub height: u32,
}

/// Upscales every frame of `input` into `output` (written under a temporary name and renamed at the
/// end), copying audio and metadata. Decoding, inference and encoding run at the same time.
pub fn upscale_video(
    upscaler: &mut Upscaler,
    input: &Path,
    output: &Path,
    ffmpeg: Option<&Path>,
    video: &VideoOptions,
    show_progress: bool,
    cancel: Option<&AtomicBool>,
) -> Result<VideoReport> {
    if same_file(input, output) {
        return Err(prism_media::Error::WouldOverwriteInput {
            path: output.to_path_buf(),
        }
        .into());
    }
    let ffmpeg = find_ffmpeg(ffmpeg)?;
    let info = probe(&ffmpeg, input)?;
    let (_, (width, height)) = upscaler.plan(info.width, info.height)?;
    let mut writer = VideoWriter::create(
        &ffmpeg,
        output,
        width,
        height,
        &info.frame_rate,
        info.high_bit_depth,
        Some(input),
        video,
    )?;
    let reader = VideoReader::open(&ffmpeg, input, &info)?;
    let progress = Progress::new(
        info.frames_estimate.unwrap_or(0),
        Unit::Frames,
        "upscale",
        show_progress,
    );
    let mut failure: Option<Error> = None;
    let mut write_failure: Option<Error> = None;
    let mut frames = 0u64;
    pipeline(
        reader,
        4,
        |frame| frame,
        |frame| {
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                failure = Some(Error::Cancelled);
                return None;
            }
            let result = frame.map_err(Error::from).and_then(|f| {
                let mut control = Control {
                    progress: None,
                    cancel,
                };
                upscaler.upscale_with(&f, &mut control)
            });
            match result {
                Ok(image) => Some(image),
                Err(e) => {
                    failure = Some(e);
                    None
                }
            }
        },
        |image| {
            if write_failure.is_some() {
                return;
            }
            match writer.write_frame(&image) {
                Ok(()) => {
                    frames += 1;
                    progress.inc(1);
                }
                Err(e) => write_failure = Some(e.into()),
            }
        },
    );
    progress.finish();
    if let Some(e) = failure.or(write_failure) {
        // Dropping the writer kills ffmpeg and removes the temporary file.
        drop(writer);
        return Err(e);
    }
    writer.finish()?;
    Ok(VideoReport {
        source: info,
        frames,
        width,
        height,
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
