//! Output timing: which source position each output frame shows, for integer multiples and for
//! target frame rates (fractional ones included: 23.976 -> 60), in exact rational arithmetic so
//! long videos never drift.

use std::str::FromStr;

use crate::error::{Error, Result};

/// The fastest frame rate accepted (input, target or result of a multiple).
pub const MAX_FPS: u64 = 10_000;
/// The largest multiple (`-x`): output frames per source frame.
pub const MAX_MULTIPLE: u32 = 1024;

/// A frame rate as an exact fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRate {
    pub num: u64,
    pub den: u64,
}

impl FrameRate {
    /// `num / den` reduced; positive, at most [`MAX_FPS`], with terms at most `u32::MAX` (so
    /// products of two always fit 64 bits).
    pub fn new(num: u64, den: u64) -> Result<FrameRate> {
        FrameRate::bounded(u128::from(num), u128::from(den), MAX_FPS)
    }

    fn bounded(num: u128, den: u128, max_fps: u64) -> Result<FrameRate> {
        let bad = |reason: String| Error::FrameRate {
            text: format!("{num}/{den}"),
            reason,
        };
        if num == 0 || den == 0 {
            return Err(bad("must be positive".into()));
        }
        let g = gcd(num, den);
        let (n, d) = (num / g, den / g);
        if n > u128::from(max_fps) * d {
            return Err(bad(format!("more than {max_fps} frames per second")));
        }
        match (u32::try_from(n), u32::try_from(d)) {
            (Ok(n), Ok(d)) => Ok(FrameRate {
                num: u64::from(n),
                den: u64::from(d),
            }),
            _ => Err(bad(format!(
                "numerator and denominator must be at most {} once reduced",
                u32::MAX
            ))),
        }
    }

    /// This rate, checked as [`FrameRate::new`] checks (the fields are public).
    pub fn validated(self) -> Result<FrameRate> {
        FrameRate::new(self.num, self.den)
    }

    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den.max(1) as f64
    }

    /// This rate times `m`, checked: at most [`MAX_FPS`] x [`MAX_MULTIPLE`].
    pub fn checked_times(self, m: u64) -> Result<FrameRate> {
        let max = MAX_FPS * u64::from(MAX_MULTIPLE);
        FrameRate::bounded(
            u128::from(self.num) * u128::from(m),
            u128::from(self.den),
            max,
        )
    }

    /// This rate times `m`, exact while it fits 64 bits, saturating beyond (never panics); see
    /// [`FrameRate::checked_times`].
    pub fn times(self, m: u64) -> FrameRate {
        let (num, den) = (
            u128::from(self.num) * u128::from(m),
            u128::from(self.den.max(1)),
        );
        let g = gcd(num, den);
        FrameRate {
            num: u64::try_from(num / g).unwrap_or(u64::MAX),
            den: u64::try_from(den / g).unwrap_or(u64::MAX),
        }
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
        if s.len() > 64 {
            return Err(bad("longer than 64 characters"));
        }
        let positive = |r: Result<FrameRate>| {
            r.map_err(|e| match e {
                Error::FrameRate { reason, .. } => bad(&reason),
                other => other,
            })
        };
        if let Some((n, d)) = s.split_once('/') {
            let n: u64 = n
                .trim()
                .parse()
                .map_err(|_| bad("numerator is not an integer below 2^64"))?;
            let d: u64 = d
                .trim()
                .parse()
                .map_err(|_| bad("denominator is not an integer below 2^64"))?;
            return positive(FrameRate::new(n, d));
        }
        let value: f64 = s
            .parse()
            .map_err(|_| bad("not a number (60, 59.94 or 30000/1001)"))?;
        if !(value.is_finite() && value > 0.0 && value <= MAX_FPS as f64) {
            return Err(bad("must be above 0 and at most 10000"));
        }
        if let Some((int, frac)) = s.split_once('.') {
            // NTSC: N * 1000/1001 written with 2 or 3 decimals.
            let n = (value * 1001.0 / 1000.0).round();
            if frac.len() >= 2 && n >= 1.0 && (n * 1000.0 / 1001.0 - value).abs() < 0.0051 {
                return positive(FrameRate::new(n as u64 * 1000, 1001));
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
            // whole <= 10000 and scale <= 10^6: no overflow.
            return positive(FrameRate::new(whole * scale + part, scale));
        }
        let n: u64 = s
            .parse()
            .map_err(|_| bad("not a number (60, 59.94 or 30000/1001)"))?;
        positive(FrameRate::new(n, 1))
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
    /// The source step per output frame; refuses multiples outside 1..=[`MAX_MULTIPLE`] and
    /// rates [`FrameRate::new`] would refuse.
    pub fn step(self) -> Result<Step> {
        match self {
            Timing::Multiple(m) if !(1..=MAX_MULTIPLE).contains(&m) => Err(Error::FrameRate {
                text: format!("x{m}"),
                reason: format!(
                    "the multiple must be 1 to {MAX_MULTIPLE} output frames per source frame"
                ),
            }),
            Timing::Multiple(m) => Ok(Step {
                num: 1,
                den: u64::from(m),
            }),
            Timing::Rate { input, output } => {
                let (input, output) = (input.validated()?, output.validated()?);
                // (in.num / in.den) / (out.num / out.den) source frames per output frame; the
                // terms are at most u32::MAX, so the products fit.
                let (num, den) = (input.num * output.den, input.den * output.num);
                let g = gcd(u128::from(num), u128::from(den)) as u64;
                Ok(Step {
                    num: num / g,
                    den: den / g,
                })
            }
        }
    }

    /// The output frame rate for a source at `input`, checked (at most [`MAX_FPS`]).
    pub fn checked_output_rate(self, input: FrameRate) -> Result<FrameRate> {
        match self {
            Timing::Multiple(m) => input.validated()?.checked_times(u64::from(m)),
            Timing::Rate { output, .. } => output.validated(),
        }
    }

    /// The output frame rate for a source at `input` (saturating; see
    /// [`Timing::checked_output_rate`]).
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
        let den = u128::from(self.den.max(1));
        (saturate(p / den), saturate(p % den))
    }

    /// Is output `k` before source position `index` (exactly)?
    pub fn before(self, k: u64, index: u64) -> bool {
        u128::from(k) * u128::from(self.num) < u128::from(index) * u128::from(self.den)
    }

    /// The first output at or after source frame `index` (`k * step >= index`).
    pub fn first_output_at(self, index: u64) -> u64 {
        saturate((u128::from(index) * u128::from(self.den)).div_ceil(u128::from(self.num.max(1))))
    }

    /// The fraction of the way from source `a` to source `b` (`a <= pos(k) < b`) of output `k`.
    pub fn fraction(self, k: u64, a: u64, b: u64) -> f64 {
        let p = u128::from(k) * u128::from(self.num);
        let from = u128::from(a) * u128::from(self.den);
        let span = u128::from(b.saturating_sub(a)) * u128::from(self.den);
        p.saturating_sub(from) as f64 / span.max(1) as f64
    }

    /// How many frames a sequence of `n` source frames becomes: with `hold_last` the duration is
    /// kept (positions before `n`, for video with audio), otherwise the last frame is the last
    /// source frame (positions up to `n - 1`, for frame folders).
    pub fn output_count(self, n: u64, hold_last: bool) -> u64 {
        if n == 0 {
            return 0;
        }
        let (num, den) = (u128::from(self.num.max(1)), u128::from(self.den));
        let count = if hold_last {
            (u128::from(n) * den).div_ceil(num)
        } else {
            u128::from(n - 1) * den / num + 1
        };
        saturate(count)
    }
}

