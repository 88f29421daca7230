//! The command's file-level runs, in pieces that `prism.ray` spreads over workers: folder batches
//! (output names, resume, atomic writes: `prism upscale` / `prism style fast` on a list of files)
//! and interpolation segments (`prism interpolate` on a range of frames, numbered as the whole
//! run), plus the video decoding and encoding around them.

use std::path::{Path, PathBuf};

use prism_interpolate::segment::{Segment, interpolate_segment as run_segment, plan_segments};
use prism_interpolate::{FrameRate, SequenceOptions, Timing};
use prism_media::map::map_files as run_map_files;
use prism_media::video::{self, VideoOptions, VideoReader, VideoWriter};
use prism_media::{BatchOptions, Job, Limits, MapJob, WriteOptions};
use prism_style::{FastOptions, FastStep};
use pyo3::prelude::*;

use crate::errors::{IntoPy, usage};
use crate::interpolate::Interpolator;
use crate::style::FastStyle;
use crate::upscale::Upscaler;

/// What a batch did: outputs written, outputs skipped (already there), failed (input, message).
type BatchResult = (Vec<PathBuf>, Vec<PathBuf>, Vec<(PathBuf, String)>);

/// A folder's inputs as `prism upscale`/`style fast`/`interpolate` take them (sorted).
#[pyfunction]
#[pyo3(signature = (input, *, recursive = false, glob = None))]
pub fn list_inputs(
    input: PathBuf,
    recursive: bool,
    glob: Option<String>,
) -> PyResult<Vec<PathBuf>> {
    let options = BatchOptions {
        recursive,
        glob,
        ..BatchOptions::default()
    };
    prism_media::collect_inputs(&input, &options).py_err()
}

/// The (input, output) pairs of a batch, named as the command names them.
#[pyfunction]
#[pyo3(signature = (input, output, suffix, *, recursive = false, glob = None, format = None))]
pub fn plan_batch(
    input: PathBuf,
    output: Option<PathBuf>,
    suffix: String,
    recursive: bool,
    glob: Option<String>,
    format: Option<String>,
) -> PyResult<Vec<(PathBuf, PathBuf)>> {
    let options = BatchOptions {
        recursive,
        glob,
        suffix,
        extension: format,
        skip_existing: true,
    };
    let jobs = prism_media::plan_jobs(&input, output.as_deref(), &options).py_err()?;
    Ok(jobs.into_iter().map(|j| (j.input, j.output)).collect())
}

/// Runs an `Upscaler` or a `FastStyle` over `inputs` into `outputs` as the command's folder
/// batch does: existing outputs are skipped unless `overwrite`, a failing file is reported and
/// the rest go on.
#[pyfunction]
#[pyo3(signature = (
    step, inputs, outputs, *, quality = 95, overwrite = false, content_scale = 1.0,
    strength = 1.0, preserve_colors = false
))]
#[allow(clippy::too_many_arguments)]
pub fn map_files(
    py: Python<'_>,
    step: &Bound<'_, PyAny>,
    inputs: Vec<PathBuf>,
    outputs: Vec<PathBuf>,
    quality: u8,
    overwrite: bool,
    content_scale: f32,
    strength: f32,
    preserve_colors: bool,
) -> PyResult<BatchResult> {
    if inputs.len() != outputs.len() {
        return Err(usage("inputs and outputs must be lists of the same length"));
    }
    if !(1..=100).contains(&quality) {
        return Err(usage(format!(
            "invalid value '{quality}' for quality: 1 to 100"
        )));
    }
    let jobs: Vec<Job> = inputs
        .into_iter()
        .zip(outputs)
        .map(|(input, output)| Job { input, output })
        .collect();
    let mut job = MapJob::new(Path::new(""), None);
    job.batch.skip_existing = !overwrite;
    job.write = WriteOptions {
        jpeg_quality: quality,
        ..WriteOptions::default()
    };
    let report = if let Ok(up) = step.cast::<Upscaler>() {
        let up = up.get();
        py.detach(|| {
            let mut net = up.inner.lock().unwrap_or_else(|p| p.into_inner());
            run_map_files(&jobs, &job, &mut *net).py_err()
        })?
    } else if let Ok(style) = step.cast::<FastStyle>() {
        let options = FastOptions {
            content_scale,
            strength,
            preserve_colors,
        };
        options.validate().py_err()?;
        let style = style.get();
        py.detach(|| {
            let mut net = style.inner.lock().unwrap_or_else(|p| p.into_inner());
            let mut step = FastStep {
                net: &mut net,
                options,
            };
            run_map_files(&jobs, &job, &mut step).py_err()
        })?
    } else {
        return Err(usage(
            "map_files takes a prism.Upscaler or a prism.FastStyle",
        ));
    };
    Ok((report.written, report.skipped, report.failed))
}

