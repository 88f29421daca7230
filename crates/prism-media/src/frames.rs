//! The one task pipeline for sequences: frames from a source (image files or a video) through a
//! step that turns the stream of source frames into output frames (1 -> 1 for upscaling and style,
//! 1 -> N for interpolation) into a sink (numbered image files or a video).
//!
//! Decoding, the step and encoding run on three threads joined by bounded channels, so the model
//! never waits for I/O and memory stays bounded. The first error anywhere stops all three and is
//! returned as itself (independent files excepted: see [`RunOptions::keep_going`]); a video is
//! finished (renamed to its name) only when every frame got there.

use std::collections::HashMap;
use std::fmt::Display;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image::DynamicImage;

use crate::error::{Error, Result};
use crate::image_io::{Limits, WriteOptions, read_image, write_image};
use crate::progress::{Progress, Unit};
use crate::video::{VideoInfo, VideoReader, VideoWriter};

/// Where frames come from.
pub enum FrameSource {
    /// Image files, in order (the first one's ICC profile goes to numbered image outputs, each
    /// file's own to [`FrameSink::Files`]).
    Images(Vec<PathBuf>),
    /// A video, as [`crate::video::probe`] described it.
    Video {
        ffmpeg: PathBuf,
        path: PathBuf,
        info: VideoInfo,
    },
}

/// Where output frames go.
pub enum FrameSink {
    /// `dir/<index, 8 digits>.<extension>`, each written atomically.
    Images {
        dir: PathBuf,
        extension: String,
        write: WriteOptions,
    },
    /// Output frame `i` to `outputs[i]`, with source file `i`'s ICC profile, written atomically:
    /// independent images (a folder batch or one file) through a 1 -> 1 step.
    Files {
        outputs: Vec<PathBuf>,
        write: WriteOptions,
    },
    /// An encoder, finished only when the step ended without error or interruption.
    Video(VideoWriter),
}

/// One output frame: its number (from 0) and pixels.
pub trait Numbered {
    fn index(&self) -> u64;
    fn image(&self) -> &DynamicImage;
}

/// The source frames, as the step reads them (decoded on a background thread); the time the
/// step waits here for the decoder is counted in [`StageTimes::step_starved`].
pub struct SourceFrames {
    frames: std::sync::mpsc::IntoIter<Result<DynamicImage>>,
    waited_ns: Arc<AtomicU64>,
}

impl Iterator for SourceFrames {
    type Item = Result<DynamicImage>;

    fn next(&mut self) -> Option<Self::Item> {
        let t0 = Instant::now();
        let frame = self.frames.next();
        self.waited_ns
            .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        frame
    }
}

/// Where the time of a run went, in seconds: each stage's work and its waits on its neighbours.
/// With both cores busy, the step (the model) neither starves nor blocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    /// From the start of the pipeline to the last frame written.
    pub wall: f64,
    /// Decoder: reading and decoding frames.
    pub decode: f64,
    /// Decoder: waiting for room in the full queue to the step.
    pub decode_blocked: f64,
    /// Step: waiting for a decoded frame.
    pub step_starved: f64,
    /// Step: waiting for room in the full queue to the encoder.
    pub step_blocked: f64,
    /// Encoder: writing frames (into ffmpeg's pipe or image files) and side outputs.
    pub encode: f64,
}

impl Display for StageTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "wall {:.2} s; decode {:.2} s (blocked {:.2} s); step starved {:.2} s, blocked {:.2} s; encode {:.2} s",
            self.wall,
            self.decode,
            self.decode_blocked,
            self.step_starved,
            self.step_blocked,
            self.encode
        )
    }
}

/// What the pipeline needs besides the source, the step and the sink.
pub struct RunOptions<'a> {
    pub limits: Limits,
    /// Polled between frames; when set the run ends with [`Error::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
    /// Output frames expected (0: unknown), for the progress bar.
    pub expected: u64,
    pub label: &'static str,
    pub show_progress: bool,
    /// Independent files: a frame that fails (decoding, the step or writing) is recorded in
    /// [`Written::failed`] and the run goes on. Off: the first error ends the run.
    pub keep_going: bool,
}

