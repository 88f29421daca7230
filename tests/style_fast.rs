//! Fast style end to end: the TransformerNet graph against PyTorch, and the image options.

mod common;

use image::DynamicImage;
use ndarray::Array4;
use prism_core::{Device, SessionOptions, ValueRange, image_to_tensor};
use prism_style::{FastOptions, FastStyle};

fn cpu() -> SessionOptions {
    SessionOptions {
        device: Device::Cpu,
        ..SessionOptions::default()
    }
}

fn mosaic() -> FastStyle {
    FastStyle::load(&common::exported("style-mosaic"), &cpu()).unwrap()
}

/// At most 1/255 of full scale from PyTorch (reflect padding to a multiple of 4, crop after).
#[test]
fn fast_style_matches_pytorch() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::parity_dir("style").join("reference.json")).unwrap(),
    )
    .unwrap();
    let shape: Vec<usize> = reference["fast"]["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let bytes = std::fs::read(common::parity_dir("style").join("fast_output.f32")).unwrap();
    let torch = Array4::from_shape_vec(
        (shape[0], shape[1], shape[2], shape[3]),
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
    .unwrap();
    let input = image::open(common::parity_dir("style").join("fast_input.png")).unwrap();
    assert_eq!(
        (input.width() % 4, input.height() % 4),
        (2, 2),
        "a size that needs padding"
    );
    let mut style = mosaic();
    assert_eq!(
        style.weights,
        reference["fast"]["weights"]["kind"].as_str().unwrap()
    );
    let ours = style
        .run_tensor(&image_to_tensor(&input, ValueRange::Byte).color)
        .unwrap();
    let worst = ours
        .iter()
        .zip(&torch)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    eprintln!("fast style vs PyTorch: max abs difference {worst:.4} (0..255)");
    assert!(
        worst <= 1.0,
        "max abs difference {worst} > 1/255 of full scale"
    );
    // Through the image path: 8-bit output within one level of PyTorch's, rounded.
    let image = style.stylize(&input, &FastOptions::default()).unwrap();
    let rgb = image_to_tensor(&image, ValueRange::Byte).color;
    let worst = rgb
        .iter()
        .zip(&torch)
        .fold(0.0f32, |m, (a, b)| m.max((a - b.round()).abs()));
    assert!(worst <= 1.0, "8-bit output differs by {worst} levels");
}

fn astronaut(long: u32) -> DynamicImage {
    image::open(common::real_image("astronaut.png"))
        .unwrap()
        .resize(long, long, image::imageops::FilterType::Lanczos3)
}

#[test]
fn strength_content_scale_and_colors() {
    let mut style = mosaic();
    let content = astronaut(70);
    let full = style.stylize(&content, &FastOptions::default()).unwrap();
    assert_eq!((full.width(), full.height()), (70, 70));
    assert_ne!(full.as_bytes(), content.as_bytes());
    let none = style
        .stylize(
            &content,
            &FastOptions {
                strength: 0.0,
                ..FastOptions::default()
            },
        )
        .unwrap();
    assert_eq!(none.as_bytes(), content.to_rgb8().as_raw().as_slice());
    let half = style
        .stylize(
            &content,
            &FastOptions {
                content_scale: 2.0,
                ..FastOptions::default()
            },
        )
        .unwrap();
    assert_eq!((half.width(), half.height()), (35, 35));
    let kept = style
        .stylize(
            &content,
            &FastOptions {
                preserve_colors: true,
                ..FastOptions::default()
            },
        )
        .unwrap();
    // Luminance from the stylised image, chroma from the content.
    let (k, f, c) = (kept.to_rgb8(), full.to_rgb8(), content.to_rgb8());
    let y = |p: &image::Rgb<u8>| {
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    };
    let mut luma_err = 0.0f32;
    let mut chroma_err = 0.0f32;
    let mut n = 0.0f32;
    for ((pk, pf), pc) in k.pixels().zip(f.pixels()).zip(c.pixels()) {
        luma_err += (y(pk) - y(pf)).abs();
        chroma_err += ((f32::from(pk[2]) - y(pk)) - (f32::from(pc[2]) - y(pc))).abs();
        n += 1.0;
    }
    assert!(luma_err / n < 3.0, "luma {}", luma_err / n);
    assert!(chroma_err / n < 3.0, "chroma {}", chroma_err / n);
}

#[test]
fn alpha_and_bit_depth_are_kept() {
    let mut style = mosaic();
    let logo = image::open(common::real_image("logo.png")).unwrap();
    let logo = logo.resize(64, 64, image::imageops::FilterType::Lanczos3);
    assert!(logo.color().has_alpha());
    let out = style.stylize(&logo, &FastOptions::default()).unwrap();
    assert_eq!(out.color(), logo.color());
    let a_in: Vec<u8> = logo.to_rgba8().pixels().map(|p| p[3]).collect();
    let a_out: Vec<u8> = out.to_rgba8().pixels().map(|p| p[3]).collect();
    assert_eq!(a_in, a_out);
    let deep = DynamicImage::ImageRgb16(astronaut(40).to_rgb16());
    let out = style.stylize(&deep, &FastOptions::default()).unwrap();
    assert_eq!(out.color(), image::ColorType::Rgb16);
}

/// The result has exactly the content's size (÷ `content_scale`, rounded): odd sizes, portrait,
/// and sides below the network's minimum of 8 (mirrored up to it and cropped back).
#[test]
fn results_have_the_content_size_at_odd_sizes() {
    let mut style = mosaic();
    let photo = image::open(common::real_image("astronaut.png")).unwrap();
    for (w, h, scale, want) in [
        (161, 97, 1.0, (161, 97)),
        (97, 161, 1.0, (97, 161)),
        (6, 5, 1.0, (6, 5)),
        (3, 40, 1.0, (3, 40)),
        (1, 1, 1.0, (1, 1)),
        (161, 97, 2.0, (81, 49)),
        (97, 161, 3.0, (32, 54)),
    ] {
        let content = photo.resize_exact(w, h, image::imageops::FilterType::Triangle);
        let options = FastOptions {
            content_scale: scale,
            ..FastOptions::default()
        };
        let out = style.stylize(&content, &options).unwrap();
        assert_eq!((out.width(), out.height()), want, "{w}x{h} / {scale}");
        assert_eq!(options.output_size(w, h), want);
    }
}

#[test]
fn bad_inputs_are_named() {
    let mut style = mosaic();
    let empty = DynamicImage::new_rgb8(0, 0);
    let err = style.stylize(&empty, &FastOptions::default()).unwrap_err();
    assert!(matches!(err, prism_style::Error::ImageSize { .. }), "{err}");
    let err = style
        .stylize(
            &astronaut(32),
            &FastOptions {
                strength: 1.5,
                ..FastOptions::default()
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("strength"), "{err}");
    let err = FastStyle::load(&common::exported("vgg19-features"), &cpu()).unwrap_err();
    assert!(matches!(err, prism_style::Error::BadModel { .. }), "{err}");
    assert!(err.to_string().contains("vgg19-features"), "{err}");
}

/// A video goes through the same ffmpeg path as upscaling: every frame styled, size and frame count
/// kept, audio copied, and the input untouched.
#[test]
fn fast_style_on_a_video_keeps_frames_and_audio() {
    use prism_media::video::{find_ffmpeg, probe};
    let ffmpeg = find_ffmpeg(None).unwrap_or_else(|e| panic!("{e}: {}", common::SETUP));
    let dir = tempfile::tempdir().unwrap();
    let photo = image::open(common::real_image("astronaut.png")).unwrap();
    for i in 0..6u32 {
        photo
            .crop_imm(120 + 6 * i, 60, 64, 48)
            .save(dir.path().join(format!("f{i:02}.png")))
            .unwrap();
    }
    let input = dir.path().join("in.mp4");
    let made = std::process::Command::new(&ffmpeg)
        .args(["-hide_banner", "-v", "error", "-y", "-framerate", "6", "-i"])
        .arg(dir.path().join("f%02d.png"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=1"])
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&input)
        .status()
        .unwrap();
    assert!(made.success());
    let before = std::fs::read(&input).unwrap();
    let output = dir.path().join("out.mp4");
    let run = common::prism()
        .args(["style", "fast"])
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["-m", "style-mosaic", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (src, out) = (
        probe(&ffmpeg, &input, &Default::default()).unwrap(),
        probe(&ffmpeg, &output, &Default::default()).unwrap(),
    );
    assert_eq!((out.width, out.height), (64, 48));
    assert_eq!(out.frames_estimate, src.frames_estimate);
    assert!(out.has_audio, "audio copied");
    assert_eq!(std::fs::read(&input).unwrap(), before, "input untouched");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}
