//! Interpolation over media: a pair of images, a folder of frames or a video, through the one
//! frame pipeline ([`prism_media::frames::run_frames`]) with a 1 -> N step: [`PairStream`] for a
//! pair, [`InterpolatedStream`] (timing, scene cuts, dedup) for sequences. `prism interpolate` is
//! argument parsing plus [`interpolate_media`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use image::DynamicImage;
use prism_media::frames::{FrameSink, FrameSource, RunOptions, SourceFrames, run_frames};
use prism_media::video::{self, VideoOptions, VideoWriter};
use prism_media::{Limits, OutputFormat, WriteOptions, read_image, write_image};

use crate::error::{Error, Result};
use crate::flow::{Flow, flow_to_color, write_flo};
use crate::interpolator::{Interpolator, TimestepSupport};
use crate::sequence::{
    FrameKind, InterpolatedStream, OutputFrame, PairFlow, SequenceOptions, SequenceStats,
};
use crate::timing::{FrameRate, Timing};

/// What is interpolated.
#[derive(Debug, Clone)]
pub enum Source {
    /// Two images: frames at chosen timesteps between them.
    Pair(PathBuf, PathBuf),
    /// A folder's frames, in order.
    Frames(Vec<PathBuf>),
    /// A video file.
    Video(PathBuf),
}

/// A run: source, output and every option the command line sets.
pub struct MediaJob<'a> {
    pub source: Source,
    /// A folder for numbered frames, a video file, or (a pair with one timestep) an image file.
    pub output: &'a Path,
    /// Pairs: the timesteps, sorted, in (0, 1).
    pub timesteps: Vec<f64>,
    /// Sequences: output frames per source frame (when `fps` is not set).
    pub multiple: u32,
    /// Sequences: a target frame rate instead.
    pub fps: Option<FrameRate>,
    /// Rate of a frame folder (videos report their own); default 24.
    pub input_fps: Option<FrameRate>,
    pub scene_threshold: f64,
    pub dedup_threshold: Option<f64>,
    /// Also write each pair's flow (colour wheel PNG and .flo) to `OUTPUT/flow` or `OUTPUT-flow`.
    pub flow: bool,
    /// Also write an animated GIF of the frames (the first 240) here.
    pub preview: Option<&'a Path>,
    /// Extension of numbered output frames.
    pub frame_format: &'a str,
    /// Write into a folder that already holds numbered frames (default: refuse).
    pub overwrite: bool,
    pub video: VideoOptions,
    pub ffmpeg: Option<&'a Path>,
    pub limits: Limits,
    pub cancel: Option<Arc<AtomicBool>>,
    pub show_progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct MediaReport {
    pub stats: SequenceStats,
    /// Output frame rate (sequences).
    pub rate: Option<FrameRate>,
    /// Timesteps made (pairs).
    pub timesteps: Vec<f64>,
    /// Source pairs treated as scene cuts.
    pub scene_cuts: Vec<(u64, u64)>,
    /// Runs redone in FP32 after NaN/Inf in FP16.
    pub fp32_reruns: usize,
    /// Pixels of the frames written (width x height, summed).
    pub pixels: u64,
}

/// Most frames kept for the GIF preview.
const PREVIEW_FRAMES: usize = 240;

