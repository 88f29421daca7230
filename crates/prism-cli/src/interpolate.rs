//! `prism interpolate`: RIFE frame interpolation of an image pair, a folder of frames or a video.
//!
//! Decoding, inference and encoding run on three threads joined by bounded channels, so the
//! model never waits for I/O and memory stays bounded on long videos.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use image::DynamicImage;
use prism_core::RuntimeOptions;
use prism_hub::resolve_model;
use prism_interpolate::sequence::{DEFAULT_DEDUP_THRESHOLD, DEFAULT_SCENE_THRESHOLD};
use prism_interpolate::{
    FrameKind, FrameRate, InterpolatedStream, Interpolator, InterpolatorOptions, OutputFrame,
    PairFlow, SequenceOptions, Timing, flow_to_color, write_flo,
};
use prism_media::frames::{FrameSink, FrameSource, RunOptions, run_frames};
use prism_media::video::{self, VideoWriter};
use prism_media::{BatchOptions, WriteOptions, read_image, write_image};

use crate::global::{self, say, usage};
use crate::media_args::VideoArgs;
use crate::session_args::SessionArgs;

#[derive(Args)]
pub struct InterpolateArgs {
    /// Two images (a pair), one folder of frames, or one video file.
    #[arg(required = true, num_args = 1..=2)]
    pub inputs: Vec<PathBuf>,
    /// Output: a folder for numbered frames, a video file (.mp4, .mkv, .mov, ...), or for a pair
    /// with one timestep an image file (.png, .jpg, .webp, .tiff) for that frame alone.
    #[arg(short, long)]
    pub output: PathBuf,
    /// A RIFE model file or model id (rife-v4.6, rife-v4.0, rife-v4.0-refine, rife-hd-v3).
    #[arg(short, long, default_value = "rife-v4.6")]
    pub model: String,
    /// Pairs: this many evenly spaced frames between the two images.
    #[arg(short = 'n', long, conflicts_with = "timestep", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub frames: Option<u32>,
    /// Pairs: a frame at this timestep in (0, 1); repeat for several.
    #[arg(short, long, value_parser = parse_timestep)]
    pub timestep: Vec<f64>,
    /// Sequences: output frames per source frame (x2, x3, ...).
    #[arg(short = 'x', long, conflicts_with = "fps", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub multi: Option<u32>,
    /// Sequences: target frame rate (60, 59.94, 30000/1001, ...).
    #[arg(long)]
    pub fps: Option<FrameRate>,
    /// Frame rate of a frame folder (videos report their own); default 24.
    #[arg(long)]
    pub input_fps: Option<FrameRate>,
    /// Flow resolution: 0.25, 0.5 (UHD input), 1, 2 or 4; uses the model's `-scale<S>` variant.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Also run the swapped pair at 1 - t and average.
    #[arg(long)]
    pub ensemble: bool,
    /// Also run the mirrored pair and average (test-time augmentation).
    #[arg(long)]
    pub tta: bool,
    /// t = 0.5-only models: use the nearest reachable timestep (with a warning) instead of failing.
    #[arg(long)]
    pub nearest_timestep: bool,
    /// Scene-cut threshold: a pair whose thumbnail SSIM is below it gets a repeated frame (0: off).
    #[arg(long, default_value_t = DEFAULT_SCENE_THRESHOLD)]
    pub scene_threshold: f64,
    /// Drop duplicate (static) frames before interpolating.
    #[arg(long)]
    pub dedup: bool,
    /// Thumbnail SSIM at or above which a frame is a duplicate.
    #[arg(long, default_value_t = DEFAULT_DEDUP_THRESHOLD)]
    pub dedup_threshold: f64,
    /// Write each pair's estimated flow to OUTPUT/flow (or OUTPUT-flow for videos) as a
    /// colour-wheel PNG and a Middlebury .flo file.
    #[arg(long)]
    pub flow: bool,
    /// Also write an animated GIF preview of the frames here.
    #[arg(long, value_name = "GIF")]
    pub preview: Option<PathBuf>,
    /// Extension (format) of output frames.
    #[arg(long, default_value = "png")]
    pub frame_format: String,
    #[command(flatten)]
    pub video: VideoArgs,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub session: SessionArgs,
}

/// `--timestep`: a number strictly between 0 and 1.
fn parse_timestep(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(t) if t > 0.0 && t < 1.0 => Ok(t),
        _ => Err("expected a number between 0 and 1 (exclusive)".into()),
    }
}

enum Source {
    Pair(PathBuf, PathBuf),
    Folder(Vec<PathBuf>),
    Video(PathBuf),
}

