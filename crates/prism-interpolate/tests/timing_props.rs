//! Property tests of the frame-rate parser and the rational timing arithmetic: any text, any
//! fraction, any multiple gives a rate or a clear error, and never a panic. Fixed seed.

use prism_interpolate::timing::{MAX_FPS, Step};
use prism_interpolate::{FrameRate, Timing};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5052_4953_4d00_0012),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A parsed rate is reduced, positive, at most MAX_FPS, with 32-bit terms.
fn sound(r: FrameRate) -> Result<(), TestCaseError> {
    prop_assert!(r.num >= 1 && r.den >= 1);
    prop_assert!(r.num <= u64::from(u32::MAX) && r.den <= u64::from(u32::MAX));
    prop_assert!(u128::from(r.num) <= u128::from(MAX_FPS) * u128::from(r.den));
    Ok(())
}

fn parse(text: &str) -> Result<Option<FrameRate>, TestCaseError> {
    match text.parse::<FrameRate>() {
        Ok(r) => {
            sound(r)?;
            Ok(Some(r))
        }
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(msg.starts_with("invalid frame rate `"), "{msg}");
            prop_assert!(
                matches!(e, prism_interpolate::Error::FrameRate { .. }),
                "{e:?}"
            );
            Ok(None)
        }
    }
}

fn rate_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9./ +eE-]{0,24}",
        "(NaN|nan|inf|-inf|infinity|\\+inf|1e999|-0|0\\.0)",
        (any::<u64>(), any::<u64>()).prop_map(|(n, d)| format!("{n}/{d}")),
        (0u64..20_000, 0u64..1_000_000).prop_map(|(a, b)| format!("{a}.{b}")),
        any::<String>(),
    ]
}

/// Exercises every Step operation at extreme and ordinary positions.
fn walk(step: Step) {
    for n in [0, 1, 2, 1000, u64::MAX] {
        let count = step.output_count(n, true);
        let _ = step.output_count(n, false);
        for k in [0, 1, count / 2, count.saturating_sub(1), u64::MAX] {
            let (whole, _) = step.position(k);
            let _ = step.before(k, whole);
            let _ = step.fraction(k, whole, whole.saturating_add(1));
        }
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_text_parses_or_errs(text in rate_text()) {
        parse(&text)?;
    }

    #[test]
    fn rates_and_multiples_combine_without_panics(
        a in rate_text(),
        b in rate_text(),
        m in prop_oneof![Just(0u32), 1u32..8, Just(1024), Just(1025), any::<u32>()],
        raw in (any::<u64>(), any::<u64>()),
    ) {
        let input = parse(&a)?.unwrap_or(FrameRate { num: raw.0, den: raw.1 });
        let output = parse(&b)?.unwrap_or(FrameRate { num: raw.1, den: raw.0 });
        for timing in [Timing::Multiple(m), Timing::Rate { input, output }] {
            let _ = timing.output_rate(input);
            match timing.checked_output_rate(input) {
                Ok(r) => prop_assert!(r.num >= 1 && r.den >= 1),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            match timing.step() {
                Ok(step) => {
                    prop_assert!(step.num >= 1 && step.den >= 1);
                    walk(step);
                }
                Err(e) => prop_assert!(
                    matches!(e, prism_interpolate::Error::FrameRate { .. }),
                    "{e:?}"
                ),
            }
        }
    }
}