/// Runs `job` with `net`.
pub fn interpolate_media(net: &mut Interpolator, job: &MediaJob<'_>) -> Result<MediaReport> {
    let inputs: Vec<PathBuf> = match &job.source {
        Source::Pair(a, b) => vec![a.clone(), b.clone()],
        Source::Frames(paths) => paths.clone(),
        Source::Video(path) => vec![path.clone()],
    };
    let pair = matches!(job.source, Source::Pair(..));
    let out_video = !pair && video::is_video(job.output);
    // One frame of a pair into an image file.
    let single = pair && OutputFormat::from_path(job.output).is_ok();
    if out_video || single {
        if let Some(input) = inputs.iter().find(|i| same_file(i, job.output)) {
            return Err(prism_media::Error::WouldOverwriteInput {
                path: input.clone(),
            }
            .into());
        }
    } else {
        ensure_output_dir(job.output, &inputs, job.frame_format, job.overwrite)?;
    }
    let flow_dir = if out_video || single {
        let stem = job.output.file_stem().unwrap_or_default().to_string_lossy();
        job.output.with_file_name(format!("{stem}-flow"))
    } else {
        job.output.join("flow")
    };
    let ffmpeg = || prism_media::video::find_ffmpeg(job.ffmpeg);
    let video_info = match &job.source {
        Source::Video(path) => Some(video::probe(&ffmpeg()?, path, &job.limits)?),
        _ => None,
    };
    let mut report = MediaReport::default();
    let (source, expected, options) = match &job.source {
        Source::Pair(..) => (FrameSource::Images(inputs.clone()), 0, None),
        Source::Frames(paths) => {
            let rate = job.input_fps.unwrap_or(FrameRate { num: 24, den: 1 });
            let (options, expected) = sequence_options(job, rate, paths.len() as u64, false)?;
            report.rate = Some(options.timing.output_rate(rate));
            (FrameSource::Images(paths.clone()), expected, Some(options))
        }
        Source::Video(path) => {
            let info = video_info.clone().expect("probed above");
            let rate: FrameRate = info.frame_rate.parse().map_err(|e: Error| {
                Error::Input(format!("{}: unusable frame rate ({e})", path.display()))
            })?;
            let count = info.frames_estimate.unwrap_or(0);
            let (options, expected) = sequence_options(job, rate, count, out_video)?;
            report.rate = Some(options.timing.output_rate(rate));
            let source = FrameSource::Video {
                ffmpeg: ffmpeg()?,
                path: path.clone(),
                info,
            };
            (source, expected, Some(options))
        }
    };
    let write = WriteOptions {
        png_fast: true,
        ..WriteOptions::default()
    };
    let sink = if out_video {
        let (w, h, deep) = match &video_info {
            Some(info) => (info.width, info.height, info.high_bit_depth),
            None => {
                let first = read_image(&inputs[0], &job.limits)?.image;
                let deep = first.color().bytes_per_pixel() > first.color().channel_count();
                (first.width(), first.height(), deep)
            }
        };
        let rate = report.rate.expect("sequences have a rate").to_string();
        let audio = video_info.as_ref().map(|_| inputs[0].as_path());
        FrameSink::Video(VideoWriter::create(
            &ffmpeg()?,
            job.output,
            w,
            h,
            &rate,
            deep,
            audio,
            &job.video,
        )?)
    } else if single {
        FrameSink::Files {
            outputs: vec![job.output.to_path_buf()],
            write: WriteOptions::default(),
        }
    } else {
        FrameSink::Images {
            dir: job.output.to_path_buf(),
            extension: job.frame_format.to_string(),
            write,
        }
    };
    let run = RunOptions {
        limits: job.limits,
        cancel: job.cancel.as_deref(),
        expected,
        label: "interpolate",
        show_progress: job.show_progress,
        keep_going: false,
    };
    let mut gif = Vec::new();
    let mut on_frame = |frame: &OutputFrame| -> Result<()> {
        if let FrameKind::SceneCut { a, b } = frame.kind
            && report.scene_cuts.last() != Some(&(a, b))
        {
            report.scene_cuts.push((a, b));
        }
        if let Some(PairFlow { a, b, flow }) = &frame.flow {
            write_flow(&flow_dir, *a, *b, flow)?;
        }
        if job.preview.is_some() && gif.len() < PREVIEW_FRAMES {
            gif.push(frame.image.clone());
        }
        Ok(())
    };
    match options {
        None => {
            let make = |frames: SourceFrames| PairStream::new(net, frames, job, single);
            let (stream, written) = run_frames(source, sink, &run, make, &mut on_frame)?;
            report.timesteps = stream.timesteps;
            report.stats = stream.stats;
            report.pixels = written.pixels;
        }
        Some(options) => {
            let make = |frames: SourceFrames| {
                InterpolatedStream::new(net, frames.map(|f| f.map_err(Into::into)), options)
            };
            let (stream, written) = run_frames(source, sink, &run, make, &mut on_frame)?;
            report.stats = stream.stats().clone();
            report.pixels = written.pixels;
        }
    }
    if let (Some(path), false) = (job.preview, gif.is_empty()) {
        let delay = match report.rate {
            Some(rate) => (1000.0 / rate.as_f64()).round().max(20.0) as u32,
            None => {
                // A pair ping-pongs so the motion reads as a loop.
                let inner = gif.len().saturating_sub(2);
                let back: Vec<DynamicImage> =
                    gif.iter().rev().skip(1).take(inner).cloned().collect();
                let delay = 1000 / (gif.len() as u32).clamp(2, 25);
                gif.extend(back);
                delay
            }
        };
        prism_media::write_gif(path, &gif, delay)?;
    }
    report.fp32_reruns = net.fp32_reruns();
    Ok(report)
}

