//! Interpolating a stream of frames: timing (multiples, target rates), scene cuts (a repeated
//! frame instead of a morph across the cut), dropping of duplicate (static) frames, and
//! cancellation. [`InterpolatedStream`] pulls source frames lazily and holds only the two frames
//! of the current pair, so memory stays bounded on long videos.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use image::DynamicImage;
use ndarray::Array2;

use crate::error::{Error, Result};
use crate::flow::Flow;
use crate::interpolator::{Interpolator, Prepared, TimestepSupport, check_same_size};
use crate::metrics::ssim_plane;
use crate::timing::{Step, Timing};

/// Options for a sequence.
#[derive(Debug, Clone)]
pub struct SequenceOptions {
    pub timing: Timing,
    /// A pair whose thumbnail SSIM is below this is a scene cut (0 disables detection).
    pub scene_threshold: f64,
    /// Drop a frame whose thumbnail SSIM with the last kept frame is at least this (`None` keeps
    /// every frame). Positions keep their source timing, so motion is spread over the gap.
    pub dedup_threshold: Option<f64>,
    /// Keep the duration (video with audio): the last frame is held for its full duration.
    /// Without it the output ends on the last source frame (frame folders).
    pub hold_last: bool,
    /// Attach each pair's estimated motion to the first output made from it.
    pub flow: bool,
    /// Set to stop: the stream then yields [`Error::Cancelled`] and ends.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for SequenceOptions {
    fn default() -> Self {
        Self {
            timing: Timing::default(),
            scene_threshold: DEFAULT_SCENE_THRESHOLD,
            dedup_threshold: None,
            hold_last: false,
            flow: false,
            cancel: None,
        }
    }
}

/// Thumbnail SSIM below which a pair counts as a cut (Practical-RIFE uses 0.2 on 32x32).
pub const DEFAULT_SCENE_THRESHOLD: f64 = 0.2;
/// Thumbnail SSIM at or above which a frame counts as a duplicate (Practical-RIFE: 0.996).
pub const DEFAULT_DEDUP_THRESHOLD: f64 = 0.996;
/// Longest side of the thumbnails compared for cuts and duplicates.
const THUMB: u32 = 64;

/// What an output frame is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameKind {
    /// Source frame `index`, unchanged.
    Source { index: u64 },
    /// Made by the network at `t` between source frames `a` and `b`.
    Interpolated { a: u64, b: u64, t: f64 },
    /// Source frame `a` repeated because `a -> b` is a scene cut.
    SceneCut { a: u64, b: u64 },
    /// Source frame `index` repeated after the last pair (end of a duration-keeping output, or
    /// the trailing duplicates of a dropped static run).
    Held { index: u64 },
}

/// The estimated motion between two source frames (`Flow::motion` of the pair).
#[derive(Debug, Clone)]
pub struct PairFlow {
    pub a: u64,
    pub b: u64,
    pub flow: Flow,
}

/// One frame of the output.
#[derive(Debug, Clone)]
pub struct OutputFrame {
    /// Output frame number, from 0.
    pub index: u64,
    pub image: DynamicImage,
    pub kind: FrameKind,
    pub flow: Option<PairFlow>,
}

impl prism_media::frames::Numbered for OutputFrame {
    fn index(&self) -> u64 {
        self.index
    }
    fn image(&self) -> &DynamicImage {
        &self.image
    }
}

/// Counters for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequenceStats {
    pub read: u64,
    pub written: u64,
    pub interpolated: u64,
    pub scene_cuts: u64,
    pub duplicates_dropped: u64,
}

struct Kept {
    index: u64,
    image: DynamicImage,
    prepared: Prepared,
    thumb: Array2<f32>,
}

/// An iterator of output frames over an iterator of source frames.
pub struct InterpolatedStream<'a, I> {
    source: I,
    rife: &'a mut Interpolator,
    options: SequenceOptions,
    step: Step,
    current: Option<Kept>,
    next_output: u64,
    queue: VecDeque<OutputFrame>,
    done: bool,
    stats: SequenceStats,
    /// A segment that a later one continues: no held frames after its last source frame.
    open_end: bool,
}