/// What reached the sink.
#[derive(Debug)]
pub struct Written<E> {
    /// Frames written.
    pub frames: u64,
    /// With [`RunOptions::keep_going`]: the frames that failed (by output index), with the error.
    pub failed: Vec<(u64, E)>,
    /// Pixels of the frames written (width x height, summed).
    pub pixels: u64,
    /// Where the time went (also logged at `-v`).
    pub times: StageTimes,
}

/// Runs `make_step` over `source`'s frames and sends what it yields to `sink`; `on_frame` sees each
/// output frame on the encoder thread after it is written (side outputs: flow files, previews).
/// Returns the step (for its statistics) and what was written.
pub fn run_frames<S, O, E>(
    source: FrameSource,
    sink: FrameSink,
    options: &RunOptions<'_>,
    make_step: impl FnOnce(SourceFrames) -> std::result::Result<S, E>,
    mut on_frame: impl FnMut(&O) -> std::result::Result<(), E> + Send,
) -> std::result::Result<(S, Written<E>), E>
where
    S: Iterator<Item = std::result::Result<O, E>>,
    O: Numbered + Send,
    E: From<Error> + Send + Display,
{
    let files = matches!(sink, FrameSink::Files { .. });
    let unit = if files { Unit::Files } else { Unit::Frames };
    let progress = Progress::new(options.expected, unit, options.label, options.show_progress);
    let keep_going = options.keep_going;
    let failed = &Mutex::new(Vec::<(u64, E)>::new());
    let record = |index: u64, error: E| {
        progress.println(format!("error: {error}"));
        failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((index, error));
    };
    // This run's own stop: set by a failing encoder and when the step ends, so the decoder stops.
    let stop = &AtomicBool::new(false);
    // Set when every frame reached the encoder: only then is a video finished.
    let completed = &AtomicBool::new(false);
    let cancelled = || options.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    // ICC profiles by source index: the first one's, or (independent files) each one's until written.
    let iccs = &Mutex::new(HashMap::<u64, Vec<u8>>::new());
    let icc_of = |index: u64| -> Option<Vec<u8>> {
        let mut iccs = iccs.lock().unwrap_or_else(|e| e.into_inner());
        if files {
            iccs.remove(&index)
        } else {
            iccs.get(&0).cloned()
        }
    };
    let (source_tx, source_rx) = sync_channel::<Result<DynamicImage>>(4);
    let (out_tx, out_rx) = sync_channel::<O>(8);
    let limits = options.limits;
    let start = Instant::now();
    let starved = Arc::new(AtomicU64::new(0));
    let mut times = StageTimes::default();
    let result = std::thread::scope(|scope| {
        let decoder = scope.spawn(move || {
            let mut blocked = Duration::ZERO;
            // Never blocks for good: a step that stops reading early (or returns) sets `stop`.
            let mut send = |mut frame| {
                let t0 = Instant::now();
                let sent = loop {
                    if stop.load(Ordering::Relaxed) || cancelled() {
                        break false;
                    }
                    match source_tx.try_send(frame) {
                        Ok(()) => break true,
                        Err(TrySendError::Full(back)) => {
                            frame = back;
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(TrySendError::Disconnected(_)) => break false,
                    }
                };
                blocked += t0.elapsed();
                sent
            };
            match source {
                FrameSource::Images(paths) => {
                    for (i, path) in paths.iter().enumerate() {
                        let frame = read_image(path, &limits).map(|loaded| {
                            if let Some(icc) = loaded.icc_profile.filter(|_| i == 0 || files) {
                                iccs.lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .insert(i as u64, icc);
                            }
                            loaded.image
                        });
                        if !send(frame) {
                            break;
                        }
                    }
                }
                FrameSource::Video { ffmpeg, path, info } => {
                    match VideoReader::open(&ffmpeg, &path, &info) {
                        Ok(reader) => {
                            for frame in reader {
                                if !send(frame) {
                                    break;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = source_tx.send(Err(e));
                        }
                    }
                }
            }
            (start.elapsed(), blocked)
        });
        let progress_w = progress.clone();
        let encoder = scope.spawn(move || -> (std::result::Result<(u64, u64), E>, Duration) {
            let mut sink = sink;
            let mut written = 0u64;
            let mut pixels = 0u64;
            let mut busy = Duration::ZERO;
            let mut write = |frame: &O| -> std::result::Result<(), E> {
                match &mut sink {
                    FrameSink::Video(writer) => writer.write_frame(frame.image())?,
                    FrameSink::Images {
                        dir,
                        extension,
                        write,
                    } => {
                        let path = dir.join(format!("{:08}.{extension}", frame.index()));
                        write_image(&path, frame.image(), icc_of(0).as_deref(), write)?;
                    }
                    FrameSink::Files { outputs, write } => {
                        let index = frame.index();
                        let path = usize::try_from(index)
                            .ok()
                            .and_then(|i| outputs.get(i))
                            .ok_or_else(|| Error::Encode {
                                path: PathBuf::from(format!("output #{index}")),
                                reason: "the step made more frames than there are files".into(),
                            })?;
                        write_image(path, frame.image(), icc_of(index).as_deref(), write)?;
                    }
                }
                on_frame(frame)?;
                written += 1;
                let image = frame.image();
                pixels += u64::from(image.width()) * u64::from(image.height());
                progress_w.inc(1);
                Ok(())
            };
            for frame in out_rx.iter() {
                let t0 = Instant::now();
                let wrote = write(&frame);
                busy += t0.elapsed();
                if let Err(e) = wrote {
                    if keep_going {
                        record(frame.index(), e);
                        continue;
                    }
                    stop.store(true, Ordering::SeqCst);
                    // Keep draining so the step is never blocked on a full channel.
                    for _ in out_rx.iter() {}
                    return (Err(e), busy);
                }
            }
            if completed.load(Ordering::SeqCst)
                && let FrameSink::Video(writer) = sink
            {
                let t0 = Instant::now();
                let finished = writer.finish();
                busy += t0.elapsed();
                if let Err(e) = finished {
                    return (Err(e.into()), busy);
                }
            }
            // Otherwise dropping the writer kills ffmpeg and removes its temporary file.
            (Ok((written, pixels)), busy)
        });
        let mut blocked = Duration::ZERO;
        let result = (|| {
            let frames = SourceFrames {
                frames: source_rx.into_iter(),
                waited_ns: starved.clone(),
            };
            let mut step = make_step(frames)?;
            let mut failure = None;
            // Output index of the next item (for errors, which carry none: 1 -> 1 steps).
            let mut position = 0u64;
            for frame in step.by_ref() {
                if stop.load(Ordering::SeqCst) {
                    // The encoder failed: its error is the one to report.
                    break;
                }
                if cancelled() {
                    failure = Some(Error::Cancelled.into());
                    break;
                }
                match frame {
                    Ok(frame) => {
                        position = frame.index() + 1;
                        let t0 = Instant::now();
                        let sent = out_tx.send(frame);
                        blocked += t0.elapsed();
                        if sent.is_err() {
                            break;
                        }
                    }
                    Err(e) if keep_going => {
                        icc_of(position);
                        record(position, e);
                        position += 1;
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if failure.is_none() && cancelled() {
                // The decoder stopped early: the sequence is not whole.
                failure = Some(Error::Cancelled.into());
            }
            match failure {
                Some(e) => Err(e),
                None => Ok(step),
            }
        })();
        if result.is_ok() && !stop.load(Ordering::SeqCst) {
            completed.store(true, Ordering::SeqCst);
        }
        stop.store(true, Ordering::SeqCst);
        drop(out_tx);
        let (written, encode) = encoder.join().expect("the encoder thread does not panic");
        let (decode, decode_blocked) = decoder.join().expect("the decoder thread does not panic");
        times = StageTimes {
            wall: start.elapsed().as_secs_f64(),
            decode: decode.saturating_sub(decode_blocked).as_secs_f64(),
            decode_blocked: decode_blocked.as_secs_f64(),
            step_starved: Duration::from_nanos(starved.load(Ordering::Relaxed)).as_secs_f64(),
            step_blocked: blocked.as_secs_f64(),
            encode: encode.as_secs_f64(),
        };
        progress.finish();
        (result, written)
    });
    let (result, written) = result;
    tracing::info!("{} pipeline: {times}", options.label);
    let step = result?;
    let (frames, pixels) = written?;
    let failed = std::mem::take(&mut *failed.lock().unwrap_or_else(|e| e.into_inner()));
    Ok((
        step,
        Written {
            frames,
            failed,
            pixels,
            times,
        },
    ))
}
