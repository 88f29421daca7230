//! A frame sequence cut into segments that are interpolated apart (on several machines, e.g. by
//! `prism.ray`) and give, together, exactly the frames of one `prism interpolate` run: each
//! segment starts on a frame the whole run keeps (not a dropped duplicate), overlaps the next by
//! that one frame, and numbers its source and output frames as the whole run does.

use std::ops::Range;
use std::path::{Path, PathBuf};

use prism_media::frames::{FrameSink, FrameSource, RunOptions, run_frames};
use prism_media::{Limits, WriteOptions, read_image};

use crate::error::{Error, Result};
use crate::interpolator::Interpolator;
use crate::sequence::{
    InterpolatedStream, SequenceOptions, SequenceStats, is_cut, is_duplicate, thumbnail,
};

/// Source frames `first..=last` of a sequence of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub first: u64,
    pub last: u64,
    pub count: u64,
}

impl Segment {
    /// The last segment of its sequence (it ends the run: held frames, `hold_last`).
    pub fn is_final(&self) -> bool {
        self.last + 1 >= self.count
    }

    /// The output frame numbers this segment writes.
    pub fn outputs(&self, options: &SequenceOptions) -> Result<Range<u64>> {
        let step = options.timing.step()?;
        let start = step.first_output_at(self.first);
        let end = match self.is_final() {
            true => step.output_count(self.count, options.hold_last),
            false => step.first_output_at(self.last),
        };
        Ok(start..end.max(start))
    }
}

/// Splits `frames` into segments of about `length` source frames (0: no length limit), and with
/// `at_cuts` also after every scene cut. Every boundary is a kept frame (`--dedup`), found by
/// reading each frame's thumbnail as the whole run would.
pub fn plan_segments(
    frames: &[PathBuf],
    options: &SequenceOptions,
    length: u64,
    at_cuts: bool,
    limits: &Limits,
) -> Result<Vec<Segment>> {
    let count = frames.len() as u64;
    if count == 0 {
        return Err(Error::Input("no frames to interpolate".into()));
    }
    let mut bounds = vec![0u64];
    let mut kept = thumbnail(&read_image(&frames[0], limits)?.image);
    for (i, path) in (1u64..).zip(&frames[1..]) {
        let thumb = thumbnail(&read_image(path, limits)?.image);
        if is_duplicate(&kept, &thumb, options.dedup_threshold) {
            continue;
        }
        let start = *bounds.last().expect("starts with 0");
        let cut = at_cuts && is_cut(&kept, &thumb, options.scene_threshold);
        if i + 1 < count && (cut || (length > 0 && i - start >= length)) {
            bounds.push(i);
        }
        kept = thumb;
    }
    bounds.push(count - 1);
    Ok(bounds
        .windows(2)
        .map(|w| Segment {
            first: w[0],
            last: w[1],
            count,
        })
        .collect())
}

/// Interpolates `segment` of `frames` into `dir` as numbered frames (`<output index>.<format>`,
/// the names and bytes `prism interpolate FOLDER -o DIR` writes).
pub fn interpolate_segment(
    net: &mut Interpolator,
    frames: &[PathBuf],
    segment: Segment,
    options: SequenceOptions,
    dir: &Path,
    frame_format: &str,
    limits: &Limits,
) -> Result<SequenceStats> {
    if segment.count != frames.len() as u64 || segment.first > segment.last {
        return Err(Error::Input(format!(
            "segment {}..={} of {} frames does not fit the {} frames given",
            segment.first,
            segment.last,
            segment.count,
            frames.len()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let expected = segment.outputs(&options)?;
    let paths = frames[segment.first as usize..=segment.last as usize].to_vec();
    let run = RunOptions {
        limits: *limits,
        cancel: None,
        expected: expected.end - expected.start,
        label: "interpolate",
        show_progress: false,
        keep_going: false,
    };
    let sink = FrameSink::Images {
        dir: dir.to_path_buf(),
        extension: frame_format.to_string(),
        // As `interpolate_media`'s frame folders.
        write: WriteOptions {
            png_fast: true,
            ..WriteOptions::default()
        },
    };
    let open_end = !segment.is_final();
    let make = |source: prism_media::frames::SourceFrames| {
        let stream = InterpolatedStream::new(net, source.map(|f| f.map_err(Into::into)), options)?;
        Ok::<_, Error>(stream.segment(segment.first, open_end))
    };
    let (stream, _) = run_frames(FrameSource::Images(paths), sink, &run, make, |_| Ok(()))?;
    Ok(stream.stats().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::{FrameRate, Timing};

    /// Segments' output ranges tile the whole run's outputs, for multiples and rational rates.
    #[test]
    fn outputs_tile_the_whole_run() {
        let rate = |num, den| FrameRate { num, den };
        let timings = [
            Timing::Multiple(2),
            Timing::Multiple(3),
            Timing::Rate {
                input: rate(24, 1),
                output: rate(60, 1),
            },
            Timing::Rate {
                input: rate(24000, 1001),
                output: rate(60, 1),
            },
            Timing::Rate {
                input: rate(60, 1),
                output: rate(24, 1),
            },
        ];
        for timing in timings {
            for hold_last in [false, true] {
                let options = SequenceOptions {
                    timing,
                    hold_last,
                    ..SequenceOptions::default()
                };
                let count = 11;
                let bounds = [0u64, 3, 4, 8, 10];
                let mut next = 0;
                for w in bounds.windows(2) {
                    let s = Segment {
                        first: w[0],
                        last: w[1],
                        count,
                    };
                    let r = s.outputs(&options).unwrap();
                    assert_eq!(r.start, next, "{timing:?} {w:?}");
                    next = r.end;
                }
                let step = timing.step().unwrap();
                assert_eq!(next, step.output_count(count, hold_last), "{timing:?}");
            }
        }
    }
}
