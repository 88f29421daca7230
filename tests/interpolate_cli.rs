//! `prism interpolate` end to end: a real pair with flow and preview, a video with audio to a
//! fractional target rate, and the errors (exit codes, inputs never overwritten).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::prism;

fn pair_dir() -> PathBuf {
    let dir = common::root().join("export/out/parity/interpolate/v4-I1-crop-t05");
    assert!(
        dir.join("a.png").is_file(),
        "{} is missing: {}",
        dir.display(),
        common::SETUP
    );
    dir
}

fn ffmpeg() -> PathBuf {
    prism_media::video::find_ffmpeg(None).unwrap_or_else(|e| panic!("{e}: {}", common::SETUP))
}

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().expect("prism runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn frame_count(ffmpeg: &Path, video: &Path) -> (u64, bool) {
    let out = Command::new(ffmpeg)
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(video)
        .args(["-map", "0:v:0", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let frames = text
        .rsplit("frame=")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no frame count in {text}"));
    (frames, text.contains("Audio:"))
}

/// A real pair (301x203, not a multiple of 32) with the default model: 3 frames between, the
/// middle one equal to the shipped RIFE v4.6 code's frame (so the default is rife-v4.6), the flow
/// as .flo and PNG, an animated GIF; the endpoints are the inputs, unchanged.
#[test]
fn pair_with_flow_and_preview() {
    let dir = pair_dir();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("frames");
    let gif = tmp.path().join("preview.gif");
    let (code, err) = run(prism()
        .arg("interpolate")
        .arg(dir.join("a.png"))
        .arg(dir.join("b.png"))
        .arg("-o")
        .arg(&out)
        .args(["-n", "3", "--flow", "--device", "cpu", "--preview"])
        .arg(&gif));
    assert_eq!(code, 0, "{err}");
    for i in 0..5 {
        let f = image::open(out.join(format!("{i:08}.png"))).unwrap();
        assert_eq!((f.width(), f.height()), (301, 203));
    }
    assert_eq!(
        image::open(out.join("00000000.png")).unwrap().to_rgb8(),
        image::open(dir.join("a.png")).unwrap().to_rgb8()
    );
    let middle = image::open(out.join("00000002.png")).unwrap().to_rgb8();
    let v46 = common::root().join("export/out/parity/interpolate/v46-I1-crop-t05/ref.png");
    let reference = image::open(&v46)
        .unwrap_or_else(|e| panic!("{}: {e}: {}", v46.display(), common::SETUP))
        .to_rgb16();
    let max = middle
        .as_raw()
        .iter()
        .zip(reference.as_raw())
        .map(|(&p, &r)| (f64::from(p) / 255.0 - f64::from(r) / 65535.0).abs())
        .fold(0.0, f64::max);
    assert!(
        max <= 1.0 / 255.0 + 1e-6,
        "default model is not rife-v4.6: {max}"
    );
    let (u, v) = prism_interpolate::read_flo(&out.join("flow/00000000-00000001.flo")).unwrap();
    assert_eq!(u.dim(), (203, 301));
    assert!(
        u.iter().chain(v.iter()).any(|x| x.abs() > 1.0),
        "real motion in the flow"
    );
    assert!(image::open(out.join("flow/00000000-00000001.png")).is_ok());
    let gif_bytes = std::fs::read(&gif).unwrap();
    assert!(gif_bytes.starts_with(b"GIF89a"));
    let frames = image::AnimationDecoder::into_frames(
        image::codecs::gif::GifDecoder::new(std::io::Cursor::new(gif_bytes)).unwrap(),
    )
    .count();
    assert_eq!(frames, 8, "5 frames ping-pong");
}

/// `--scale 0.5` (flow at half resolution, as for UHD input) runs the exported `-scale0.5` graph and
/// gives a middle frame close to the full-scale one on this real pair.
#[test]
fn flow_scale_uses_the_scaled_export() {
    let dir = pair_dir();
    let tmp = tempfile::tempdir().unwrap();
    let mut middles = Vec::new();
    for scale in ["1", "0.5"] {
        let out = tmp.path().join(format!("s{scale}"));
        let (code, err) = run(prism()
            .arg("interpolate")
            .arg(dir.join("a.png"))
            .arg(dir.join("b.png"))
            .arg("-o")
            .arg(&out)
            .args([
                "-n",
                "1",
                "--device",
                "cpu",
                "-m",
                "rife-v4.0",
                "--scale",
                scale,
            ]));
        assert_eq!(code, 0, "--scale {scale}: {err}");
        middles.push(image::open(out.join("00000001.png")).unwrap().to_rgb8());
    }
    let (full, half) = (&middles[0], &middles[1]);
    assert_eq!(full.dimensions(), half.dimensions());
    let mse = full
        .as_raw()
        .iter()
        .zip(half.as_raw())
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum::<f64>()
        / full.as_raw().len() as f64;
    let psnr = 10.0 * (255.0f64.powi(2) / mse).log10();
    assert!(
        psnr > 25.0 && mse > 0.0,
        "scale 0.5 vs 1: PSNR {psnr:.1} dB (must differ, and only a little)"
    );
    let (code, err) = run(prism()
        .arg("interpolate")
        .arg(dir.join("a.png"))
        .arg(dir.join("b.png"))
        .arg("-o")
        .arg(tmp.path().join("bad"))
        .args([
            "-n",
            "1",
            "--device",
            "cpu",
            "-m",
            "rife-v4.0",
            "--scale",
            "3",
        ]));
    assert_ne!(code, 0);
    assert!(err.contains("scale"), "{err}");
}

/// A 23.976 fps video with audio to 60 fps: the duration is kept (frame count), audio copied.
#[test]
fn video_to_sixty_keeps_audio() {
    let ff = ffmpeg();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.mp4");
    let status = Command::new(&ff)
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=160x96:rate=24000/1001:duration=0.5")
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=0.5",
            "-shortest",
        ])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(status.success());
    let (n_in, audio_in) = frame_count(&ff, &input);
    assert!(audio_in);
    let output = tmp.path().join("out.mp4");
    let (code, err) = run(prism()
        .arg("interpolate")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["--fps", "60", "--device", "cpu", "--no-progress"]));
    assert_eq!(code, 0, "{err}");
    let (n_out, audio_out) = frame_count(&ff, &output);
    assert!(audio_out, "audio kept");
    let expected = (n_in * 1001 * 60).div_ceil(24000);
    assert_eq!(
        n_out, expected,
        "{n_in} frames at 23.976 -> {expected} at 60"
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );
}

