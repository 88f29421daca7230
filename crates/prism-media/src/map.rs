//! 1 -> 1 tasks (upscaling, fast style) over one image, a folder of images or a video: the outputs
//! are planned here and every frame goes through [`run_frames`]. `prism upscale` and
//! `prism style fast` are argument parsing plus one call to [`map_media`].

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use image::DynamicImage;

use crate::batch::{BatchOptions, BatchReport, Job, output_path, plan_jobs};
use crate::error::Error;
use crate::frames::{FrameSink, FrameSource, Numbered, RunOptions, SourceFrames, run_frames};
use crate::image_io::{Limits, OutputFormat, WriteOptions};
use crate::video::{VideoInfo, VideoOptions, VideoWriter, find_ffmpeg, is_video, probe};

/// A 1 -> 1 frame step: what a task's model is to the pipeline.
pub trait FrameMap {
    type Error: From<Error> + Send + Display;
    /// The output size for a `width` x `height` input (a video's encoder opens with it).
    fn output_size(&self, width: u32, height: u32) -> Result<(u32, u32), Self::Error>;
    /// The output frame for `frame`; `cancel`, once set, ends it early with a cancellation error.
    fn map(
        &mut self,
        frame: &DynamicImage,
        cancel: Option<&AtomicBool>,
    ) -> Result<DynamicImage, Self::Error>;
}

/// Where a 1 -> 1 task reads and writes, and how: what the command line's flags say.
pub struct MapJob<'a> {
    /// An image, a folder of images, or a video.
    pub input: &'a Path,
    /// A file or a folder; `None`: beside each input, named with the batch suffix.
    pub output: Option<&'a Path>,
    /// Which files of a folder, output names, and whether finished outputs are skipped.
    pub batch: BatchOptions,
    pub write: WriteOptions,
    pub video: VideoOptions,
    /// ffmpeg binary (default: [`find_ffmpeg`]'s search).
    pub ffmpeg: Option<&'a Path>,
    pub limits: Limits,
    /// Polled between frames (and inside the step); once set the run ends with `Cancelled`.
    pub cancel: Option<&'a AtomicBool>,
    pub label: &'static str,
    pub show_progress: bool,
}

impl<'a> MapJob<'a> {
    /// `input` into `output` with default batch, write, video and decoding limits, no progress bar.
    pub fn new(input: &'a Path, output: Option<&'a Path>) -> MapJob<'a> {
        MapJob {
            input,
            output,
            batch: BatchOptions::default(),
            write: WriteOptions::default(),
            video: VideoOptions::default(),
            ffmpeg: None,
            limits: Limits::default(),
            cancel: None,
            label: "run",
            show_progress: false,
        }
    }
}

/// What [`map_media`] did.
#[derive(Debug)]
pub enum MapReport {
    /// One image, written (an existing output is replaced).
    Image {
        input: PathBuf,
        output: PathBuf,
        from: (u32, u32),
        to: (u32, u32),
    },
    /// A folder: written, skipped (already done) and failed files.
    Batch(BatchReport),
    /// A video, finished only when every frame was written.
    Video { output: PathBuf, video: VideoReport },
}

/// What a video run did.
#[derive(Debug, Clone)]
pub struct VideoReport {
    pub source: VideoInfo,
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    /// The source's audio was copied into the output.
    pub audio_copied: bool,
}

/// A 1 -> 1 output frame.
pub struct Mapped {
    pub index: u64,
    pub image: DynamicImage,
}

impl Numbered for Mapped {
    fn index(&self) -> u64 {
        self.index
    }
    fn image(&self) -> &DynamicImage {
        &self.image
    }
}