pub fn run(args: InterpolateArgs, runtime: &RuntimeOptions) -> Result<()> {
    let source = classify(&args.inputs)?;
    let pair_plan = match &source {
        Source::Pair(a, b) => Some(plan_pair(&args, a, b)?),
        _ if args.frames.is_some() || !args.timestep.is_empty() => {
            usage!("--frames and --timestep are for pairs; for sequences use --multi or --fps")
        }
        _ => None,
    };
    let model = model_path(&args.model, args.scale)?;
    let options = InterpolatorOptions {
        session: args.session.options(runtime),
        ensemble: args.ensemble,
        tta: args.tta,
        nearest_timestep: args.nearest_timestep,
        ..InterpolatorOptions::default()
    };
    let mut rife = Interpolator::new(&model, options)?;
    tracing::info!(model = %model.display(), provider = %rife.model().provider(), "interpolating");
    match source {
        Source::Pair(a, b) => pair(
            &args,
            &mut rife,
            (&a, &b),
            pair_plan.expect("planned above"),
        ),
        Source::Folder(frames) => sequence(&args, &mut rife, SequenceInput::Folder(frames)),
        Source::Video(path) => sequence(&args, &mut rife, SequenceInput::Video(path)),
    }
}

fn classify(inputs: &[PathBuf]) -> Result<Source> {
    for input in inputs {
        if !input.exists() {
            usage!("{}: no such file or folder", input.display());
        }
    }
    match inputs {
        [a, b] if a.is_file() && b.is_file() => Ok(Source::Pair(a.clone(), b.clone())),
        [one] if one.is_dir() => {
            let frames = prism_media::collect_inputs(
                one,
                &BatchOptions {
                    skip_existing: false,
                    ..BatchOptions::default()
                },
            )?;
            if frames.len() < 2 {
                return Err(prism_interpolate::Error::Input(format!(
                    "{}: a sequence needs at least two frames",
                    one.display()
                ))
                .into());
            }
            Ok(Source::Folder(frames))
        }
        [one] if video::is_video(one) => Ok(Source::Video(one.clone())),
        [one] => usage!(
            "{}: give two images (a pair), a folder of frames, or a video",
            one.display()
        ),
        _ => usage!("two inputs must both be image files"),
    }
}

/// The model file for `--scale`: the `-scale<S>` variant of a model id (exported by
/// `prism_export`), since the flow scale is fixed inside each exported graph.
fn model_path(model: &str, scale: f64) -> Result<PathBuf> {
    let id = prism_interpolate::scale_variant(model, scale)?;
    let path = resolve_model(&id).with_context(|| {
        format!("--scale {scale} needs the model `{id}` (export it with `python -m prism_export export {id}`)")
    })?;
    Ok(path)
}

/// What a pair run writes: its timesteps, and whether `-o` names one image file for one frame.
struct PairPlan {
    timesteps: Vec<f64>,
    single: bool,
}

/// Checks a pair's flags before any work starts.
fn plan_pair(args: &InterpolateArgs, a: &Path, b: &Path) -> Result<PairPlan> {
    if args.multi.is_some() || args.fps.is_some() {
        usage!("--multi and --fps are for sequences; for a pair use --frames or --timestep");
    }
    let timesteps: Vec<f64> = if args.timestep.is_empty() {
        let n = args.frames.unwrap_or(1);
        (1..=n).map(|i| f64::from(i) / f64::from(n + 1)).collect()
    } else {
        let mut ts = args.timestep.clone();
        ts.sort_by(f64::total_cmp);
        ts
    };
    // An image name on -o: the one frame asked for, in that file.
    let single = prism_media::OutputFormat::from_path(&args.output).is_ok();
    if single && timesteps.len() != 1 {
        usage!(
            "{}: an image file holds one frame, but {} were asked for; give a folder instead",
            args.output.display(),
            timesteps.len()
        );
    }
    if single && [a, b].iter().any(|i| same_file(i, &args.output)) {
        return Err(prism_media::Error::WouldOverwriteInput {
            path: args.output.clone(),
        }
        .into());
    }
    Ok(PairPlan { timesteps, single })
}

