//! Upscaling files, folders and videos: batches that resume and survive bad files, atomic
//! outputs, refusal to overwrite inputs, ICC/EXIF handling, and a real video with audio through
//! ffmpeg (provisioned by `cargo xtask test`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{SETUP, exported, real_image};
use image::GenericImageView;
use prism_core::{Device, SessionOptions};
use prism_media::video::{VideoReader, find_ffmpeg, probe};
use prism_media::{BatchOptions, MapJob, MapReport, Outcome, WriteOptions, map_media, plan_jobs};
use prism_upscale::{TileSize, UpscaleOptions, Upscaler};

fn upscaler() -> Upscaler {
    let options = UpscaleOptions {
        session: SessionOptions {
            device: Device::Cpu,
            ..SessionOptions::default()
        },
        tile: TileSize::Auto,
        ..UpscaleOptions::default()
    };
    Upscaler::new(&exported("realesr-animevideov3-x2"), options).unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes a small real PNG (crop of a scikit-image photo).
fn real_png(path: &Path, x: u32, y: u32) {
    let photo = prism_media::read_image(&real_image("astronaut.png"), &Default::default())
        .unwrap()
        .image;
    photo.crop_imm(x, y, 40, 32).save(path).unwrap();
}

/// A batch with default limits and write options, skipping finished outputs, no progress bar.
fn batch(up: &mut prism_upscale::Upscaler, jobs: &[prism_media::Job]) -> prism_media::BatchReport {
    let job = MapJob::new(&jobs[0].input, None);
    prism_media::map::map_files(jobs, &job, up).unwrap()
}

/// A video run with default options.
fn video_run(
    up: &mut prism_upscale::Upscaler,
    input: &Path,
    output: &Path,
) -> Result<prism_media::map::VideoReport, prism_upscale::Error> {
    match map_media(&MapJob::new(input, Some(output)), up)? {
        MapReport::Video { video, .. } => Ok(video),
        other => panic!("not a video run: {other:?}"),
    }
}

#[test]
fn batch_reports_bad_files_goes_on_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    real_png(&input.join("a_good.png"), 200, 100);
    real_png(&input.join("e_good.png"), 100, 300);
    // Truncated: the first half of a real PNG.
    let bytes = std::fs::read(input.join("a_good.png")).unwrap();
    std::fs::write(input.join("b_truncated.png"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(input.join("c_empty.png"), b"").unwrap();
    // Unsupported: a GIF (not a format Prism decodes) and plain text, both named .png.
    std::fs::write(
        input.join("d_gif.png"),
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    )
    .unwrap();
    std::fs::write(input.join("d_text.png"), b"this is not an image").unwrap();
    let out = dir.path().join("out");
    let options = BatchOptions {
        suffix: "_x2".into(),
        ..BatchOptions::default()
    };
    let jobs = plan_jobs(&input, Some(&out), &options).unwrap();
    assert_eq!(jobs.len(), 6);
    let mut up = upscaler();
    let report = batch(&mut up, &jobs);
    assert_eq!(report.outcome(), Outcome::Partial);
    assert_eq!(report.written.len(), 2, "{report:?}");
    let failed: Vec<(String, String)> = report
        .failed
        .iter()
        .map(|(p, m)| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                m.clone(),
            )
        })
        .collect();
    let message = |name: &str| &failed.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(
        message("b_truncated.png").contains("b_truncated.png"),
        "{failed:?}"
    );
    assert!(
        message("c_empty.png").contains("empty (0 bytes)"),
        "{failed:?}"
    );
    assert!(
        message("d_gif.png").contains("Gif images are not supported"),
        "{failed:?}"
    );
    assert!(
        message("d_text.png").contains("not a PNG, JPEG, WebP or TIFF"),
        "{failed:?}"
    );
    // Only complete outputs: no partial or temporary files.
    assert_eq!(files_in(&out), ["a_good_x2.png", "e_good_x2.png"]);
    let written = prism_media::read_image(&out.join("a_good_x2.png"), &Default::default())
        .unwrap()
        .image;
    assert_eq!(written.dimensions(), (80, 64));
    // Resume: the finished outputs are skipped, not redone.
    let before = std::fs::metadata(out.join("a_good_x2.png"))
        .unwrap()
        .modified()
        .unwrap();
    let again = batch(&mut up, &jobs);
    assert_eq!(again.skipped.len(), 2);
    assert_eq!(again.written.len(), 0);
    assert_eq!(again.failed.len(), 4);
    assert_eq!(
        std::fs::metadata(out.join("a_good_x2.png"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
}

#[test]
fn never_overwrites_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("photo.png");
    real_png(&file, 0, 0);
    let before = std::fs::read(&file).unwrap();
    let err = plan_jobs(&file, Some(&file), &BatchOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("refusing to write the output over an input"),
        "{err}"
    );
    assert!(err.to_string().contains("photo.png"));
    // Same through another spelling of the path.
    let other = dir.path().join(".").join("photo.png");
    assert!(plan_jobs(&file, Some(&other), &BatchOptions::default()).is_err());
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn read_only_output_folder_is_a_clear_error_without_partial_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("photo.png");
    real_png(&input, 50, 50);
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let mut perms = std::fs::metadata(&locked).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&locked, perms).unwrap();
    // Root ignores permission bits; /proc is read-only for everyone.
    let probe = locked.join("probe");
    let locked: PathBuf = if std::fs::write(&probe, b"x").is_ok() {
        std::fs::remove_file(&probe).unwrap();
        PathBuf::from("/proc")
    } else {
        locked
    };
    let jobs = plan_jobs(
        &input,
        Some(&locked.join("photo_x2.png")),
        &BatchOptions::default(),
    )
    .unwrap();
    let mut up = upscaler();
    let report = batch(&mut up, &jobs);
    assert_eq!(report.outcome(), Outcome::Failed);
    let message = &report.failed[0].1;
    assert!(message.contains(&locked.display().to_string()), "{message}");
    assert!(message.contains("cannot create a file in"), "{message}");
    if locked != Path::new("/proc") {
        assert!(files_in(&locked).is_empty());
    }
}

#[test]
fn icc_profile_and_sixteen_bit_survive_a_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    // A 16-bit PNG with an ICC profile (a real profile's bytes are opaque to Prism).
    let photo = prism_media::read_image(&real_image("chelsea.png"), &Default::default())
        .unwrap()
        .image;
    let crop = image::DynamicImage::ImageRgb16(photo.crop_imm(100, 100, 32, 24).to_rgb16());
    let icc: Vec<u8> = (0..=255u8).cycle().take(560).collect();
    let input = dir.path().join("deep.png");
    prism_media::write_image(&input, &crop, Some(&icc), &WriteOptions::default()).unwrap();
    let jobs = plan_jobs(&input, None, &BatchOptions::default()).unwrap();
    let mut up = upscaler();
    let report = batch(&mut up, &jobs);
    assert_eq!(report.outcome(), Outcome::Success, "{report:?}");
    let out = prism_media::read_image(&jobs[0].output, &Default::default()).unwrap();
    assert_eq!(out.image.color(), image::ColorType::Rgb16);
    assert_eq!(out.image.dimensions(), (64, 48));
    assert_eq!(out.icc_profile.as_deref(), Some(icc.as_slice()));
    for ext in ["jpg", "webp", "tiff"] {
        let path = dir.path().join(format!("copy.{ext}"));
        prism_media::write_image(&path, &out.image, Some(&icc), &WriteOptions::default()).unwrap();
        let back = prism_media::read_image(&path, &Default::default()).unwrap();
        assert_eq!(back.image.dimensions(), (64, 48), "{ext}");
        assert_eq!(
            back.icc_profile.as_deref(),
            Some(icc.as_slice()),
            "{ext} keeps ICC"
        );
    }
    assert_eq!(
        prism_media::read_image(&dir.path().join("copy.tiff"), &Default::default())
            .unwrap()
            .image
            .color(),
        image::ColorType::Rgb16
    );
}

