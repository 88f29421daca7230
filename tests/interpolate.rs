//! Frame interpolation against PyTorch on real frame pairs with real weights, quality against
//! ground truth, and sequence behaviour (scene cuts). References come from
//! `export/parity/interpolate_refs.py` (run by `cargo xtask test`), never from Prism.

mod common;

use std::path::PathBuf;

use image::DynamicImage;
use prism_core::{Device, Precision, SessionOptions};
use prism_interpolate::metrics::{planes, psnr, ssim};
use prism_interpolate::sequence::thumbnail_similarity;
use prism_interpolate::{
    FrameKind, FrameRate, InterpolatedStream, Interpolator, InterpolatorOptions, OutputFrame,
    SequenceOptions, Timing, read_flo,
};

fn parity_dir() -> PathBuf {
    let dir = common::root().join("export/out/parity/interpolate");
    assert!(
        dir.join("cases.json").is_file(),
        "{} is missing: {}",
        dir.join("cases.json").display(),
        common::SETUP
    );
    dir
}

fn cases() -> serde_json::Value {
    let text = std::fs::read_to_string(parity_dir().join("cases.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn load(path: PathBuf) -> DynamicImage {
    image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cpu_fp32() -> InterpolatorOptions {
    InterpolatorOptions {
        session: SessionOptions {
            device: Device::Cpu,
            precision: Precision::Fp32,
            ..SessionOptions::default()
        },
        ..InterpolatorOptions::default()
    }
}

fn interpolator(id: &str) -> Interpolator {
    Interpolator::new(&common::exported(id), cpu_fp32()).unwrap()
}

/// Every real pair, sizes that are and are not multiples of 32, v4.0, v4.0-refine, HD v3
/// (t = 0.25 by bisection) and v4.6 (against the IFNet code shipped with its weights):
/// 8-bit output within 1/255 of PyTorch, flow within 0.05 px.
#[test]
fn parity_with_pytorch_on_real_pairs() {
    let dir = parity_dir();
    let all = cases();
    let mut models = std::collections::HashMap::new();
    for case in all["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let model = case["model"].as_str().unwrap();
        let t = case["t"].as_f64().unwrap();
        let d = dir.join(case["dir"].as_str().unwrap());
        let (a, b) = (load(d.join("a.png")), load(d.join("b.png")));
        assert!(matches!(a, DynamicImage::ImageRgb8(_)));
        let rife = models
            .entry(model.to_string())
            .or_insert_with(|| interpolator(model));
        let out = rife.interpolate_many(&a, &b, &[t]).unwrap().remove(0);
        assert!(
            matches!(out.image, DynamicImage::ImageRgb8(_)),
            "{id}: 8-bit in, 8-bit out"
        );
        let got = out.image.to_rgb8();
        let reference = load(d.join("ref.png")).to_rgb16();
        assert_eq!(got.dimensions(), reference.dimensions(), "{id}");
        let max = got
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(&p, &r)| (f64::from(p) / 255.0 - f64::from(r) / 65535.0).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "{id}: max |prism - pytorch| = {:.5} ({:.2}/255)",
            max,
            max * 255.0
        );
        assert!(
            max <= 1.0 / 255.0 + 1e-6,
            "{id}: max abs difference {max} > 1/255"
        );
        for (k, file) in [(0usize, "flow0.flo"), (2, "flow1.flo")] {
            let (u, v) = read_flo(&d.join(file)).unwrap();
            let fu = out.flow.data.index_axis(ndarray::Axis(0), k);
            let fv = out.flow.data.index_axis(ndarray::Axis(0), k + 1);
            let err = fu
                .iter()
                .zip(u.iter())
                .chain(fv.iter().zip(v.iter()))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 0.05, "{id}: {file} differs by {err} px");
        }
    }
    for model in ["rife-v4.0", "rife-v4.0-refine", "rife-hd-v3", "rife-v4.6"] {
        assert!(
            models.contains_key(model),
            "no {model} case in cases.json: rerun export/parity/interpolate_refs.py"
        );
    }
}

/// A real photograph panned by sub-pixel steps (16-bit frames): the middle frame each model
/// makes beats the plain blend of frames 0 and 1 on PSNR and SSIM, and stays 16-bit.
#[test]
fn middle_frame_beats_blend_on_ground_truth() {
    let pan = parity_dir().join("pan");
    let (f0, gt, f1) = (
        load(pan.join("f0.png")),
        load(pan.join("f05.png")),
        load(pan.join("f1.png")),
    );
    assert!(matches!(f0, DynamicImage::ImageRgb16(_)));
    let (p0, pg, p1) = (planes(&f0), planes(&gt), planes(&f1));
    let blend = (&p0 + &p1) * 0.5;
    let (blend_psnr, blend_ssim) = (psnr(blend.view(), pg.view()), ssim(blend.view(), pg.view()));
    eprintln!("blend: PSNR {blend_psnr:.2} dB, SSIM {blend_ssim:.4}");
    for id in ["rife-v4.0", "rife-v4.0-refine", "rife-hd-v3", "rife-v4.6"] {
        let out = interpolator(id).interpolate(&f0, &f1, 0.5).unwrap();
        assert!(
            matches!(out, DynamicImage::ImageRgb16(_)),
            "{id}: 16-bit in, 16-bit out"
        );
        let pm = planes(&out);
        let (p, s) = (psnr(pm.view(), pg.view()), ssim(pm.view(), pg.view()));
        eprintln!(
            "{id}: PSNR {p:.2} dB (+{:.2}), SSIM {s:.4} (+{:.4})",
            p - blend_psnr,
            s - blend_ssim
        );
        assert!(p > blend_psnr + 6.0, "{id}: PSNR {p} vs blend {blend_psnr}");
        assert!(s > blend_ssim + 0.2, "{id}: SSIM {s} vs blend {blend_ssim}");
    }
}

/// `n` frames of a real photograph panned by 3 px per frame (160x96 crops).
fn pan_frames(name: &str, n: usize, x0: u32, y0: u32) -> Vec<DynamicImage> {
    let img = load(common::real_image(name)).to_rgb8();
    (0..n as u32)
        .map(|i| {
            DynamicImage::ImageRgb8(
                image::imageops::crop_imm(&img, x0 + 3 * i, y0, 160, 96).to_image(),
            )
        })
        .collect()
}

fn run_sequence(
    rife: &mut Interpolator,
    frames: &[DynamicImage],
    options: SequenceOptions,
) -> (Vec<OutputFrame>, prism_interpolate::SequenceStats) {
    let mut stream =
        InterpolatedStream::new(rife, frames.iter().cloned().map(Ok), options).unwrap();
    let out: Vec<OutputFrame> = stream.by_ref().map(|f| f.unwrap()).collect();
    (out, stream.stats().clone())
}

/// A hard cut between two real scenes: the frames at the cut repeat the last frame before it
/// (never a blend of both scenes); every other pair is interpolated. With detection off, the
/// same pair is morphed, which shows the detection is what prevents it.
#[test]
fn scene_cut_repeats_instead_of_blending() {
    let mut frames = pan_frames("astronaut.png", 3, 100, 120);
    frames.extend(pan_frames("coffee.png", 3, 200, 100));
    let within = thumbnail_similarity(&frames[0], &frames[1]);
    let across = thumbnail_similarity(&frames[2], &frames[3]);
    eprintln!("thumbnail SSIM within a scene {within:.3}, across the cut {across:.3}");
    let mut rife = interpolator("rife-v4.0");
    let options = SequenceOptions {
        timing: Timing::Multiple(3),
        ..SequenceOptions::default()
    };
    let (out, stats) = run_sequence(&mut rife, &frames, options.clone());
    assert_eq!(out.len(), 16, "(6 - 1) * 3 + 1 frames");
    assert_eq!(stats.scene_cuts, 1);
    assert_eq!(stats.interpolated, 8);
    for f in &out {
        match f.kind {
            FrameKind::SceneCut { a, b } => {
                assert_eq!((a, b), (2, 3));
                assert_eq!(
                    f.image, frames[2],
                    "a cut frame is the frame before the cut"
                );
            }
            FrameKind::Interpolated { a, b, .. } => {
                assert!(b <= 2 || a >= 3, "interpolated across the cut: {a} -> {b}");
                // Each interpolated frame belongs to its own scene.
                let s = thumbnail_similarity(&f.image, &frames[a as usize]);
                assert!(
                    s > 0.5,
                    "frame {} looks like neither neighbour ({s})",
                    f.index
                );
            }
            FrameKind::Source { index } => assert_eq!(f.image, frames[index as usize]),
            FrameKind::Held { .. } => panic!("no held frames in a folder sequence"),
        }
    }
    let kinds: Vec<_> = out.iter().map(|f| f.kind).collect();
    assert!(
        matches!(kinds[7], FrameKind::SceneCut { .. })
            && matches!(kinds[8], FrameKind::SceneCut { .. })
    );

    let (morphed, stats) = run_sequence(
        &mut rife,
        &frames,
        SequenceOptions {
            scene_threshold: 0.0,
            ..options
        },
    );
    assert_eq!(stats.scene_cuts, 0);
    let blend = &morphed[7].image;
    assert!(matches!(
        morphed[7].kind,
        FrameKind::Interpolated { a: 2, b: 3, .. }
    ));
    assert!(thumbnail_similarity(blend, &frames[2]) < 0.9);
}

/// Static frames dropped: a pan with every frame doubled (as in animation on twos) interpolates
/// between the distinct frames at their real positions, and keeps the count.
#[test]
fn duplicate_frames_are_dropped_and_timing_kept() {
    let distinct = pan_frames("astronaut.png", 3, 100, 120);
    let doubled: Vec<DynamicImage> = distinct
        .iter()
        .flat_map(|f| [f.clone(), f.clone()])
        .collect();
    let mut rife = interpolator("rife-v4.0");
    let (out, stats) = run_sequence(
        &mut rife,
        &doubled,
        SequenceOptions {
            timing: Timing::Multiple(2),
            dedup_threshold: Some(prism_interpolate::sequence::DEFAULT_DEDUP_THRESHOLD),
            hold_last: true,
            ..SequenceOptions::default()
        },
    );
    assert_eq!(stats.duplicates_dropped, 3);
    assert_eq!(out.len(), 12, "duration kept: 6 frames x 2");
    // Source 0 and 2 are kept; outputs 1..3 lie between them at t = 1/4, 2/4, 3/4.
    let ts: Vec<f64> = out[1..4]
        .iter()
        .map(|f| match f.kind {
            FrameKind::Interpolated { a: 0, b: 2, t } => t,
            k => panic!("unexpected {k:?}"),
        })
        .collect();
    assert_eq!(ts, [0.25, 0.5, 0.75]);
    assert!(matches!(out[4].kind, FrameKind::Source { index: 2 }));
    assert!(matches!(out[11].kind, FrameKind::Held { index: 4 }));
}

/// 23.976 -> 60 on a real pan: output count, exact source frames where positions are whole,
/// and each interpolated timestep equal to k * 400 / 1001 past its source frame.
#[test]
fn film_rate_to_60() {
    let frames = pan_frames("astronaut.png", 4, 100, 120);
    let mut rife = interpolator("rife-v4.0");
    let timing = Timing::Rate {
        input: "23.976".parse::<FrameRate>().unwrap(),
        output: "60".parse().unwrap(),
    };
    let (out, _) = run_sequence(
        &mut rife,
        &frames,
        SequenceOptions {
            timing,
            hold_last: true,
            ..SequenceOptions::default()
        },
    );
    assert_eq!(
        out.len(),
        11,
        "4 frames last 4004/24000 s; outputs start at k/60 < that: k = 0..=10"
    );
    for f in &out {
        let p = f.index as f64 * 400.0 / 1001.0;
        match f.kind {
            FrameKind::Source { index } => assert_eq!(p, index as f64),
            FrameKind::Interpolated { a, t, .. } => assert!((p - a as f64 - t).abs() < 1e-9),
            FrameKind::Held { index } => assert!(p > index as f64),
            k => panic!("unexpected {k:?}"),
        }
    }
}