/// The sequence options of `job` for a source of `count` frames (0: unknown) at `rate`, and the
/// output frames expected (0: unknown).
fn sequence_options(
    job: &MediaJob<'_>,
    rate: FrameRate,
    count: u64,
    hold_last: bool,
) -> Result<(SequenceOptions, u64)> {
    let timing = match job.fps {
        Some(output) => Timing::Rate {
            input: rate,
            output,
        },
        None => Timing::Multiple(job.multiple),
    };
    timing.checked_output_rate(rate)?;
    let step = timing.step()?;
    let expected = if count > 0 {
        step.output_count(count, hold_last)
    } else {
        0
    };
    let options = SequenceOptions {
        timing,
        scene_threshold: job.scene_threshold,
        dedup_threshold: job.dedup_threshold,
        hold_last,
        flow: job.flow,
        cancel: job.cancel.clone(),
    };
    Ok((options, expected))
}

/// A pair's frames: the first image, the interpolated ones, the second image (or the one frame
/// alone for an image-file output); the pair's flow rides on the first interpolated frame.
pub struct PairStream {
    frames: std::vec::IntoIter<OutputFrame>,
    pub timesteps: Vec<f64>,
    pub stats: SequenceStats,
}

impl PairStream {
    fn new(
        net: &mut Interpolator,
        mut source: SourceFrames,
        job: &MediaJob<'_>,
        single: bool,
    ) -> Result<PairStream> {
        let mut next = || -> Result<DynamicImage> {
            let frame = source
                .next()
                .ok_or_else(|| Error::Input("a pair needs two images".into()))?;
            Ok(frame?)
        };
        let (a, b) = (next()?, next()?);
        let outs = net.interpolate_many(&a, &b, &job.timesteps)?;
        let flow = if job.flow {
            Some(pair_flow(net, &a, &b, &outs)?)
        } else {
            None
        };
        let timesteps: Vec<f64> = outs.iter().map(|o| o.t).collect();
        let interpolated = outs.len() as u64;
        let mut frames = Vec::new();
        if !single {
            frames.push((a, FrameKind::Source { index: 0 }));
        }
        for o in outs {
            frames.push((o.image, FrameKind::Interpolated { a: 0, b: 1, t: o.t }));
        }
        if !single {
            frames.push((b, FrameKind::Source { index: 1 }));
        }
        let mut flow = flow.map(|flow| PairFlow { a: 0, b: 1, flow });
        let frames: Vec<OutputFrame> = (0u64..)
            .zip(frames)
            .map(|(index, (image, kind))| OutputFrame {
                index,
                image,
                flow: match kind {
                    FrameKind::Interpolated { .. } => flow.take(),
                    _ => None,
                },
                kind,
            })
            .collect();
        let stats = SequenceStats {
            read: 2,
            written: frames.len() as u64,
            interpolated,
            ..SequenceStats::default()
        };
        Ok(PairStream {
            frames: frames.into_iter(),
            timesteps,
            stats,
        })
    }
}