/// Runs `step` over `job.input` (an image, a folder or a video) into its outputs. One image's or a
/// video's error is returned as itself; a folder goes on past files that fail and reports them.
pub fn map_media<M: FrameMap>(job: &MapJob<'_>, step: &mut M) -> Result<MapReport, M::Error> {
    if is_video(job.input) {
        let output = match job.output {
            Some(path) => path.to_path_buf(),
            None => output_path(job.input, None, None, &job.batch.suffix, None),
        };
        let video = map_video(job, &output, step)?;
        return Ok(MapReport::Video { output, video });
    }
    let jobs = plan_jobs(job.input, job.output, &job.batch)?;
    if job.input.is_dir() {
        return map_files(&jobs, job, step).map(MapReport::Batch);
    }
    let one = jobs
        .into_iter()
        .next()
        .expect("plan_jobs gives one job for a file");
    OutputFormat::from_path(&one.output)?;
    let mut sizes = None;
    run(
        FrameSource::Images(vec![one.input.clone()]),
        FrameSink::Files {
            outputs: vec![one.output.clone()],
            write: job.write.clone(),
        },
        &run_options(job, 1, false),
        step,
        &mut sizes,
    )?;
    let (from, to) = sizes.unwrap_or_default();
    Ok(MapReport::Image {
        input: one.input,
        output: one.output,
        from,
        to,
    })
}

/// A folder batch: jobs whose output exists are skipped (when the batch options say so), the rest
/// run in order; a file that fails is reported and the batch goes on.
pub fn map_files<M: FrameMap>(
    jobs: &[Job],
    job: &MapJob<'_>,
    step: &mut M,
) -> Result<BatchReport, M::Error> {
    let mut report = BatchReport::default();
    let (done, todo): (Vec<&Job>, Vec<&Job>) = jobs
        .iter()
        .partition(|j| job.batch.skip_existing && j.output.is_file());
    report.skipped = done.into_iter().map(|j| j.output.clone()).collect();
    let folders: std::collections::BTreeSet<&Path> =
        todo.iter().filter_map(|j| j.output.parent()).collect();
    for folder in folders {
        crate::cleanup::remove_stale_partials(folder);
    }
    if todo.is_empty() {
        return Ok(report);
    }
    let written = run(
        FrameSource::Images(todo.iter().map(|j| j.input.clone()).collect()),
        FrameSink::Files {
            outputs: todo.iter().map(|j| j.output.clone()).collect(),
            write: job.write.clone(),
        },
        &run_options(job, todo.len() as u64, true),
        step,
        &mut None,
    )?;
    let failed: std::collections::HashMap<u64, String> = written
        .failed
        .into_iter()
        .map(|(i, e)| (i, e.to_string()))
        .collect();
    for (i, j) in (0u64..).zip(todo) {
        match failed.get(&i) {
            Some(message) => {
                // Every message names its file (model errors do not by themselves).
                let named = message.contains(&*j.input.to_string_lossy());
                let message = match named {
                    true => message.clone(),
                    false => format!("{}: {message}", j.input.display()),
                };
                report.failed.push((j.input.clone(), message));
            }
            None => report.written.push(j.output.clone()),
        }
    }
    Ok(report)
}

/// Every frame of the video `job.input` through `step`, encoded into `output` (a temporary name,
/// renamed when whole), audio and metadata copied as `job.video` says.
fn map_video<M: FrameMap>(
    job: &MapJob<'_>,
    output: &Path,
    step: &mut M,
) -> Result<VideoReport, M::Error> {
    if let (Ok(a), Ok(b)) = (job.input.canonicalize(), output.canonicalize())
        && a == b
    {
        return Err(Error::WouldOverwriteInput {
            path: output.to_path_buf(),
        }
        .into());
    }
    let ffmpeg = find_ffmpeg(job.ffmpeg)?;
    let info = probe(&ffmpeg, job.input, &job.limits)?;
    let (width, height) = step.output_size(info.width, info.height)?;
    let writer = VideoWriter::create(
        &ffmpeg,
        output,
        width,
        height,
        &info.frame_rate,
        info.high_bit_depth,
        Some(job.input),
        &job.video,
    )?;
    let source = FrameSource::Video {
        ffmpeg,
        path: job.input.to_path_buf(),
        info: info.clone(),
    };
    let expected = info.frames_estimate.unwrap_or(0);
    let written = run(
        source,
        FrameSink::Video(writer),
        &run_options(job, expected, false),
        step,
        &mut None,
    )?;
    Ok(VideoReport {
        audio_copied: info.has_audio && job.video.keep_audio,
        source: info,
        frames: written.frames,
        width,
        height,
    })
}

