//! Running one job: the same library calls as `prism upscale`, `prism interpolate`, `prism style
//! fast` and `prism style neural` (so results are the command's, byte for byte), with the job's
//! progress reported as it goes. Inputs and outputs are files of the job's own folder.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use image::DynamicImage;
use prism_interpolate::sequence::DEFAULT_SCENE_THRESHOLD;
use prism_interpolate::{Interpolator, InterpolatorOptions, MediaJob, Source, interpolate_media};
use prism_media::{
    BatchOptions, FrameMap, MapJob, WriteOptions, map_media, read_image, write_image,
};
use prism_style::{
    Arbitrary, FastStep, FastStyle, FeedForward, MultiStyle, NeuralOptions, StyleImage, StyleMix,
    Vgg, neural_style,
};
use prism_upscale::{Control, OutputScale, TileProgress, UpscaleOptions, Upscaler};

use crate::jobs::{Job, JobFile, Jobs, State, Task};
use crate::request::{ARBITRARY, Options};

/// Runs queued job `id` to its end (done, failed or cancelled).
pub fn run(jobs: &Jobs, id: &str) {
    let Some(job) = jobs.get(id) else { return };
    let cancel = jobs.cancel_flag(id).unwrap_or_default();
    if job.state != State::Queued || cancel.load(Ordering::SeqCst) {
        return;
    }
    jobs.update(id, true, |j| {
        j.state = State::Running;
        j.message = "loading the model".into();
    });
    let started = Instant::now();
    let dir = jobs.dir(id);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        execute(jobs, &job, &dir, &cancel)
    }))
    .unwrap_or_else(|_| Err("internal error (a panic); see the server's log".into()));
    let files = list_files(&dir, &job);
    let cancelled = cancel.load(Ordering::SeqCst);
    jobs.update(id, true, |j| {
        j.files = files;
        j.seconds = Some(started.elapsed().as_secs_f64());
        match outcome {
            Ok(message) => {
                j.state = State::Done;
                j.message = message;
                j.done = j.total.max(j.done);
            }
            Err(_) if cancelled => {
                j.state = State::Cancelled;
                j.message = "cancelled".into();
            }
            Err(e) => {
                tracing::warn!("job {id}: {e}");
                j.state = State::Failed;
                j.error = Some(e);
            }
        }
    });
}

type Outcome = Result<String, String>;

fn execute(jobs: &Jobs, job: &Job, dir: &Path, cancel: &AtomicBool) -> Outcome {
    let options: Options =
        serde_json::from_value(job.options.clone()).map_err(|e| e.to_string())?;
    let inputs: Vec<PathBuf> = job
        .files
        .iter()
        .filter(|f| f.role == "input" || f.role == "style")
        .map(|f| dir.join(&f.name))
        .collect();
    let progress = |done: u64, total: u64, unit: &str, message: &str| {
        jobs.update(&job.id, false, |j| {
            j.done = done;
            j.total = total;
            j.unit = unit.into();
            if !message.is_empty() {
                j.message = message.into();
            }
        });
    };
    let session = jobs.options.session.clone();
    let limits = jobs.options.limits;
    match job.task {
        Task::Upscale => {
            let up = UpscaleOptions {
                session,
                tile: options.tile_size()?,
                scale: options
                    .outscale
                    .map_or(OutputScale::Native, OutputScale::Factor),
                tta: options.tta,
                ..UpscaleOptions::default()
            };
            let path = prism_hub::resolve_model(&job.model).map_err(text)?;
            let mut upscaler = Upscaler::new(&path, up).map_err(text)?;
            progress(0, 0, "pixels", "upscaling");
            let mut step = Reporting {
                upscaler: &mut upscaler,
                report: &|p: TileProgress| progress(p.pixels_done, p.pixels_total, "pixels", ""),
            };
            let output = result_path(dir, &inputs[0]);
            map_media(&one_file(&inputs[0], &output, limits, cancel), &mut step).map_err(text)?;
            Ok(format!("upscaled with {}", job.model))
        }
        Task::Style => {
            let mut net = open_fast(&job.model, &options, &inputs, &session)?;
            let label = net.label();
            progress(0, 1, "frames", "stylising");
            let mut step = FastStep {
                net: &mut net,
                options: options.fast(),
            };
            let output = result_path(dir, &inputs[0]);
            map_media(&one_file(&inputs[0], &output, limits, cancel), &mut step).map_err(text)?;
            Ok(label)
        }
        Task::Interpolate => {
            let id = prism_interpolate::scale_variant(&job.model, 1.0).map_err(text)?;
            let path = prism_hub::resolve_model(&id).map_err(text)?;
            let mut net = Interpolator::new(
                &path,
                InterpolatorOptions {
                    session,
                    ensemble: options.ensemble,
                    ..InterpolatorOptions::default()
                },
            )
            .map_err(text)?;
            let n = options.frames;
            progress(0, u64::from(n), "frames", "interpolating");
            let output = dir.join("frames");
            let media = MediaJob {
                source: Source::Pair(inputs[0].clone(), inputs[1].clone()),
                output: &output,
                timesteps: (1..=n).map(|i| f64::from(i) / f64::from(n + 1)).collect(),
                multiple: 2,
                fps: None,
                input_fps: None,
                scene_threshold: DEFAULT_SCENE_THRESHOLD,
                dedup_threshold: None,
                flow: true,
                preview: None,
                frame_format: "png",
                overwrite: false,
                video: Default::default(),
                ffmpeg: None,
                limits,
                cancel: jobs.cancel_flag(&job.id),
                show_progress: false,
            };
            let report = interpolate_media(&mut net, &media).map_err(text)?;
            Ok(format!(
                "{} frames ({} interpolated) with {}",
                report.stats.written, report.stats.interpolated, job.model
            ))
        }
        Task::Neural => neural(jobs, job, &options, &inputs, dir),
    }
}

