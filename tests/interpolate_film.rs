//! `prism interpolate -m film` end to end on a real pair (301x203, padded to 64): three frames by
//! recursive bisection (the default) and a direct `dt` run, each against PyTorch references of
//! the same seeded network (`python -m prism_export.film_refs`), flow and preview written, the
//! seeded-weights warning printed, and a frame that does not fit the memory budget refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::prism;

fn refs() -> PathBuf {
    let dir = common::root().join("export/out/parity/film");
    assert!(
        dir.join("t025-bisect.png").is_file(),
        "{} is missing: run `python -m prism_export.film_refs` ({})",
        dir.display(),
        common::SETUP
    );
    dir
}

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().expect("prism runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Largest difference between an 8-bit frame and a 16-bit reference, in 1/255.
fn max_diff(frame: &Path, reference: &Path) -> f64 {
    let f = image::open(frame).unwrap().to_rgb8();
    let r = image::open(reference).unwrap().to_rgb16();
    assert_eq!(f.dimensions(), r.dimensions());
    f.as_raw()
        .iter()
        .zip(r.as_raw())
        .map(|(&p, &q)| (f64::from(p) - f64::from(q) / 257.0).abs())
        .fold(0.0, f64::max)
}

fn interpolate(dir: &Path, out: &Path, extra: &[&str]) -> String {
    let (code, err) = run(prism()
        .arg("interpolate")
        .arg(dir.join("a.png"))
        .arg(dir.join("b.png"))
        .arg("-o")
        .arg(out)
        .args(["-m", "film", "--device", "cpu", "--precision", "fp32"])
        .args(extra));
    assert_eq!(code, 0, "{err}");
    err
}

/// Output frame `i` of a frame folder.
fn frame(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("{i:08}.png"))
}

#[test]
fn film_pair_bisect_and_direct() {
    let dir = refs();
    let tmp = tempfile::tempdir().unwrap();
    let bisect = tmp.path().join("bisect");
    let gif = tmp.path().join("preview.gif");
    let gif_arg = gif.to_str().unwrap();
    let err = interpolate(&dir, &bisect, &["-n", "3", "--flow", "--preview", gif_arg]);
    assert!(
        err.contains("SEEDED RANDOM"),
        "no seeded-weights warning: {err}"
    );
    for i in 0..5 {
        let f = image::open(frame(&bisect, i)).unwrap();
        assert_eq!((f.width(), f.height()), (301, 203));
    }
    assert_eq!(
        image::open(frame(&bisect, 0)).unwrap().to_rgb8(),
        image::open(dir.join("a.png")).unwrap().to_rgb8()
    );
    assert!(bisect.join("flow/00000000-00000001.flo").is_file());
    assert!(bisect.join("flow/00000000-00000001.png").is_file());
    assert!(gif.is_file());
    let mid = max_diff(&frame(&bisect, 2), &dir.join("t05.png"));
    let quarter = max_diff(&frame(&bisect, 1), &dir.join("t025-bisect.png"));
    assert!(
        mid <= 1.0 + 1e-6 && quarter <= 1.0 + 1e-6,
        "{mid} {quarter}"
    );

    // one direct run at dt = 0.25: another frame than bisection's
    let direct = tmp.path().join("direct.png");
    interpolate(
        &dir,
        &direct,
        &["--timestep", "0.25", "--timestep-mode", "direct"],
    );
    let quarter = max_diff(&direct, &dir.join("t025-direct.png"));
    assert!(quarter <= 1.0 + 1e-6, "{quarter}");
    assert_ne!(
        image::open(&direct).unwrap().to_rgb8(),
        image::open(frame(&bisect, 1)).unwrap().to_rgb8()
    );
}

/// A frame whose estimated need exceeds `--memory-budget` is refused (exit 6) before any run,
/// naming the frame, the estimate and the flag.
#[test]
fn film_refuses_a_frame_over_the_memory_budget() {
    let dir = refs();
    let tmp = tempfile::tempdir().unwrap();
    let (code, err) = run(prism()
        .arg("interpolate")
        .arg(dir.join("a.png"))
        .arg(dir.join("b.png"))
        .arg("-o")
        .arg(tmp.path().join("out"))
        .args(["-m", "film", "--device", "cpu", "--memory-budget", "64"]));
    assert_eq!(code, 6, "{err}");
    assert!(
        err.contains("301x203") && err.contains("MiB") && err.contains("--memory-budget"),
        "{err}"
    );
    assert!(!frame(&tmp.path().join("out"), 1).exists());
}

/// A folder of three frames through the sequence pipeline with FILM: `-x 2` makes five frames,
/// the sources unchanged in place and each pair's flow written.
#[test]
fn film_frame_folder() {
    let dir = refs();
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    let a = image::open(dir.join("a.png")).unwrap();
    let b = image::open(dir.join("b.png")).unwrap();
    for (i, (image, x)) in [(&a, 40), (&b, 40), (&b, 44)].into_iter().enumerate() {
        image
            .crop_imm(x, 60, 64, 48)
            .save(frames.join(format!("f{i}.png")))
            .unwrap();
    }
    let out = tmp.path().join("out");
    let (code, err) = run(prism()
        .arg("interpolate")
        .arg(&frames)
        .arg("-o")
        .arg(&out)
        .args([
            "-m",
            "film",
            "-x",
            "2",
            "--flow",
            "--device",
            "cpu",
            "--no-progress",
        ]));
    assert_eq!(code, 0, "{err}");
    for i in 0..5 {
        let f = image::open(frame(&out, i)).unwrap();
        assert_eq!((f.width(), f.height()), (64, 48));
    }
    assert!(!frame(&out, 5).exists());
    assert_eq!(
        image::open(frame(&out, 2)).unwrap().to_rgb8(),
        image::open(frames.join("f1.png")).unwrap().to_rgb8()
    );
    for pair in ["00000000-00000001", "00000001-00000002"] {
        assert!(out.join(format!("flow/{pair}.flo")).is_file(), "{pair}");
    }
}

/// The library on a 64x48 crop: in bisection mode t = 1/3 is one run at dt = 1/3 from the pair
/// (nearest the middle), so it equals the direct run; t = 2/3 is then the middle of (1/3, 1), not
/// the direct run's frame.
#[test]
fn film_bisects_other_timesteps_nearest_the_middle() {
    use prism_interpolate::{Interpolator, InterpolatorOptions, TimestepMode};
    let dir = refs();
    let crop = |name: &str| {
        image::open(dir.join(name))
            .unwrap()
            .crop_imm(100, 80, 64, 48)
    };
    let (a, b) = (crop("a.png"), crop("b.png"));
    let path = common::exported("film");
    let net = |mode| {
        Interpolator::new(
            &path,
            InterpolatorOptions {
                session: prism_core::SessionOptions {
                    device: prism_core::Device::Cpu,
                    precision: prism_core::Precision::Fp32,
                    ..prism_core::SessionOptions::default()
                },
                timestep_mode: mode,
                ..InterpolatorOptions::default()
            },
        )
        .unwrap()
    };
    let ts = [1.0 / 3.0, 2.0 / 3.0];
    let bisect = net(None).interpolate_many(&a, &b, &ts).unwrap();
    let direct = net(Some(TimestepMode::Direct))
        .interpolate_many(&a, &b, &ts)
        .unwrap();
    assert_eq!(bisect[0].image, direct[0].image);
    assert_ne!(bisect[1].image, direct[1].image);
}