fn run_options<'a>(job: &MapJob<'a>, expected: u64, keep_going: bool) -> RunOptions<'a> {
    RunOptions {
        limits: job.limits,
        cancel: job.cancel,
        expected,
        label: job.label,
        show_progress: job.show_progress,
        keep_going,
    }
}

/// The first frame's input and output sizes.
type Sizes = Option<((u32, u32), (u32, u32))>;

/// [`run_frames`] with `step` mapping each source frame to one output frame; `sizes` gets the
/// first frame's input and output sizes.
fn run<M: FrameMap>(
    source: FrameSource,
    sink: FrameSink,
    options: &RunOptions<'_>,
    step: &mut M,
    sizes: &mut Sizes,
) -> Result<crate::frames::Written<M::Error>, M::Error> {
    let cancel = options.cancel;
    let (_, written) = run_frames(
        source,
        sink,
        options,
        |frames: SourceFrames| {
            Ok(frames.zip(0u64..).map(move |(frame, index)| {
                let frame = frame.map_err(M::Error::from)?;
                let image = step.map(&frame, cancel)?;
                sizes.get_or_insert((
                    (frame.width(), frame.height()),
                    (image.width(), image.height()),
                ));
                Ok::<_, M::Error>(Mapped { index, image })
            }))
        },
        |_| Ok(()),
    )?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doubles the size; fails on images 3 pixels wide.
    struct Double;

    impl FrameMap for Double {
        type Error = Error;
        fn output_size(&self, w: u32, h: u32) -> Result<(u32, u32), Error> {
            Ok((w * 2, h * 2))
        }
        fn map(&mut self, f: &DynamicImage, _: Option<&AtomicBool>) -> Result<DynamicImage, Error> {
            if f.width() == 3 {
                return Err(Error::Decode {
                    path: "three.png".into(),
                    reason: "three pixels wide".into(),
                });
            }
            Ok(f.resize_exact(f.width() * 2, f.height() * 2, image::imageops::Nearest))
        }
    }

    fn job<'a>(input: &'a Path, output: Option<&'a Path>) -> MapJob<'a> {
        MapJob::new(input, output)
    }

    #[test]
    fn folder_goes_on_past_failures_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        for (name, w) in [("a.png", 2), ("b.png", 3), ("c.png", 4)] {
            image::RgbImage::new(w, 2).save(input.join(name)).unwrap();
        }
        std::fs::write(input.join("d.png"), b"not a png").unwrap();
        let out = dir.path().join("out");
        let report = match map_media(&job(&input, Some(&out)), &mut Double).unwrap() {
            MapReport::Batch(r) => r,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            report.written,
            vec![out.join("a_out.png"), out.join("c_out.png")]
        );
        let failed: Vec<_> = report.failed.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(failed, vec![input.join("b.png"), input.join("d.png")]);
        assert!(report.failed[1].1.contains("d.png"), "{:?}", report.failed);
        assert_eq!(image::open(out.join("c_out.png")).unwrap().width(), 8);
        assert!(report.check().is_err());
        // A second run skips what is done and retries the rest.
        let again = match map_media(&job(&input, Some(&out)), &mut Double).unwrap() {
            MapReport::Batch(r) => r,
            other => panic!("{other:?}"),
        };
        assert_eq!(again.skipped.len(), 2);
        assert!(again.written.is_empty());
        assert_eq!(again.failed.len(), 2);
    }

    #[test]
    fn one_file_error_is_itself_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("b.png");
        image::RgbImage::new(3, 2).save(&input).unwrap();
        let out = dir.path().join("b_out.png");
        let err = map_media(&job(&input, Some(&out)), &mut Double).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
        assert!(!out.exists());
        let ok = dir.path().join("a.png");
        image::RgbImage::new(5, 2).save(&ok).unwrap();
        match map_media(&job(&ok, None), &mut Double).unwrap() {
            MapReport::Image {
                output, from, to, ..
            } => {
                assert_eq!((from, to), ((5, 2), (10, 4)));
                assert_eq!(output, dir.path().join("a_out.png"));
            }
            other => panic!("{other:?}"),
        }
    }
}