/// The fast-style network of `model`: multistyle26 (with `options.style`), the arbitrary pair
/// (`style-arbitrary`, with the uploaded style image) or a TransformerNet, as `prism style fast`.
fn open_fast(
    model: &str,
    options: &Options,
    inputs: &[PathBuf],
    session: &prism_core::SessionOptions,
) -> Result<FeedForward, String> {
    if model == ARBITRARY {
        let style_path = inputs
            .get(1)
            .ok_or("the arbitrary style needs a style image")?;
        let style = read_image(style_path, &prism_media::Limits::default())
            .map_err(text)?
            .image;
        let predict = prism_hub::resolve_model("style-arbitrary-predict").map_err(text)?;
        let transform = prism_hub::resolve_model("style-arbitrary-transform").map_err(text)?;
        let net = Arbitrary::load(&predict, &transform, session).map_err(text)?;
        return FeedForward::arbitrary(net, &style, "style").map_err(text);
    }
    let path = prism_hub::resolve_model(model).map_err(text)?;
    let info = prism_core::ModelInfo::inspect(&path).map_err(text)?;
    if prism_style::multistyle::is_multistyle(&info) {
        let mix = StyleMix::one(options.style.unwrap_or(0)).map_err(text)?;
        let net = MultiStyle::load(&path, session).map_err(text)?;
        return Ok(FeedForward::Multi { net, mix });
    }
    Ok(FeedForward::Transformer(
        FastStyle::load(&path, session).map_err(text)?,
    ))
}

