//! The one task pipeline for sequences: frames from a source (image files or a video) through a
//! step that turns the stream of source frames into output frames (1 -> 1 for upscaling and style,
//! 1 -> N for interpolation) into a sink (numbered image files or a video).
//!
//! Decoding, the step and encoding run on three threads joined by bounded channels, so the model
//! never waits for I/O and memory stays bounded. The first error anywhere stops all three and is
//! returned as itself; a video is finished (renamed to its name) only when every frame got there.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{TrySendError, sync_channel};

use image::DynamicImage;

use crate::error::{Error, Result};
use crate::image_io::{Limits, WriteOptions, read_image, write_image};
use crate::progress::{Progress, Unit};
use crate::video::{VideoInfo, VideoOptions, VideoReader, VideoWriter};

/// Where frames come from.
pub enum FrameSource {
    /// Image files, in order (the first one's ICC profile goes to image outputs).
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
    /// An encoder, finished only when the step ended without error or interruption.
    Video(VideoWriter),
}

/// One output frame: its number (from 0) and pixels.
pub trait Numbered {
    fn index(&self) -> u64;
    fn image(&self) -> &DynamicImage;
}

/// The source frames, as the step reads them (decoded on a background thread).
pub type SourceFrames = std::sync::mpsc::IntoIter<Result<DynamicImage>>;

/// What the pipeline needs besides the source, the step and the sink.
pub struct RunOptions<'a> {
    pub limits: Limits,
    /// Polled between frames; when set the run ends with [`Error::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
    /// Output frames expected (0: unknown), for the progress bar.
    pub expected: u64,
    pub label: &'static str,
    pub show_progress: bool,
}

/// Runs `make_step` over `source`'s frames and sends what it yields to `sink`; `on_frame` sees each
/// output frame on the encoder thread after it is written (side outputs: flow files, previews).
/// Returns the step (for its statistics) and the number of frames written.
pub fn run_frames<S, O, E>(
    source: FrameSource,
    sink: FrameSink,
    options: &RunOptions<'_>,
    make_step: impl FnOnce(SourceFrames) -> std::result::Result<S, E>,
    mut on_frame: impl FnMut(&O) -> std::result::Result<(), E> + Send,
) -> std::result::Result<(S, u64), E>
where
    S: Iterator<Item = std::result::Result<O, E>>,
    O: Numbered + Send,
    E: From<Error> + Send,
{
    let progress = Progress::new(
        options.expected,
        Unit::Frames,
        options.label,
        options.show_progress,
    );
    // This run's own stop: set by a failing encoder and when the step ends, so the decoder stops.
    let stop = &AtomicBool::new(false);
    // Set when every frame reached the encoder: only then is a video finished.
    let completed = &AtomicBool::new(false);
    let cancelled = || options.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let first_icc = &Mutex::new(None::<Vec<u8>>);
    let (source_tx, source_rx) = sync_channel::<Result<DynamicImage>>(4);
    let (out_tx, out_rx) = sync_channel::<O>(8);
    let limits = options.limits;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // Never blocks for good: a step that stops reading early (or returns) sets `stop`.
            let send = |mut frame| loop {
                if stop.load(Ordering::Relaxed) || cancelled() {
                    return false;
                }
                match source_tx.try_send(frame) {
                    Ok(()) => return true,
                    Err(TrySendError::Full(back)) => {
                        frame = back;
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            };
            match source {
                FrameSource::Images(paths) => {
                    for (i, path) in paths.iter().enumerate() {
                        let frame = read_image(path, &limits).map(|loaded| {
                            if i == 0 {
                                *first_icc.lock().unwrap_or_else(|e| e.into_inner()) =
                                    loaded.icc_profile;
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
        });
        let progress_w = progress.clone();
        let encoder = scope.spawn(move || -> std::result::Result<u64, E> {
            let mut sink = sink;
            let mut written = 0u64;
            let mut write = |frame: &O| -> std::result::Result<(), E> {
                match &mut sink {
                    FrameSink::Video(writer) => writer.write_frame(frame.image())?,
                    FrameSink::Images {
                        dir,
                        extension,
                        write,
                    } => {
                        let path = dir.join(format!("{:08}.{extension}", frame.index()));
                        let icc = first_icc.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        write_image(&path, frame.image(), icc.as_deref(), write)?;
                    }
                }
                on_frame(frame)?;
                written += 1;
                progress_w.inc(1);
                Ok(())
            };
            for frame in out_rx.iter() {
                if let Err(e) = write(&frame) {
                    stop.store(true, Ordering::SeqCst);
                    // Keep draining so the step is never blocked on a full channel.
                    for _ in out_rx.iter() {}
                    return Err(e);
                }
            }
            if completed.load(Ordering::SeqCst)
                && let FrameSink::Video(writer) = sink
            {
                writer.finish()?;
            }
            // Otherwise dropping the writer kills ffmpeg and removes its temporary file.
            Ok(written)
        });
        let result = (|| {
            let mut step = make_step(source_rx.into_iter())?;
            let mut failure = None;
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
                        if out_tx.send(frame).is_err() {
                            break;
                        }
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
        let written = encoder.join().expect("the encoder thread does not panic");
        progress.finish();
        let step = result?;
        Ok((step, written?))
    })
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

/// What [`map_video`] did.
#[derive(Debug, Clone)]
pub struct VideoReport {
    pub source: VideoInfo,
    pub frames: u64,
    pub width: u32,
    pub height: u32,
}

/// Runs `process` on every frame of `input` (whose [`crate::video::probe`] is `info`) and encodes
/// the results, `size` pixels each, into `output`, copying audio and metadata as `options` say:
/// [`run_frames`] with a 1 -> 1 step. Every task's 1 -> 1 video path goes through here.
#[allow(clippy::too_many_arguments)]
pub fn map_video<E: From<Error> + Send>(
    ffmpeg: &Path,
    input: &Path,
    info: VideoInfo,
    output: &Path,
    size: (u32, u32),
    options: &VideoOptions,
    label: &'static str,
    show_progress: bool,
    cancel: Option<&AtomicBool>,
    mut process: impl FnMut(&DynamicImage) -> std::result::Result<DynamicImage, E>,
) -> std::result::Result<VideoReport, E> {
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize())
        && a == b
    {
        return Err(Error::WouldOverwriteInput {
            path: output.to_path_buf(),
        }
        .into());
    }
    let (width, height) = size;
    let writer = VideoWriter::create(
        ffmpeg,
        output,
        width,
        height,
        &info.frame_rate,
        info.high_bit_depth,
        Some(input),
        options,
    )?;
    let run = RunOptions {
        limits: Limits::default(),
        cancel,
        expected: info.frames_estimate.unwrap_or(0),
        label,
        show_progress,
    };
    let source = FrameSource::Video {
        ffmpeg: ffmpeg.to_path_buf(),
        path: input.to_path_buf(),
        info: info.clone(),
    };
    let (_, frames) = run_frames(
        source,
        FrameSink::Video(writer),
        &run,
        |frames| {
            Ok(frames
                .zip(0u64..)
                .map(move |(frame, index)| -> std::result::Result<Mapped, E> {
                    let image = process(&frame?)?;
                    Ok(Mapped { index, image })
                }))
        },
        |_| Ok(()),
    )?;
    Ok(VideoReport {
        source: info,
        frames,
        width,
        height,
    })
}
