//! `--tile auto` on CPU: the grid of fewest computed pixels whose run fits the memory budget.

use super::{Axis, MIN_CORE, RunBudget, round_up};

/// Tiles along one axis when `len` is cut into `n` runs of one extent, as evenly as the model's
/// multiple allows: `(runs, extent)`, or `None` when `n` runs would have cores below [`MIN_CORE`].
fn split(len: usize, n: usize, context: usize, multiple: usize) -> Option<(usize, usize)> {
    if n == 1 {
        return Some((1, round_up(len, multiple)));
    }
    let inner = len.checked_sub(2 * context)?;
    let core = inner.div_ceil(n);
    let extent = round_up(core + 2 * context, multiple);
    if core < MIN_CORE || extent >= len {
        return None;
    }
    // What `Axis::with_extent` will make of it (rounding up may save a run).
    let runs = (len - extent).div_ceil(extent - 2 * context) + 1;
    Some((runs, extent))
}

/// All distinct `(runs, extent)` splits of one axis, fewest runs first.
fn splits(len: usize, context: usize, multiple: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for n in 1..=len.max(1) {
        match split(len.max(1), n, context, multiple) {
            Some(s) if out.last().is_none_or(|l| l.1 != s.1) => out.push(s),
            Some(_) => {}
            None if n > 1 => break,
            None => {}
        }
    }
    out
}

/// Bytes of one `ex` x `ey` run: activations plus the FP32 strip of output rows it feeds.
fn run_bytes(budget: &RunBudget, ex: usize, ey: usize, width: usize) -> f64 {
    let s = budget.scale as f64;
    (ex * ey) as f64 * budget.per_pixel + ey as f64 * s * width as f64 * s * 4.0 * 4.0
}

/// The grid for a `width` x `height` image: fewest computed pixels among the grids whose run fits
/// `budget` (ties: fewer runs); when none fits, the one whose run needs the least memory.
pub(super) fn plan(
    width: usize,
    height: usize,
    context: usize,
    multiple: usize,
    budget: RunBudget,
) -> (Axis, Axis) {
    let multiple = multiple.max(1);
    let (xs, ys) = (
        splits(width, context, multiple),
        splits(height, context, multiple),
    );
    // Key: fitting first, then fewest computed pixels (or least memory), then fewest runs.
    let mut best: Option<((bool, usize, usize), usize, usize)> = None;
    for &(nx, ex) in &xs {
        for &(ny, ey) in &ys {
            let bytes = run_bytes(&budget, ex, ey, width);
            let fits = bytes <= budget.bytes;
            let cost = if fits {
                nx * ex * ny * ey
            } else {
                bytes as usize
            };
            let key = (!fits, cost, nx * ny);
            if best.is_none_or(|(k, _, _)| key < k) {
                best = Some((key, ex, ey));
            }
        }
    }
    let (_, ex, ey) = best.expect("every axis has a one-run split");
    let axis = |len: usize, extent: usize| {
        if extent >= len {
            Axis::with_extent(len, extent, context, multiple)
        } else {
            Axis::with_extent(len, extent, context, 1)
        }
    };
    (axis(width, ex), axis(height, ey))
}

/// A plan's cost, for `-v` output: runs, run shape and computed pixels against the image's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub runs_x: usize,
    pub runs_y: usize,
    pub run_width: usize,
    pub run_height: usize,
    /// Input pixels all runs compute, over the image's pixels (1.0: nothing computed twice).
    pub overhead: f64,
}

impl Plan {
    pub fn of(xs: &Axis, ys: &Axis, width: usize, height: usize) -> Plan {
        let computed = xs.starts.len() * xs.extent * ys.starts.len() * ys.extent;
        Plan {
            runs_x: xs.starts.len(),
            runs_y: ys.starts.len(),
            run_width: xs.extent,
            run_height: ys.extent,
            overhead: computed as f64 / (width * height).max(1) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;

    fn budget(mib: f64, per_pixel: f64, scale: usize) -> RunBudget {
        RunBudget {
            bytes: mib * MIB,
            per_pixel,
            scale,
        }
    }

    #[test]
    fn whole_image_when_it_fits() {
        let b = budget(1024.0, 1200.0, 2);
        for (w, h) in [(512, 512), (333, 517), (1, 1), (37, 5)] {
            let (xs, ys) = plan(w, h, 16, 4, b);
            let p = Plan::of(&xs, &ys, w, h);
            assert_eq!((p.runs_x, p.runs_y), (1, 1), "{w}x{h}");
            assert_eq!(
                (p.run_width, p.run_height),
                (round_up(w, 4), round_up(h, 4))
            );
        }
    }

    #[test]
    fn fewest_computed_pixels_under_the_budget() {
        // 1000x750 at 24 KB/px and 1 GiB: runs of at most ~44k px.
        let b = budget(1024.0, 24_000.0, 4);
        let (xs, ys) = plan(1000, 750, 64, 1, b);
        let p = Plan::of(&xs, &ys, 1000, 750);
        assert!(run_bytes(&b, p.run_width, p.run_height, 1000) <= b.bytes);
        // Brute force over every even grid: none computes fewer pixels and fits.
        let best = (1..=40)
            .flat_map(|nx| (1..=40).map(move |ny| (nx, ny)))
            .filter_map(|(nx, ny)| {
                let (rx, ex) = split(1000, nx, 64, 1)?;
                let (ry, ey) = split(750, ny, 64, 1)?;
                (run_bytes(&b, ex, ey, 1000) <= b.bytes).then_some(rx * ex * ry * ey)
            })
            .min()
            .unwrap();
        let computed = xs.starts.len() * xs.extent * ys.starts.len() * ys.extent;
        assert_eq!(computed, best);
        // Evenly spread, one shape, the borders touched.
        for (axis, len) in [(&xs, 1000), (&ys, 750)] {
            assert_eq!(axis.starts[0], 0);
            assert_eq!(axis.starts.last().unwrap() + axis.extent, len);
        }
        // SRVGGNetCompact x2 (1.4 KB/px) on the same image: two runs split along x, 3 % extra.
        let (xs, ys) = plan(1000, 750, 16, 4, budget(1024.0, 1376.0, 2));
        let p = Plan::of(&xs, &ys, 1000, 750);
        assert_eq!(
            (p.runs_x, p.runs_y, p.run_width, p.run_height),
            (2, 1, 516, 752)
        );
        assert!(p.overhead < 1.04, "{p:?}");
    }

    #[test]
    fn tiny_budgets_still_plan() {
        let (xs, ys) = plan(300, 200, 16, 4, budget(0.001, 1200.0, 2));
        assert!(xs.starts.len() > 1 && ys.starts.len() > 1);
        assert!(xs.extent >= 2 * 16 + MIN_CORE && xs.extent % 4 == 0);
    }
}