impl<'a, I> InterpolatedStream<'a, I>
where
    I: Iterator<Item = Result<DynamicImage>>,
{
    pub fn new(rife: &'a mut Interpolator, source: I, options: SequenceOptions) -> Result<Self> {
        let step = options.timing.step()?;
        if !(0.0..=1.0).contains(&options.scene_threshold) {
            return Err(Error::Input(format!(
                "scene threshold {} is not an SSIM in 0..1",
                options.scene_threshold
            )));
        }
        Ok(Self {
            source,
            rife,
            options,
            step,
            current: None,
            next_output: 0,
            queue: VecDeque::new(),
            done: false,
            stats: SequenceStats::default(),
            open_end: false,
        })
    }

    /// Makes this a segment of a longer sequence ([`crate::segment`]): its first source frame is
    /// `first_index` (a kept frame of the whole run), outputs carry the whole run's numbers, and
    /// with `open_end` the stream stops after its last pair (the next segment starts on that frame).
    pub fn segment(mut self, first_index: u64, open_end: bool) -> Self {
        self.stats.read = first_index;
        self.next_output = self.step.first_output_at(first_index);
        self.open_end = open_end;
        self
    }

    pub fn stats(&self) -> &SequenceStats {
        &self.stats
    }

    fn kept(&self, index: u64, image: DynamicImage, thumb: Array2<f32>) -> Result<Kept> {
        let prepared = self.rife.prepare(&image)?;
        Ok(Kept {
            index,
            image,
            prepared,
            thumb,
        })
    }

    fn read(&mut self) -> Option<Result<(u64, DynamicImage)>> {
        let frame = self.source.next()?;
        let index = self.stats.read;
        self.stats.read += 1;
        Some(frame.map(|f| (index, f)))
    }

    fn push(&mut self, image: DynamicImage, kind: FrameKind, flow: Option<PairFlow>) {
        self.queue.push_back(OutputFrame {
            index: self.next_output,
            image,
            kind,
            flow,
        });
        self.next_output += 1;
        self.stats.written += 1;
    }

    /// Reads source frames until the next pair is complete and queues its outputs.
    fn advance(&mut self) -> Result<()> {
        if self.current.is_none() {
            let Some(first) = self.read() else {
                self.done = true;
                return Ok(());
            };
            let (index, image) = first?;
            let thumb = thumbnail(&image);
            self.current = Some(self.kept(index, image, thumb)?);
        }
        // The next frame that is not a duplicate of the current one.
        let next = loop {
            let Some(frame) = self.read() else {
                self.finish();
                return Ok(());
            };
            let (index, image) = frame?;
            let cur = self.current.as_ref().expect("set above");
            check_same_size(
                &cur.image,
                &image,
                &format!("frame {}", cur.index),
                &format!("frame {index}"),
            )?;
            let thumb = thumbnail(&image);
            if is_duplicate(&cur.thumb, &thumb, self.options.dedup_threshold) {
                tracing::debug!(frame = index, "duplicate of frame {}; dropped", cur.index);
                self.stats.duplicates_dropped += 1;
                continue;
            }
            break self.kept(index, image, thumb)?;
        };
        let cur = self.current.take().expect("set above");
        self.pair(&cur, &next)?;
        self.current = Some(next);
        Ok(())
    }

    /// Outputs whose positions fall in `[a, b)`.
    fn pair(&mut self, a: &Kept, b: &Kept) -> Result<()> {
        let mut positions = Vec::new();
        while self
            .step
            .before(self.next_output + positions.len() as u64, b.index)
        {
            let k = self.next_output + positions.len() as u64;
            positions.push(self.step.fraction(k, a.index, b.index));
        }
        let wanted: Vec<f64> = positions.iter().copied().filter(|&t| t > 0.0).collect();
        let cut = !wanted.is_empty() && is_cut(&a.thumb, &b.thumb, self.options.scene_threshold);
        let mut made = Vec::new();
        let mut pair_flow = None;
        if cut {
            tracing::info!(
                a = a.index,
                b = b.index,
                "scene cut: repeating frame {}",
                a.index
            );
            self.stats.scene_cuts += 1;
        } else if !wanted.is_empty() {
            self.check_cancel()?;
            let mut ts = wanted.clone();
            // The motion of the pair is read from the t = 0.5 run of a bisecting model (deeper
            // runs see only part of the interval); v4 flow at any t gives the whole motion.
            let extra = self.options.flow
                && self.rife.support() == TimestepSupport::HalfOnly
                && !ts.iter().any(|&t| (t - 0.5).abs() < 1e-12);
            if extra {
                ts.push(0.5);
            }
            let mut outs = self
                .rife
                .interpolate_prepared(&a.prepared, &b.prepared, &ts)?;
            if self.options.flow {
                let source = match self.rife.support() {
                    TimestepSupport::HalfOnly => outs.iter().find(|o| (o.t - 0.5).abs() < 1e-12),
                    TimestepSupport::Any => outs.first(),
                };
                pair_flow = source.map(|o| {
                    let (u, v) = o.flow.motion();
                    let mut data = ndarray::Array3::<f32>::zeros((4, u.dim().0, u.dim().1));
                    data.index_axis_mut(ndarray::Axis(0), 2).assign(&u);
                    data.index_axis_mut(ndarray::Axis(0), 3).assign(&v);
                    PairFlow {
                        a: a.index,
                        b: b.index,
                        flow: Flow::new(data),
                    }
                });
            }
            if extra {
                outs.pop();
            }
            made = outs;
        }
        let mut made = made.into_iter();
        for t in positions {
            if t == 0.0 {
                self.push(a.image.clone(), FrameKind::Source { index: a.index }, None);
            } else if cut {
                let kind = FrameKind::SceneCut {
                    a: a.index,
                    b: b.index,
                };
                self.push(a.image.clone(), kind, None);
            } else {
                let out = made.next().expect("one result per timestep");
                self.stats.interpolated += 1;
                let kind = FrameKind::Interpolated {
                    a: a.index,
                    b: b.index,
                    t: out.t,
                };
                self.push(out.image, kind, pair_flow.take());
            }
        }
        Ok(())
    }

    /// After the last source frame: the remaining positions show the last kept frame.
    fn finish(&mut self) {
        self.done = true;
        let Some(last) = self.current.take() else {
            return;
        };
        if self.open_end {
            return;
        }
        let total = self
            .step
            .output_count(self.stats.read, self.options.hold_last);
        while self.next_output < total {
            let (whole, rem) = self.step.position(self.next_output);
            let kind = if whole == last.index && rem == 0 {
                FrameKind::Source { index: last.index }
            } else {
                FrameKind::Held { index: last.index }
            };
            self.push(last.image.clone(), kind, None);
        }
    }

    fn check_cancel(&self) -> Result<()> {
        match &self.options.cancel {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }
}

impl<I> Iterator for InterpolatedStream<'_, I>
where
    I: Iterator<Item = Result<DynamicImage>>,
{
    type Item = Result<OutputFrame>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(frame) = self.queue.pop_front() {
                return Some(Ok(frame));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.check_cancel().and_then(|()| self.advance()) {
                self.done = true;
                self.queue.clear();
                return Some(Err(e));
            }
        }
    }
}

/// Luma thumbnail (longest side 64) in 0..1, the input of cut and duplicate detection.
pub fn thumbnail(image: &DynamicImage) -> Array2<f32> {
    let small = image.thumbnail(THUMB, THUMB).to_luma32f();
    let (w, h) = small.dimensions();
    Array2::from_shape_vec((h as usize, w as usize), small.into_raw()).expect("w * h samples")
}

/// `--dedup`'s rule: `next` is dropped when its thumbnail is this similar to the last kept one's.
pub fn is_duplicate(kept: &Array2<f32>, next: &Array2<f32>, limit: Option<f64>) -> bool {
    limit.is_some_and(|limit| ssim_plane(kept.view(), next.view()) >= limit)
}

/// A scene cut between kept frames `a` and `b` (`threshold` 0 disables detection).
pub fn is_cut(a: &Array2<f32>, b: &Array2<f32>, threshold: f64) -> bool {
    threshold > 0.0 && ssim_plane(a.view(), b.view()) < threshold
}

/// The thumbnail SSIM of two frames, as cut and duplicate detection see it.
pub fn thumbnail_similarity(a: &DynamicImage, b: &DynamicImage) -> f64 {
    ssim_plane(thumbnail(a).view(), thumbnail(b).view())
}
