//! Output timing: which source position each output frame shows, for integer multiples and for
//! target frame rates (fractional ones included: 23.976 -> 60), in exact rational arithmetic so
//! long videos never drift.

use std::str::FromStr;

use crate::error::{Error, Result};

/// A frame rate as an exact fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRate {
    pub num: u64,
    pub den: u64,
}

impl FrameRate {
    pub fn new(num: u64, den: u64) -> Result<FrameRate> {
        if num == 0 || den == 0 {
            return Err(Error::FrameRate {
                text: format!("{num}/{den}"),
                reason: "must be positive".into(),
            });
        }
        let g = gcd(num, den);
        Ok(FrameRate {
            num: num / g,
            den: den / g,
        })
    }

    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// This rate times `m`.
    pub fn times(self, m: u64) -> FrameRate {
        FrameRate::new(self.num * m, self.den).expect("positive")
    }
}

impl std::fmt::Display for FrameRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// `60`, `12.5`, `30000/1001`, or the NTSC shorthands `23.976`, `29.97`, `59.94`, `47.952`,
/// `119.88` (read as `N*1000/1001`, which is what those numbers abbreviate).
impl FromStr for FrameRate {
    type Err = Error;
    fn from_str(text: &str) -> Result<FrameRate> {
        let bad = |reason: &str| Error::FrameRate {
            text: text.to_string(),
            reason: reason.into(),
        };
        let s = text.trim();
        if let Some((n, d)) = s.split_once('/') {
            let n: u64 = n
                .trim()
                .parse()
                .map_err(|_| bad("numerator is not an integer"))?;
            let d: u64 = d
                .trim()
                .parse()
                .map_err(|_| bad("denominator is not an integer"))?;
            return FrameRate::new(n, d).map_err(|_| bad("must be positive"));
        }
        let value: f64 = s.parse().map_err(|_| bad("not a number"))?;
        if !(value.is_finite() && value > 0.0 && value <= 10_000.0) {
            return Err(bad("must be between 0 and 10000"));
        }
        if let Some((int, frac)) = s.split_once('.') {
            // NTSC: N * 1000/1001 written with 2 or 3 decimals.
            let n = (value * 1001.0 / 1000.0).round();
            if frac.len() >= 2 && n >= 1.0 && (n * 1000.0 / 1001.0 - value).abs() < 0.0051 {
                return FrameRate::new(n as u64 * 1000, 1001);
            }
            let digits = frac.len() as u32;
            if digits > 6 {
                return Err(bad("more than 6 decimals"));
            }
            let scale = 10u64.pow(digits);
            let whole: u64 = if int.is_empty() {
                0
            } else {
                int.parse().map_err(|_| bad("not a number"))?
            };
            let part: u64 = frac.parse().map_err(|_| bad("not a number"))?;
            return FrameRate::new(whole * scale + part, scale)
                .map_err(|_| bad("must be positive"));
        }
        let n: u64 = s.parse().map_err(|_| bad("not a number"))?;
        FrameRate::new(n, 1).map_err(|_| bad("must be positive"))
    }
}

/// How many output frames to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// `m` output frames per source frame (x2, x3, x4, ...).
    Multiple(u32),
    /// A target rate; needs the source rate.
    Rate { input: FrameRate, output: FrameRate },
}

impl Default for Timing {
    fn default() -> Self {
        Timing::Multiple(2)
    }
}

/// Output frame `k` shows source position `k * step`, with `step = num / den` source frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub num: u64,
    pub den: u64,
}

impl Timing {
    pub fn step(self) -> Result<Step> {
        match self {
            Timing::Multiple(0) => Err(Error::Input("the multiple must be at least 1".into())),
            Timing::Multiple(m) => Ok(Step {
                num: 1,
                den: u64::from(m),
            }),
            Timing::Rate { input, output } => {
                // (in.num / in.den) / (out.num / out.den) source frames per output frame.
                let (num, den) = (input.num * output.den, input.den * output.num);
                let g = gcd(num, den);
                Ok(Step {
                    num: num / g,
                    den: den / g,
                })
            }
        }
    }

    /// The output frame rate for a source at `input`.
    pub fn output_rate(self, input: FrameRate) -> FrameRate {
        match self {
            Timing::Multiple(m) => input.times(u64::from(m)),
            Timing::Rate { output, .. } => output,
        }
    }
}

