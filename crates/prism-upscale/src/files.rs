//! Upscaling files: image batches (decode, upscale and encode overlapping; failures reported and
//! skipped) and videos through ffmpeg. The `prism upscale` command is a thin layer over these.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use prism_media::frames::{VideoReport, map_video};
use prism_media::video::{VideoOptions, find_ffmpeg, probe};
use prism_media::{
    BatchReport, Job, Limits, LoadedImage, Progress, Unit, WriteOptions, read_image, write_image,
};

use crate::error::{Error, Result};
use crate::upscaler::{Control, Upscaler};

/// Upscales each job's input into its output (atomically, ICC profile kept). Outputs that exist are
/// skipped when `skip_existing`; a file that fails is reported on stderr and in the report, and the
/// batch goes on. `cancel` stops it between tiles; inputs larger than `limits` allow are refused.
#[allow(clippy::too_many_arguments)]
pub fn upscale_files(
    upscaler: &mut Upscaler,
    jobs: &[Job],
    limits: &Limits,
    write: &WriteOptions,
    skip_existing: bool,
    show_progress: bool,
    cancel: Option<&AtomicBool>,
) -> BatchReport {
    let progress = Progress::new(jobs.len() as u64, Unit::Files, "upscale", show_progress);
    let report = prism_media::batch::run_batch(
        jobs,
        skip_existing,
        |job| read_image(&job.input, limits).map_err(Error::from),
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
            write_image(&job.output, &image, icc.as_deref(), write)?;
            progress.inc(1);
            Ok(())
        },
        |_job, error| progress.println(format!("error: {error}")),
    );
    progress.finish();
    report
}

/// Upscales every frame of `input` into `output` (written under a temporary name and renamed at the
/// end), copying audio and metadata. Decoding, inference and encoding run at the same time.
#[allow(clippy::too_many_arguments)]
pub fn upscale_video(
    upscaler: &mut Upscaler,
    input: &Path,
    output: &Path,
    limits: &Limits,
    ffmpeg: Option<&Path>,
    video: &VideoOptions,
    show_progress: bool,
    cancel: Option<&AtomicBool>,
) -> Result<VideoReport> {
    let ffmpeg = find_ffmpeg(ffmpeg)?;
    let info = probe(&ffmpeg, input, limits)?;
    let (_, size) = upscaler.plan(info.width, info.height)?;
    map_video(
        &ffmpeg,
        input,
        info,
        output,
        size,
        video,
        "upscale",
        show_progress,
        cancel,
        |frame| {
            let mut control = Control {
                progress: None,
                cancel,
            };
            upscaler.upscale_with(frame, &mut control)
        },
    )
}