fn ffmpeg() -> PathBuf {
    find_ffmpeg(None).unwrap_or_else(|e| panic!("{e}: {SETUP}"))
}

/// An 8-frame 64x48 pan over a real photograph with a 440 Hz audio track.
fn make_video(dir: &Path) -> PathBuf {
    let photo = prism_media::read_image(&real_image("astronaut.png"), &Default::default())
        .unwrap()
        .image;
    for i in 0..8u32 {
        photo
            .crop_imm(150 + 8 * i, 80 + 2 * i, 64, 48)
            .save(dir.join(format!("f{i:02}.png")))
            .unwrap();
    }
    let video = dir.join("pan.mp4");
    let status = Command::new(ffmpeg())
        .args(["-hide_banner", "-v", "error", "-y", "-framerate", "8", "-i"])
        .arg(dir.join("f%02d.png"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=1"])
        .args([
            "-c:v",
            "libx264",
            "-crf",
            "10",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .args(["-metadata", "title=prism test pan"])
        .arg(&video)
        .status()
        .unwrap();
    assert!(status.success());
    video
}

#[test]
fn video_upscaled_with_audio_and_metadata_kept() {
    let dir = tempfile::tempdir().unwrap();
    let video = make_video(dir.path());
    let source = probe(&ffmpeg(), &video, &Default::default()).unwrap();
    assert_eq!((source.width, source.height), (64, 48));
    assert!(source.has_audio);
    let output = dir.path().join("pan_x2.mp4");
    let mut up = upscaler();
    let report = video_run(&mut up, &video, &output).unwrap();
    assert_eq!(report.frames, 8);
    let info = probe(&ffmpeg(), &output, &Default::default()).unwrap();
    assert_eq!((info.width, info.height), (128, 96));
    assert!(info.has_audio, "audio kept");
    assert!(
        (info.fps - 8.0).abs() < 1e-6,
        "frame rate kept: {}",
        info.fps
    );
    let text = String::from_utf8_lossy(
        &Command::new(ffmpeg())
            .arg("-hide_banner")
            .arg("-i")
            .arg(&output)
            .output()
            .unwrap()
            .stderr,
    )
    .into_owned();
    assert!(text.contains("prism test pan"), "metadata kept: {text}");
    let frames: Vec<_> = VideoReader::open(&ffmpeg(), &output, &info)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(frames.len(), 8);
    // The content is the upscaled pan: each output frame is close to a Lanczos upscale of its source.
    let first = prism_media::read_image(&dir.path().join("f00.png"), &Default::default())
        .unwrap()
        .image;
    let lanczos = prism_media::resize(&first, 128, 96).to_rgb8();
    let got = frames[0].to_rgb8();
    let mean: f64 = got
        .as_raw()
        .iter()
        .zip(lanczos.as_raw())
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
        .sum::<f64>()
        / got.as_raw().len() as f64;
    assert!(
        mean < 12.0,
        "mean abs difference to a Lanczos upscale: {mean}"
    );
    // No temporary files left; the input is untouched; writing over the input is refused.
    assert!(files_in(dir.path()).iter().all(|n| !n.contains(".prism-")));
    let err = video_run(&mut up, &video, &video).unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
    assert!(report.audio_copied);
}

/// A JPEG whose EXIF says "rotate 90° clockwise" (orientation 6) is read upright.
#[test]
fn exif_orientation_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let photo = prism_media::read_image(&real_image("astronaut.png"), &Default::default())
        .unwrap()
        .image;
    let crop = photo.crop_imm(100, 100, 40, 24);
    let plain = dir.path().join("plain.jpg");
    prism_media::write_image(&plain, &crop, None, &WriteOptions::default()).unwrap();
    let jpeg = std::fs::read(&plain).unwrap();
    // APP1 "Exif": little-endian TIFF header, one IFD entry: Orientation (0x0112) SHORT = 6.
    let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec();
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut rotated = jpeg[..2].to_vec();
    rotated.extend_from_slice(&[0xFF, 0xE1]);
    rotated.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    rotated.extend_from_slice(&app1);
    rotated.extend_from_slice(&jpeg[2..]);
    let path = dir.path().join("rotated.jpg");
    std::fs::write(&path, rotated).unwrap();
    let loaded = prism_media::read_image(&path, &Default::default()).unwrap();
    assert_eq!(loaded.orientation, image::metadata::Orientation::Rotate90);
    assert_eq!(loaded.image.dimensions(), (24, 40), "rotated upright");
    let jobs = plan_jobs(&path, None, &BatchOptions::default()).unwrap();
    let report = batch(&mut upscaler(), &jobs);
    assert_eq!(report.outcome(), Outcome::Success, "{report:?}");
    assert_eq!(
        prism_media::read_image(&jobs[0].output, &Default::default())
            .unwrap()
            .image
            .dimensions(),
        (48, 80)
    );
}