/// Gatys neural style, as `prism style neural CONTENT --style STYLE -o result.png` with the
/// job's size, steps, optimiser and `--save-every`; the loss curve travels with the job.
fn neural(jobs: &Jobs, job: &Job, options: &Options, inputs: &[PathBuf], dir: &Path) -> Outcome {
    let cancel = jobs.cancel_flag(&job.id).unwrap_or_default();
    let limits = jobs.options.limits;
    let content = read_image(&inputs[0], &limits).map_err(text)?.image;
    let style = read_image(&inputs[1], &limits).map_err(text)?.image;
    let pool = if job.model.ends_with("-avgpool") {
        prism_style::Pool::Avg
    } else {
        prism_style::Pool::Max
    };
    let neural = NeuralOptions {
        size: options.size,
        steps: options.steps,
        optimizer: options.optimizer(),
        snapshot_every: options.save_every,
        ..NeuralOptions::default()
    };
    let mut vgg = Vgg::load(pool, &jobs.options.session).map_err(text)?;
    let mut failure = None;
    let styles = [StyleImage {
        image: &style,
        weight: 1.0,
    }];
    let result = neural_style(&mut vgg, &content, &styles, &neural, &mut |p| {
        if cancel.load(Ordering::SeqCst) {
            return ControlFlow::Break(());
        }
        let mut snapshot_name = None;
        if let Some(snapshot) = p.snapshot {
            let name = format!("result_{}_{:04}.png", p.scale, p.step);
            if let Err(e) = write_image(&dir.join(&name), snapshot, None, &WriteOptions::default())
            {
                failure = Some(e.to_string());
                return ControlFlow::Break(());
            }
            snapshot_name = Some(name);
        }
        let (total, width, height) = (p.loss.total, p.width, p.height);
        jobs.update(&job.id, false, |j| {
            j.done = (p.scale * p.steps + p.step + 1) as u64;
            j.total = (p.scales * p.steps) as u64;
            j.unit = "steps".into();
            j.message = format!("optimising at {width}x{height}, loss {total:.4e}");
            j.losses.push(total);
            if let Some(name) = snapshot_name {
                j.files.push(JobFile {
                    name,
                    role: "snapshot".into(),
                });
            }
        });
        ControlFlow::Continue(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let result = result.map_err(text)?;
    write_image(
        &dir.join("result.png"),
        &result.image,
        None,
        &WriteOptions::default(),
    )
    .map_err(text)?;
    Ok(format!(
        "final loss {:.4e} (content {:.4e}, style {:.4e}, tv {:.4e})",
        result.final_loss.total,
        result.final_loss.content,
        result.final_loss.style,
        result.final_loss.tv
    ))
}

/// The upscaler as a frame step that reports its tiles' progress.
struct Reporting<'a> {
    upscaler: &'a mut Upscaler,
    report: &'a dyn Fn(TileProgress),
}

impl FrameMap for Reporting<'_> {
    type Error = prism_upscale::Error;

    fn output_size(&self, width: u32, height: u32) -> Result<(u32, u32), Self::Error> {
        Ok(self.upscaler.plan(width, height)?.1)
    }

    fn map(
        &mut self,
        frame: &DynamicImage,
        cancel: Option<&AtomicBool>,
    ) -> Result<DynamicImage, Self::Error> {
        let report = self.report;
        let mut progress = |p: TileProgress| report(p);
        let mut control = Control {
            progress: Some(&mut progress),
            cancel,
        };
        self.upscaler.upscale_with(frame, &mut control)
    }
}

/// One image into one file, as the command's `map_job` makes it (JPEG quality 95).
fn one_file<'a>(
    input: &'a Path,
    output: &'a Path,
    limits: prism_media::Limits,
    cancel: &'a AtomicBool,
) -> MapJob<'a> {
    MapJob {
        batch: BatchOptions {
            skip_existing: false,
            ..BatchOptions::default()
        },
        write: WriteOptions {
            jpeg_quality: 95,
            ..WriteOptions::default()
        },
        limits,
        cancel: Some(cancel),
        label: "serve",
        ..MapJob::new(input, Some(output))
    }
}

/// `result.<the input's extension>`.
fn result_path(dir: &Path, input: &Path) -> PathBuf {
    let ext = input.extension().and_then(|e| e.to_str()).unwrap_or("png");
    dir.join(format!("result.{ext}"))
}

/// The job's files after its run: inputs, the result, frames, flow pictures, snapshots.
fn list_files(dir: &Path, job: &Job) -> Vec<JobFile> {
    let mut files: Vec<JobFile> = job.files.clone();
    let mut add = |name: String, role: &str| {
        if !files.iter().any(|f| f.name == name) {
            files.push(JobFile {
                name,
                role: role.into(),
            });
        }
    };
    let names = |sub: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.join(sub))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        v.sort();
        v
    };
    for n in names("") {
        if n.starts_with("result.") {
            add(n, "result");
        } else if n.starts_with("result_") {
            add(n, "snapshot");
        }
    }
    for n in names("frames") {
        add(format!("frames/{n}"), "frame");
    }
    for n in names("frames/flow") {
        add(format!("frames/flow/{n}"), "flow");
    }
    files
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}