impl Step {
    /// Source position of output `k` as (whole frame, remainder / den).
    pub fn position(self, k: u64) -> (u64, u64) {
        let p = u128::from(k) * u128::from(self.num);
        (
            (p / u128::from(self.den)) as u64,
            (p % u128::from(self.den)) as u64,
        )
    }

    /// Is output `k` before source position `index` (exactly)?
    pub fn before(self, k: u64, index: u64) -> bool {
        u128::from(k) * u128::from(self.num) < u128::from(index) * u128::from(self.den)
    }

    /// The fraction of the way from source `a` to source `b` (`a <= pos(k) < b`) of output `k`.
    pub fn fraction(self, k: u64, a: u64, b: u64) -> f64 {
        let p = u128::from(k) * u128::from(self.num);
        let from = u128::from(a) * u128::from(self.den);
        let span = u128::from(b - a) * u128::from(self.den);
        (p - from) as f64 / span as f64
    }

    /// How many frames a sequence of `n` source frames becomes: with `hold_last` the duration is
    /// kept (positions before `n`, for video with audio), otherwise the last frame is the last
    /// source frame (positions up to `n - 1`, for frame folders).
    pub fn output_count(self, n: u64, hold_last: bool) -> u64 {
        if n == 0 {
            return 0;
        }
        let (num, den) = (u128::from(self.num), u128::from(self.den));
        let count = if hold_last {
            (u128::from(n) * den).div_ceil(num)
        } else {
            u128::from(n - 1) * den / num + 1
        };
        count as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!(
            "60".parse::<FrameRate>().unwrap(),
            FrameRate { num: 60, den: 1 }
        );
        assert_eq!(
            "23.976".parse::<FrameRate>().unwrap(),
            FrameRate {
                num: 24000,
                den: 1001
            }
        );
        assert_eq!(
            "29.97".parse::<FrameRate>().unwrap(),
            FrameRate {
                num: 30000,
                den: 1001
            }
        );
        assert_eq!(
            "59.94".parse::<FrameRate>().unwrap(),
            FrameRate {
                num: 60000,
                den: 1001
            }
        );
        assert_eq!(
            "30000/1001".parse::<FrameRate>().unwrap(),
            FrameRate {
                num: 30000,
                den: 1001
            }
        );
        assert_eq!(
            "12.5".parse::<FrameRate>().unwrap(),
            FrameRate { num: 25, den: 2 }
        );
        assert_eq!(
            "25.0".parse::<FrameRate>().unwrap(),
            FrameRate { num: 25, den: 1 }
        );
        assert!("0".parse::<FrameRate>().is_err());
        assert!("abc".parse::<FrameRate>().is_err());
        assert!("1/0".parse::<FrameRate>().is_err());
    }

    #[test]
    fn multiples() {
        let s = Timing::Multiple(3).step().unwrap();
        assert_eq!(s.position(4), (1, 1));
        assert!((s.fraction(4, 1, 2) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.output_count(10, false), 28);
        assert_eq!(s.output_count(10, true), 30);
    }

    /// 23.976 -> 60: output k shows source position k * 400 / 1001; source frames land exactly
    /// every 1001 outputs, and 1001 source frames (41.7500416 s) become 2505.0025 -> 2506 outputs.
    #[test]
    fn ntsc_film_to_60() {
        let t = Timing::Rate {
            input: "23.976".parse().unwrap(),
            output: "60".parse().unwrap(),
        };
        let s = t.step().unwrap();
        assert_eq!(
            s,
            Step {
                num: 400,
                den: 1001
            }
        );
        assert_eq!(s.position(1001), (400, 0));
        assert_eq!(s.position(1), (0, 400));
        assert!((s.fraction(1, 0, 1) - 400.0 / 1001.0).abs() < 1e-12);
        assert_eq!(s.output_count(1001, true), 2506);
        // Duration check: n frames at 24000/1001 last n*1001/24000 s; outputs at 60 fps cover it.
        let n = 24_000u64;
        let outs = s.output_count(n, true);
        let secs_in = n as f64 * 1001.0 / 24000.0;
        assert!((outs as f64 / 60.0 - secs_in).abs() < 1.0 / 60.0);
    }
}