/// `prism interpolate`'s sequence options (timing, cuts, dedup) and the output rate.
#[allow(clippy::too_many_arguments)]
fn sequence(
    input_fps: &str,
    multiple: u32,
    fps: Option<&str>,
    scene_threshold: f64,
    dedup: bool,
    dedup_threshold: f64,
    hold_last: bool,
) -> PyResult<(SequenceOptions, FrameRate)> {
    let input: FrameRate = input_fps.parse().py_err()?;
    let timing = match fps {
        Some(rate) => Timing::Rate {
            input,
            output: rate.parse().py_err()?,
        },
        None => Timing::Multiple(multiple),
    };
    let rate = timing.checked_output_rate(input).py_err()?;
    timing.step().py_err()?;
    let options = SequenceOptions {
        timing,
        scene_threshold,
        dedup_threshold: dedup.then_some(dedup_threshold),
        hold_last,
        flow: false,
        cancel: None,
    };
    Ok((options, rate))
}

/// Segments of `frames` for separate runs: the output rate and, per segment, (first, last)
/// source frames and the output numbers [start, end) it writes.
#[pyfunction]
#[pyo3(signature = (
    frames, *, input_fps = "24", multiple = 2, fps = None, scene_threshold = 0.2, dedup = false,
    dedup_threshold = 0.996, hold_last = false, segment_frames = 0, at_cuts = true
))]
#[allow(clippy::too_many_arguments)]
pub fn segments(
    py: Python<'_>,
    frames: Vec<PathBuf>,
    input_fps: &str,
    multiple: u32,
    fps: Option<&str>,
    scene_threshold: f64,
    dedup: bool,
    dedup_threshold: f64,
    hold_last: bool,
    segment_frames: u64,
    at_cuts: bool,
) -> PyResult<(String, Vec<(u64, u64, u64, u64)>)> {
    let (options, rate) = sequence(
        input_fps,
        multiple,
        fps,
        scene_threshold,
        dedup,
        dedup_threshold,
        hold_last,
    )?;
    let plan = py.detach(|| {
        plan_segments(
            &frames,
            &options,
            segment_frames,
            at_cuts,
            &Limits::default(),
        )
        .py_err()
    })?;
    let mut out = Vec::with_capacity(plan.len());
    for s in plan {
        let range = s.outputs(&options).py_err()?;
        out.push((s.first, s.last, range.start, range.end));
    }
    Ok((rate.to_string(), out))
}

/// Interpolates source frames `first..=last` of `frames` into `output` (a folder) as numbered
/// frames with the whole run's numbers; returns (read, written, interpolated, cuts, dropped).
#[pyfunction]
#[pyo3(signature = (
    interpolator, frames, first, last, output, *, input_fps = "24", multiple = 2, fps = None,
    scene_threshold = 0.2, dedup = false, dedup_threshold = 0.996, hold_last = false,
    frame_format = "png"
))]
#[allow(clippy::too_many_arguments)]
pub fn interpolate_segment(
    py: Python<'_>,
    interpolator: &Bound<'_, Interpolator>,
    frames: Vec<PathBuf>,
    first: u64,
    last: u64,
    output: PathBuf,
    input_fps: &str,
    multiple: u32,
    fps: Option<&str>,
    scene_threshold: f64,
    dedup: bool,
    dedup_threshold: f64,
    hold_last: bool,
    frame_format: &str,
) -> PyResult<(u64, u64, u64, u64, u64)> {
    let (options, _) = sequence(
        input_fps,
        multiple,
        fps,
        scene_threshold,
        dedup,
        dedup_threshold,
        hold_last,
    )?;
    let segment = Segment {
        first,
        last,
        count: frames.len() as u64,
    };
    let net = interpolator.get();
    let stats = py.detach(|| {
        let mut rife = net.inner.lock().unwrap_or_else(|p| p.into_inner());
        run_segment(
            &mut rife,
            &frames,
            segment,
            options,
            &output,
            frame_format,
            &Limits::default(),
        )
        .py_err()
    })?;
    Ok((
        stats.read,
        stats.written,
        stats.interpolated,
        stats.scene_cuts,
        stats.duplicates_dropped,
    ))
}