fn saturate(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
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
    fn hostile_rates_are_clear_errors() {
        let long = "1".repeat(65);
        for (text, want) in [
            ("18446744073709551615/1", "more than 10000 frames"),
            ("18446744073709551616/1", "numerator is not an integer"),
            ("1/18446744073709551616", "denominator is not an integer"),
            ("1/4294967296", "at most 4294967295"),
            ("1/0", "must be positive"),
            ("0/0", "must be positive"),
            ("NaN", "above 0"),
            ("inf", "above 0"),
            ("-inf", "above 0"),
            ("1e400", "above 0"),
            ("-5", "above 0"),
            ("10000.5", "above 0 and at most 10000"),
            ("", "not a number"),
            ("1.2345678", "more than 6 decimals"),
            (long.as_str(), "longer than 64"),
        ] {
            let err = text.parse::<FrameRate>().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(want), "{text}: {msg}");
            assert!(matches!(err, Error::FrameRate { .. }), "{text}: {err:?}");
        }
        assert_eq!("10000".parse::<FrameRate>().unwrap().num, 10_000);
        assert_eq!(
            "1/4294967295".parse::<FrameRate>().unwrap().den,
            4_294_967_295
        );
    }

    #[test]
    fn hostile_timings_are_errors_not_panics() {
        let huge = FrameRate {
            num: u64::MAX,
            den: 1,
        };
        let tiny = FrameRate {
            num: 1,
            den: u64::MAX,
        };
        let zero = FrameRate { num: 0, den: 0 };
        for (input, output) in [(huge, tiny), (tiny, huge), (zero, huge), (huge, zero)] {
            assert!(Timing::Rate { input, output }.step().is_err());
            assert!(
                Timing::Rate { input, output }
                    .checked_output_rate(input)
                    .is_err()
            );
        }
        for m in [0, MAX_MULTIPLE + 1, u32::MAX] {
            let err = Timing::Multiple(m).step().unwrap_err();
            assert!(err.to_string().contains("1 to 1024"), "{err}");
            assert!(matches!(err, Error::FrameRate { .. }), "{err:?}");
        }
        // Saturating, never wrapping or panicking.
        assert_eq!(huge.times(u64::MAX).num, u64::MAX);
        assert!(
            Timing::Multiple(u32::MAX)
                .checked_output_rate(huge)
                .is_err()
        );
        let ntsc = FrameRate::new(30000, 1001).unwrap();
        assert_eq!(
            Timing::Multiple(4).checked_output_rate(ntsc).unwrap(),
            FrameRate {
                num: 120000,
                den: 1001
            }
        );
        let s = Step {
            num: 1,
            den: u64::MAX,
        };
        assert_eq!(s.output_count(u64::MAX, true), u64::MAX);
        assert_eq!(Step { num: 0, den: 0 }.position(u64::MAX), (0, 0));
        assert_eq!(s.fraction(1, 5, 2), 0.0);
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
