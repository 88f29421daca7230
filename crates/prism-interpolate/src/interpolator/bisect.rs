//! Recursive bisection: the order of runs that makes a set of timesteps from t = 0.5 runs.
//!
//! Each dyadic timestep `k / 2^d` brings its bisection ancestors (0.5, then 0.25 or 0.75, ...), as
//! FILM's `interpolator_cli --times_to_interpolate` and ECCV2022-RIFE's `--exp` do. Runs are then
//! taken greedily: next is the timestep whose position between its nearest made neighbours is
//! closest to the middle (the scheme of the FILM PyTorch port's `inference.py`). For dyadic sets
//! every run is exactly a middle frame; a timestep that is not dyadic (only for models with a time
//! input) takes one run at its relative time.

/// One run: the frame at `t` from the frames at `lo` and `hi` (0 and 1 are the pair itself), at
/// the relative time `dt = (t - lo) / (hi - lo)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Step {
    pub(crate) t: f64,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) dt: f64,
}

const EPS: f64 = 1e-12;

/// The runs, in order, that make every one of `targets` (each in (0, 1)).
pub(crate) fn plan(targets: &[f64], max_depth: u32) -> Vec<Step> {
    let mut needed: Vec<f64> = Vec::new();
    let add = |t: f64, needed: &mut Vec<f64>| {
        if !needed.iter().any(|&x| (x - t).abs() < EPS) {
            needed.push(t);
        }
    };
    for &t in targets {
        if super::dyadic(t, max_depth, false).is_ok() {
            let (mut lo, mut hi) = (0.0, 1.0);
            loop {
                let mid = (lo + hi) / 2.0;
                add(mid, &mut needed);
                if (mid - t).abs() < EPS {
                    break;
                }
                if t < mid { hi = mid } else { lo = mid }
            }
        } else {
            add(t, &mut needed);
        }
    }
    needed.sort_by(f64::total_cmp);
    let mut known = vec![0.0, 1.0];
    let mut steps = Vec::with_capacity(needed.len());
    while !needed.is_empty() {
        let mut best: Option<(usize, Step, f64)> = None;
        for (i, &t) in needed.iter().enumerate() {
            let lo = known.iter().copied().filter(|&k| k < t).fold(0.0, f64::max);
            let hi = known.iter().copied().filter(|&k| k > t).fold(1.0, f64::min);
            let dt = (t - lo) / (hi - lo);
            let score = (dt - 0.5).abs();
            if best.as_ref().is_none_or(|b| score < b.2 - EPS) {
                best = Some((i, Step { t, lo, hi, dt }, score));
            }
        }
        let (i, step, _) = best.expect("needed is not empty");
        needed.remove(i);
        known.push(step.t);
        steps.push(step);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(targets: &[f64]) -> Vec<(f64, f64, f64, f64)> {
        plan(targets, 6)
            .into_iter()
            .map(|s| (s.t, s.lo, s.hi, s.dt))
            .collect()
    }

    #[test]
    fn dyadic_sets_are_pure_bisection() {
        assert_eq!(
            runs(&[0.25, 0.5, 0.75]),
            vec![
                (0.5, 0.0, 1.0, 0.5),
                (0.25, 0.0, 0.5, 0.5),
                (0.75, 0.5, 1.0, 0.5)
            ]
        );
        // a lone 3/8 brings its ancestors 1/2 and 1/4
        assert_eq!(
            runs(&[0.375]),
            vec![
                (0.5, 0.0, 1.0, 0.5),
                (0.25, 0.0, 0.5, 0.5),
                (0.375, 0.25, 0.5, 0.5)
            ]
        );
        assert!(plan(&[0.125, 0.875, 0.625], 6).iter().all(|s| s.dt == 0.5));
    }

    #[test]
    fn other_timesteps_step_nearest_the_middle() {
        let s = plan(&[1.0 / 3.0, 2.0 / 3.0], 6);
        assert_eq!(s.len(), 2);
        assert!((s[0].dt - 1.0 / 3.0).abs() < 1e-12 && s[0].lo == 0.0 && s[0].hi == 1.0);
        assert!((s[1].dt - 0.5).abs() < 1e-12 && (s[1].lo - 1.0 / 3.0).abs() < 1e-12);
        let lone = plan(&[0.3], 6);
        assert_eq!(lone.len(), 1);
        assert!((lone[0].dt - 0.3).abs() < 1e-12);
    }
}