impl Iterator for PairStream {
    type Item = Result<OutputFrame>;
    fn next(&mut self) -> Option<Self::Item> {
        self.frames.next().map(Ok)
    }
}

/// The motion of a pair: from the middle-most frame (for t = 0.5-only models the t = 0.5 run,
/// which sees the whole interval).
fn pair_flow(
    net: &mut Interpolator,
    a: &DynamicImage,
    b: &DynamicImage,
    outs: &[crate::Interpolated],
) -> Result<Flow> {
    let mid = outs
        .iter()
        .min_by(|x, y| (x.t - 0.5).abs().total_cmp(&(y.t - 0.5).abs()))
        .ok_or_else(|| Error::Input("no frames asked for".into()))?;
    if (mid.t - 0.5).abs() < 1e-12 || net.support() == TimestepSupport::Any {
        return Ok(mid.flow.clone());
    }
    Ok(net.interpolate_many(a, b, &[0.5])?.remove(0).flow)
}

/// Creates the output folder; refuses one that holds an input, and one with numbered frames of an
/// earlier run unless `overwrite` (they would mix).
fn ensure_output_dir(
    dir: &Path,
    inputs: &[PathBuf],
    extension: &str,
    overwrite: bool,
) -> Result<()> {
    let refuse = |reason: String| Error::Output {
        path: dir.to_path_buf(),
        reason,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(refuse(
            "the output must be a folder (or a video file name)".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    prism_media::cleanup::remove_stale_partials(dir);
    let out = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    for input in inputs {
        let canonical = input.canonicalize().ok();
        let parent = canonical.as_deref().and_then(Path::parent);
        if parent == Some(out.as_path()) || canonical.as_deref() == Some(out.as_path()) {
            return Err(refuse(format!(
                "it holds the input {}; choose another folder, inputs are never overwritten",
                input.display()
            )));
        }
    }
    if !overwrite {
        let numbered = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
            .find(|e| is_numbered_frame(&e.file_name().to_string_lossy(), extension));
        if let Some(entry) = numbered {
            return Err(refuse(format!(
                "it already holds frames of an earlier run ({}); pass --overwrite to replace them, \
                 or choose an empty folder",
                entry.file_name().to_string_lossy()
            )));
        }
    }
    Ok(())
}

/// `00000012.png`: a numbered output frame.
fn is_numbered_frame(name: &str, extension: &str) -> bool {
    name.strip_suffix(extension)
        .and_then(|stem| stem.strip_suffix('.'))
        .is_some_and(|digits| digits.len() >= 6 && digits.bytes().all(|c| c.is_ascii_digit()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// `dir/<a>-<b>.flo` and its colour-wheel `.png`.
fn write_flow(dir: &Path, a: u64, b: u64, flow: &Flow) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (u, v) = flow.motion();
    let stem = format!("{a:08}-{b:08}");
    write_flo(&dir.join(format!("{stem}.flo")), &u, &v)?;
    let picture = DynamicImage::ImageRgb8(flow_to_color(&u, &v, None));
    write_image(
        &dir.join(format!("{stem}.png")),
        &picture,
        None,
        &WriteOptions::default(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_frames() {
        assert!(is_numbered_frame("00000012.png", "png"));
        assert!(is_numbered_frame("000012.png", "png"));
        assert!(!is_numbered_frame("a00012.png", "png"));
        assert!(!is_numbered_frame("00000012.jpg", "png"));
        assert!(!is_numbered_frame("12.png", "png"));
    }
}
