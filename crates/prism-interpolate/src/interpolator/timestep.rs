//! Timesteps: which ones a model reaches (dyadic for t = 0.5-only models), and the recursive
//! bisection that makes them.

use ndarray::Array4;

use super::Interpolator;
use super::bisect;
use super::contract::TimeInput;
use super::frames::{Prepared, Raw};
use crate::error::{Error, Result};

impl Interpolator {
    /// The timestep this model really produces for `t`: `t` itself for models with a time input;
    /// for t = 0.5-only models the dyadic `t`, the nearest reachable one (option), or an error.
    pub fn reachable(&self, t: f64) -> Result<f64> {
        if !(t > 0.0 && t < 1.0) {
            return Err(Error::Timestep {
                t,
                reason: "it must lie strictly between 0 and 1".into(),
            });
        }
        if self.time_input != TimeInput::None {
            return Ok(t);
        }
        let (k, d) = dyadic(t, self.options.max_depth, self.options.nearest_timestep).map_err(
            |nearest| Error::Unreachable {
                t,
                model: self.path.display().to_string(),
                depth: self.options.max_depth,
                nearest,
            },
        )?;
        let got = k as f64 / (1u64 << d) as f64;
        if (got - t).abs() > 1e-9 {
            tracing::warn!(
                asked = t,
                made = got,
                "timestep not reachable by bisection; using the nearest"
            );
        }
        Ok(got)
    }

    /// Every timestep of `ts` by recursive bisection ([`bisect::plan`]); frames on the way are
    /// shared between timesteps.
    pub(super) fn bisect(&mut self, a: &Prepared, b: &Prepared, ts: &[f64]) -> Result<Vec<Raw>> {
        let mut made: Vec<(f64, Raw)> = Vec::new();
        let find =
            |made: &[(f64, Raw)], t: f64| made.iter().position(|(x, _)| (x - t).abs() < 1e-12);
        for step in bisect::plan(ts, self.options.max_depth) {
            let frame_at = |t: f64| -> Array4<f32> {
                if t == 0.0 {
                    a.padded.clone()
                } else if t == 1.0 {
                    b.padded.clone()
                } else {
                    made[find(&made, t).expect("made before")].1.frame.clone()
                }
            };
            let (x, y) = (frame_at(step.lo), frame_at(step.hi));
            let raw = self.infer(&x, &y, step.dt as f32, a.height, a.width)?;
            made.push((step.t, raw));
        }
        Ok(ts
            .iter()
            .map(|&t| made[find(&made, t).expect("planned")].1.clone())
            .collect())
    }
}

/// `t` as `k / 2^d` (k odd, d <= max_depth); otherwise the nearest such value (when `nearest`)
/// or `Err(nearest)`.
pub fn dyadic(t: f64, max_depth: u32, nearest: bool) -> std::result::Result<(u64, u32), f64> {
    for d in 1..=max_depth {
        let scaled = t * (1u64 << d) as f64;
        if (scaled - scaled.round()).abs() < 1e-9 {
            return Ok(reduce(scaled.round() as u64, d));
        }
    }
    let full = 1u64 << max_depth;
    let k = ((t * full as f64).round() as u64).clamp(1, full - 1);
    if nearest {
        Ok(reduce(k, max_depth))
    } else {
        Err(k as f64 / full as f64)
    }
}

fn reduce(mut k: u64, mut d: u32) -> (u64, u32) {
    while d > 0 && k.is_multiple_of(2) {
        k /= 2;
        d -= 1;
    }
    (k, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dyadic_timesteps() {
        assert_eq!(dyadic(0.5, 6, false), Ok((1, 1)));
        assert_eq!(dyadic(0.25, 6, false), Ok((1, 2)));
        assert_eq!(dyadic(0.375, 6, false), Ok((3, 3)));
        assert_eq!(dyadic(1.0 / 3.0, 4, false), Err(5.0 / 16.0));
        assert_eq!(dyadic(1.0 / 3.0, 4, true), Ok((5, 4)));
        assert_eq!(dyadic(0.001, 3, true), Ok((1, 3)));
    }
}