fn pair(
    args: &InterpolateArgs,
    rife: &mut Interpolator,
    (a, b): (&Path, &Path),
    plan: PairPlan,
) -> Result<()> {
    let PairPlan {
        timesteps: ts,
        single,
    } = plan;
    let limits = global::limits();
    let ia = read_image(a, &limits)?;
    let ib = read_image(b, &limits)?;
    let outs = rife.interpolate_many(&ia.image, &ib.image, &ts)?;
    global::check_interrupted()?;
    let icc = ia.icc_profile.as_deref();
    let mut frames: Vec<DynamicImage> = vec![ia.image.clone()];
    frames.extend(outs.iter().map(|o| o.image.clone()));
    frames.push(ib.image.clone());
    let flow_dir = if single {
        write_image(&args.output, &frames[1], icc, &WriteOptions::default())?;
        flow_folder_beside(&args.output)
    } else {
        let dir = &args.output;
        ensure_output_dir(dir, &[a, b])?;
        for (i, frame) in frames.iter().enumerate() {
            let path = dir.join(format!("{i:06}.{}", args.frame_format));
            write_image(&path, frame, icc, &WriteOptions::default())?;
        }
        dir.join("flow")
    };
    for o in &outs {
        say!("t = {:.6}", o.t);
    }
    if args.flow {
        // The motion of the pair: from the middle-most frame (for t = 0.5-only models the
        // t = 0.5 run, which sees the whole interval).
        let mid = outs
            .iter()
            .min_by(|x, y| (x.t - 0.5).abs().total_cmp(&(y.t - 0.5).abs()))
            .expect("at least one frame");
        let flow = if (mid.t - 0.5).abs() < 1e-12
            || rife.support() == prism_interpolate::TimestepSupport::Any
        {
            mid.flow.clone()
        } else {
            rife.interpolate_many(&ia.image, &ib.image, &[0.5])?
                .remove(0)
                .flow
        };
        let (u, v) = flow.motion();
        write_flow(&flow_dir, 0, 1, &u, &v)?;
    }
    if let Some(gif) = &args.preview {
        // Ping-pong so the motion reads as a loop.
        let mut seq = frames.clone();
        seq.extend(
            frames
                .iter()
                .rev()
                .skip(1)
                .take(frames.len().saturating_sub(2))
                .cloned(),
        );
        write_gif(gif, &seq, 1000 / (frames.len() as u32).clamp(2, 25))?;
    }
    if single {
        say!(
            "wrote the frame at t = {:.6} to {}",
            ts[0],
            args.output.display()
        );
    } else {
        say!(
            "wrote {} frames ({} interpolated) to {}",
            frames.len(),
            outs.len(),
            args.output.display()
        );
    }
    Ok(())
}

enum SequenceInput {
    Folder(Vec<PathBuf>),
    Video(PathBuf),
}