/// Removes temporary files that killed writers left in `folder` (on this machine); returns how many.
#[pyfunction]
pub fn remove_partials(folder: PathBuf) -> usize {
    prism_media::cleanup::remove_stale_partials(&folder)
}

/// Decodes a video into `folder/00000000.png`, ... (lossless, as `prism` reads it); returns
/// (frame rate, frames, has audio, more than 8 bits).
#[pyfunction]
#[pyo3(signature = (path, folder, *, ffmpeg = None))]
pub fn decode_video(
    py: Python<'_>,
    path: PathBuf,
    folder: PathBuf,
    ffmpeg: Option<PathBuf>,
) -> PyResult<(String, u64, bool, bool)> {
    py.detach(|| -> PyResult<_> {
        let ffmpeg = video::find_ffmpeg(ffmpeg.as_deref()).py_err()?;
        let info = video::probe(&ffmpeg, &path, &Limits::default()).py_err()?;
        std::fs::create_dir_all(&folder)
            .map_err(|error| prism_media::Error::Io {
                path: folder.clone(),
                error,
            })
            .py_err()?;
        let mut reader = VideoReader::open(&ffmpeg, &path, &info).py_err()?;
        let write = WriteOptions {
            png_fast: true,
            ..WriteOptions::default()
        };
        let mut count = 0u64;
        while let Some(frame) = reader.read_frame().py_err()? {
            let name = folder.join(format!("{count:08}.png"));
            prism_media::write_image(&name, &frame, None, &write).py_err()?;
            count += 1;
        }
        Ok((info.frame_rate, count, info.has_audio, info.high_bit_depth))
    })
}

/// Encodes `frames` (files, in order) into `output` at `frame_rate` as `prism interpolate`
/// encodes its video outputs, with `audio_from`'s audio copied in.
#[pyfunction]
#[pyo3(signature = (
    frames, output, frame_rate, *, audio_from = None, deep = false, codec = "libx264", crf = 18,
    preset = "medium", pix_fmt = "yuv420p", ffmpeg = None
))]
#[allow(clippy::too_many_arguments)]
pub fn encode_video(
    py: Python<'_>,
    frames: Vec<PathBuf>,
    output: PathBuf,
    frame_rate: &str,
    audio_from: Option<PathBuf>,
    deep: bool,
    codec: &str,
    crf: u8,
    preset: &str,
    pix_fmt: &str,
    ffmpeg: Option<PathBuf>,
) -> PyResult<()> {
    let options = VideoOptions {
        codec: codec.to_string(),
        crf: Some(crf),
        preset: Some(preset.to_string()),
        pixel_format: Some(pix_fmt.to_string()),
        keep_audio: audio_from.is_some(),
        extra_args: Vec::new(),
    };
    py.detach(|| -> PyResult<()> {
        let ffmpeg = video::find_ffmpeg(ffmpeg.as_deref()).py_err()?;
        let Some(first) = frames.first() else {
            return Err(usage("encode_video needs at least one frame"));
        };
        let limits = Limits::default();
        let image = prism_media::read_image(first, &limits).py_err()?.image;
        let (w, h) = (image.width(), image.height());
        let mut writer = VideoWriter::create(
            &ffmpeg,
            &output,
            w,
            h,
            frame_rate,
            deep,
            audio_from.as_deref(),
            &options,
        )
        .py_err()?;
        writer.write_frame(&image).py_err()?;
        for path in &frames[1..] {
            let image = prism_media::read_image(path, &limits).py_err()?.image;
            writer.write_frame(&image).py_err()?;
        }
        writer.finish().py_err()
    })
}