/// Errors: frames of different sizes (6), a timestep HD v3 cannot reach (2) unless the nearest
/// is asked for, a folder with an earlier run's frames (2 unless --overwrite), an output folder
/// holding the inputs (refused; inputs untouched).
#[test]
fn errors_are_clear_and_inputs_safe() {
    let dir = pair_dir();
    let other = common::root().join("export/out/parity/interpolate/v4-I0-full-t05/a.png");
    let tmp = tempfile::tempdir().unwrap();
    let (code, err) = run(prism()
        .arg("interpolate")
        .arg(dir.join("a.png"))
        .arg(&other)
        .arg("-o")
        .arg(tmp.path().join("x"))
        .args(["--device", "cpu"]));
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("301x203") && err.contains("448x256"), "{err}");

    let hd = |extra: &[&str]| {
        run(prism()
            .arg("interpolate")
            .arg(dir.join("a.png"))
            .arg(dir.join("b.png"))
            .arg("-o")
            .arg(tmp.path().join("hd"))
            .args([
                "--model",
                "rife-hd-v3",
                "--timestep",
                "0.3",
                "--device",
                "cpu",
            ])
            .args(extra))
    };
    let (code, err) = hd(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("0.3") && err.contains("nearest"), "{err}");
    let (code, err) = hd(&["--nearest-timestep"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_dir(tmp.path().join("hd")).unwrap().count(), 3);
    // Frames of an earlier run are not mixed with new ones unless --overwrite says so.
    let (code, err) = hd(&["--nearest-timestep"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("earlier run") && err.contains("--overwrite"),
        "{err}"
    );
    let (code, err) = hd(&["--nearest-timestep", "--overwrite"]);
    assert_eq!(code, 0, "{err}");

    let inputs = tmp.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    std::fs::copy(dir.join("a.png"), inputs.join("00000000.png")).unwrap();
    std::fs::copy(dir.join("b.png"), inputs.join("00000001.png")).unwrap();
    let before = std::fs::read(inputs.join("00000001.png")).unwrap();
    let (code, err) = run(prism()
        .arg("interpolate")
        .arg(&inputs)
        .arg("-o")
        .arg(&inputs)
        .args(["--device", "cpu", "--no-progress"]));
    assert_ne!(code, 0);
    assert!(err.contains("never overwritten"), "{err}");
    assert_eq!(std::fs::read(inputs.join("00000001.png")).unwrap(), before);

    let (code, err) = run(prism()
        .arg("interpolate")
        .arg(dir.join("a.png"))
        .arg(dir.join("b.png"))
        .arg("-o")
        .arg(tmp.path().join("s"))
        .args(["--scale", "3", "--device", "cpu"]));
    assert_eq!(code, 2, "{err}");
}
