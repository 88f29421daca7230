//! `prism interpolate`: flags -> a `MediaJob` (an image pair, a folder of frames or a video), then
//! one `interpolate_media` run with RIFE or FILM.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use prism_core::RuntimeOptions;
use prism_hub::resolve_model;
use prism_interpolate::sequence::{DEFAULT_DEDUP_THRESHOLD, DEFAULT_SCENE_THRESHOLD};
use prism_interpolate::{
    FrameRate, Interpolator, InterpolatorOptions, MediaJob, MediaReport, Source, interpolate_media,
};
use prism_media::BatchOptions;
use prism_media::video;

use crate::global::{self, say, usage};
use crate::media_args::{BatchArgs, VideoArgs, throughput};
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
    /// A model file or model id (rife-v4.6, rife-v4.0, rife-v4.0-refine, rife-hd-v3, film).
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
    /// Timesteps other than 0.5: `bisect` (recursive t = 0.5 runs), `direct` (one run at t), or
    /// `auto`: the model's own (bisection for FILM and t = 0.5-only models, direct for RIFE v4).
    #[arg(long, value_enum, default_value = "auto")]
    pub timestep_mode: TimestepModeArg,
    /// Memory one run may use, in MiB, for models that state their need (FILM); default: the
    /// memory available now (CPU).
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    pub memory_budget: Option<u64>,
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
    pub batch: BatchArgs,
    #[command(flatten)]
    pub video: VideoArgs,
    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TimestepModeArg {
    Auto,
    Bisect,
    Direct,
}

/// `--timestep`: a number strictly between 0 and 1.
fn parse_timestep(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(t) if t > 0.0 && t < 1.0 => Ok(t),
        _ => Err("expected a number between 0 and 1 (exclusive)".into()),
    }
}

pub fn run(args: InterpolateArgs, runtime: &RuntimeOptions) -> Result<()> {
    let source = classify(&args.inputs, &args.batch)?;
    let pair_plan = match &source {
        Source::Pair(..) => Some(plan_pair(&args)?),
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
        timestep_mode: match args.timestep_mode {
            TimestepModeArg::Auto => None,
            TimestepModeArg::Bisect => Some(prism_interpolate::TimestepMode::Bisect),
            TimestepModeArg::Direct => Some(prism_interpolate::TimestepMode::Direct),
        },
        memory_budget_mib: args.memory_budget,
        ..InterpolatorOptions::default()
    };
    let mut rife = Interpolator::new(&model, options)?;
    tracing::info!(model = %model.display(), provider = %rife.model().provider(), "interpolating");
    let weights = rife.model().info().metadata.get("prism.weights");
    if weights.map(String::as_str) == Some("seeded-random") {
        // Said even with -q: these frames are not the published network's.
        eprintln!(
            "warning: {}: SEEDED RANDOM weights (no real weights were available at export), not the published network; \
             export real ones with `python -m prism_export export ID --weights FILE`",
            model.display()
        );
    }
    let (timesteps, single) = pair_plan.map_or((Vec::new(), false), |p| (p.timesteps, p.single));
    let job = MediaJob {
        source,
        output: &args.output,
        timesteps,
        multiple: args.multi.unwrap_or(2),
        fps: args.fps,
        input_fps: args.input_fps,
        scene_threshold: args.scene_threshold,
        dedup_threshold: args.dedup.then_some(args.dedup_threshold),
        flow: args.flow,
        preview: args.preview.as_deref(),
        frame_format: &args.frame_format,
        overwrite: args.batch.overwrite,
        video: args.video.options(),
        ffmpeg: args.video.ffmpeg.as_deref(),
        limits: global::limits(),
        cancel: Some(global::interrupt_shared()),
        show_progress: global::show_progress(args.batch.no_progress),
    };
    let started = std::time::Instant::now();
    let report = interpolate_media(&mut rife, &job)?;
    say_report(&args, &report, single);
    if !single {
        say!(
            "{}",
            throughput(report.stats.written, report.pixels, started)
        );
    }
    Ok(())
}

fn classify(inputs: &[PathBuf], batch: &BatchArgs) -> Result<Source> {
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
                    recursive: batch.recursive,
                    glob: batch.glob.clone(),
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
            Ok(Source::Frames(frames))
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
fn plan_pair(args: &InterpolateArgs) -> Result<PairPlan> {
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
    Ok(PairPlan { timesteps, single })
}

/// What a run says when it is done.
fn say_report(args: &InterpolateArgs, report: &MediaReport, single: bool) {
    for (a, b) in &report.scene_cuts {
        say!("scene cut between frames {a} and {b}: repeating frame {a}");
    }
    for t in &report.timesteps {
        say!("t = {t:.6}");
    }
    let s = &report.stats;
    match report.rate {
        _ if single => say!(
            "wrote the frame at t = {:.6} to {}",
            report.timesteps[0],
            args.output.display()
        ),
        None => say!(
            "wrote {} frames ({} interpolated) to {}",
            s.written,
            s.interpolated,
            args.output.display()
        ),
        Some(rate) => say!(
            "read {} frames, wrote {} ({} interpolated, {} scene cuts, {} duplicates dropped) at {rate} fps to {}",
            s.read,
            s.written,
            s.interpolated,
            s.scene_cuts,
            s.duplicates_dropped,
            args.output.display()
        ),
    }
    if report.fp32_reruns > 0 {
        say!(
            "{} runs were redone in FP32 after NaN/Inf in FP16",
            report.fp32_reruns
        );
    }
}