fn sequence(args: &InterpolateArgs, rife: &mut Interpolator, input: SequenceInput) -> Result<()> {
    let ffmpeg = || prism_media::video::find_ffmpeg(args.video.ffmpeg.as_deref());
    let out_video = video::is_video(&args.output);
    // Source facts: frame count (for progress), rate, size, whether frames are 16-bit.
    let (count, in_rate, video_info, input_paths): (Option<u64>, FrameRate, _, Vec<PathBuf>) =
        match &input {
            SequenceInput::Folder(frames) => (
                Some(frames.len() as u64),
                args.input_fps.unwrap_or(FrameRate { num: 24, den: 1 }),
                None,
                frames.clone(),
            ),
            SequenceInput::Video(path) => {
                let info = video::probe(&ffmpeg()?, path, &global::limits())?;
                let rate: FrameRate = info.frame_rate.parse().with_context(|| {
                    format!(
                        "{}: unusable frame rate {}",
                        path.display(),
                        info.frame_rate
                    )
                })?;
                (info.frames_estimate, rate, Some(info), vec![path.clone()])
            }
        };
    let timing = match (args.multi, args.fps) {
        (_, Some(output)) => Timing::Rate {
            input: in_rate,
            output,
        },
        (m, None) => Timing::Multiple(m.unwrap_or(2)),
    };
    let out_rate = timing.checked_output_rate(in_rate)?;
    let hold_last = matches!(input, SequenceInput::Video(_)) && out_video;
    let step = timing.step()?;
    let expected = count.map(|n| step.output_count(n, hold_last));
    let options = SequenceOptions {
        timing,
        scene_threshold: args.scene_threshold,
        dedup_threshold: args.dedup.then_some(args.dedup_threshold),
        hold_last,
        flow: args.flow,
        cancel: Some(global::interrupt_shared()),
    };
    let inputs: Vec<&Path> = input_paths.iter().map(PathBuf::as_path).collect();
    let flow_dir = if out_video {
        flow_folder_beside(&args.output)
    } else {
        ensure_output_dir(&args.output, &inputs)?;
        args.output.join("flow")
    };
    if out_video && inputs.iter().any(|i| same_file(i, &args.output)) {
        return Err(prism_media::Error::WouldOverwriteInput {
            path: args.output.clone(),
        }
        .into());
    }
    let sink = if out_video {
        let (w, h, deep) = match &video_info {
            Some(info) => (info.width, info.height, info.high_bit_depth),
            None => {
                let first = read_image(inputs[0], &global::limits())?.image;
                let deep = matches!(
                    first,
                    DynamicImage::ImageRgb16(_)
                        | DynamicImage::ImageRgba16(_)
                        | DynamicImage::ImageLuma16(_)
                        | DynamicImage::ImageLumaA16(_)
                );
                (first.width(), first.height(), deep)
            }
        };
        let source_for_audio = video_info.is_some().then(|| inputs[0].to_path_buf());
        FrameSink::Video(VideoWriter::create(
            &ffmpeg()?,
            &args.output,
            w,
            h,
            &out_rate.to_string(),
            deep,
            source_for_audio.as_deref(),
            &args.video.options(),
        )?)
    } else {
        FrameSink::Images {
            dir: args.output.clone(),
            extension: args.frame_format.clone(),
            write: WriteOptions {
                png_fast: true,
                ..WriteOptions::default()
            },
        }
    };
    let source = match input {
        SequenceInput::Folder(paths) => FrameSource::Images(paths),
        SequenceInput::Video(path) => FrameSource::Video {
            ffmpeg: ffmpeg()?,
            path,
            info: video_info.clone().expect("probed"),
        },
    };
    let run = RunOptions {
        limits: global::limits(),
        cancel: Some(global::interrupt_flag()),
        expected: expected.unwrap_or(0),
        label: "interpolate",
        show_progress: global::show_progress(args.no_progress),
    };
    let mut gif_frames = Vec::new();
    let mut last_cut = None;
    let (stream, _) = run_frames(
        source,
        sink,
        &run,
        |frames| InterpolatedStream::new(rife, frames.map(|f| f.map_err(Into::into)), options),
        |frame: &OutputFrame| -> prism_interpolate::Result<()> {
            if let FrameKind::SceneCut { a, b } = frame.kind
                && last_cut != Some((a, b))
            {
                say!("scene cut between frames {a} and {b}: repeating frame {a}");
                last_cut = Some((a, b));
            }
            if let Some(PairFlow { a, b, flow }) = &frame.flow {
                let (u, v) = flow.motion();
                write_flow(&flow_dir, *a, *b, &u, &v)?;
            }
            if args.preview.is_some() && gif_frames.len() < 240 {
                gif_frames.push(frame.image.clone());
            }
            Ok(())
        },
    )?;
    if let (Some(gif), false) = (&args.preview, gif_frames.is_empty()) {
        let delay = (1000.0 / out_rate.as_f64()).round().max(20.0) as u32;
        write_gif(gif, &gif_frames, delay)?;
    }
    let stats = stream.stats().clone();
    say!(
        "read {} frames, wrote {} ({} interpolated, {} scene cuts, {} duplicates dropped) at {} fps to {}",
        stats.read,
        stats.written,
        stats.interpolated,
        stats.scene_cuts,
        stats.duplicates_dropped,
        out_rate,
        args.output.display()
    );
    if rife.fp32_reruns() > 0 {
        say!(
            "{} runs were redone in FP32 after NaN/Inf in FP16",
            rife.fp32_reruns()
        );
    }
    Ok(())
}

/// Creates the output folder; refuses one that holds an input (frames would overwrite it).
fn ensure_output_dir(dir: &Path, inputs: &[&Path]) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        usage!(
            "{}: the output must be a folder (or a video file name)",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    prism_media::cleanup::remove_stale_partials(dir);
    let out = dir.canonicalize()?;
    for input in inputs {
        let parent = input
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        if parent.as_deref() == Some(out.as_path())
            || input.canonicalize().ok().as_deref() == Some(out.as_path())
        {
            usage!(
                "{}: the output folder holds the input {}; choose another, inputs are never overwritten",
                dir.display(),
                input.display()
            );
        }
    }
    Ok(())
}

/// `<stem>-flow` beside a file output (a video or a single frame).
fn flow_folder_beside(output: &Path) -> PathBuf {
    let stem = output.file_stem().unwrap_or_default().to_string_lossy();
    output.with_file_name(format!("{stem}-flow"))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn write_flow(
    dir: &Path,
    a: u64,
    b: u64,
    u: &ndarray::Array2<f32>,
    v: &ndarray::Array2<f32>,
) -> prism_interpolate::Result<()> {
    std::fs::create_dir_all(dir).map_err(|error| prism_interpolate::Error::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    let stem = format!("{a:08}-{b:08}");
    write_flo(&dir.join(format!("{stem}.flo")), u, v)?;
    let picture = DynamicImage::ImageRgb8(flow_to_color(u, v, None));
    write_image(
        &dir.join(format!("{stem}.png")),
        &picture,
        None,
        &WriteOptions::default(),
    )?;
    Ok(())
}

fn write_gif(path: &Path, frames: &[DynamicImage], delay_ms: u32) -> Result<()> {
    prism_media::write_gif(path, frames, delay_ms)?;
    Ok(())
}
