//! Super-resolution end to end on real weights and real photographs: parity with the PyTorch
//! networks (references written by `export/parity/upscale_reference.py`), seamless tiling, alpha,
//! gray, 16-bit, output scales, TTA, foreign models, progress and cancellation.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{SETUP, exported, root};
use image::{DynamicImage, GenericImageView};
use ndarray::{Array2, Array3};
use prism_core::{Device, SessionOptions};
use prism_upscale::{AlphaMode, Control, OutputScale, TileSize, UpscaleOptions, Upscaler};

fn parity_dir() -> PathBuf {
    let dir = root().join("export/out/parity/upscale");
    assert!(
        dir.join("cases.json").is_file(),
        "{} is missing: {SETUP}",
        dir.display()
    );
    dir
}

fn cases() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(parity_dir().join("cases.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn case(name: &str) -> serde_json::Value {
    cases()
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("parity case {name} missing: {SETUP}"))
}

/// Minimal `.npy` reader (little-endian `<f4` or `<u2`, C order).
fn npy(path: &std::path::Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}: {SETUP}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let (header_len, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        )
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).unwrap();
    assert!(header.contains("'fortran_order': False"));
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape: Vec<usize> = shape_text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data = &bytes[start + header_len..];
    let values = if header.contains("'<f4'") {
        data.chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    } else if header.contains("'<u2'") {
        data.chunks_exact(2)
            .map(|b| f32::from(u16::from_le_bytes(b.try_into().unwrap())))
            .collect()
    } else {
        panic!("unsupported npy dtype in {header}");
    };
    (shape, values)
}

fn load_input(case: &serde_json::Value) -> DynamicImage {
    let file = parity_dir().join(case["input"].as_str().unwrap());
    if file.extension().unwrap() == "npy" {
        let (shape, values) = npy(&file);
        let data: Vec<u16> = values.iter().map(|&v| v as u16).collect();
        DynamicImage::ImageRgb16(
            image::ImageBuffer::from_raw(shape[1] as u32, shape[0] as u32, data).unwrap(),
        )
    } else {
        prism_media::read_image(&file, &Default::default())
            .unwrap()
            .image
    }
}

fn reference(case: &serde_json::Value) -> Array3<f32> {
    let (shape, values) = npy(&parity_dir().join(case["reference"].as_str().unwrap()));
    Array3::from_shape_vec((shape[0], shape[1], shape[2]), values).unwrap()
}

fn cpu(tile: TileSize, overlap: u32) -> UpscaleOptions {
    UpscaleOptions {
        session: SessionOptions {
            device: Device::Cpu,
            ..SessionOptions::default()
        },
        tile,
        overlap: Some(overlap),
        ..UpscaleOptions::default()
    }
}

/// Colour planes `[C, H, W]` (and alpha) of an image, in 0..1.
fn planes(image: &DynamicImage) -> (Array3<f32>, Option<Array2<f32>>) {
    let (w, h) = image.dimensions();
    let t = prism_core::image_to_tensor(image, prism_core::ValueRange::Unit);
    let color = t
        .color
        .into_shape_with_order((3, h as usize, w as usize))
        .unwrap();
    (color, t.alpha)
}

fn max_diff(a: ndarray::ArrayView3<f32>, b: ndarray::ArrayView3<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Prism on `case` against the PyTorch reference, whole and tiled: at most 1/255 (8-bit output).
fn check_parity(name: &str, tiled: &[(u32, u32)]) {
    let case = case(name);
    let model = exported(case["model"].as_str().unwrap());
    let input = load_input(&case);
    let reference = reference(&case);
    let mut settings = vec![(TileSize::Whole, 16)];
    settings.extend(tiled.iter().map(|&(t, o)| (TileSize::Size(t), o)));
    for (tile, overlap) in settings {
        let mut upscaler = Upscaler::new(&model, cpu(tile, overlap)).unwrap();
        let out = upscaler.upscale(&input).unwrap();
        assert_eq!(out.color(), input.color(), "{name}: layout kept");
        let (color, alpha) = planes(&out);
        let got = if case["kind"] == "gray8" {
            color.slice(ndarray::s![0..1, .., ..]).to_owned()
        } else {
            color
        };
        let diff = max_diff(got.view(), reference.view());
        eprintln!(
            "{name} {tile:?} overlap {overlap}: max abs diff {:.3}/255",
            diff * 255.0
        );
        assert!(
            diff <= 1.0 / 255.0 + 1e-6,
            "{name} {tile:?}: {} / 255",
            diff * 255.0
        );
        if let Some(alpha_file) = case["alpha_reference"].as_str() {
            let alpha = alpha.expect("alpha kept");
            if case["alpha_constant"] == true {
                assert!(
                    alpha.iter().all(|&a| a == alpha[[0, 0]]),
                    "constant alpha is copied"
                );
            } else {
                let (shape, values) = npy(&parity_dir().join(alpha_file));
                let want = Array3::from_shape_vec((1, shape[0], shape[1]), values).unwrap();
                let got = alpha.insert_axis(ndarray::Axis(0));
                let diff = max_diff(got.view(), want.view());
                eprintln!("{name} alpha: max abs diff {:.3}/255", diff * 255.0);
                assert!(
                    diff <= 1.0 / 255.0 + 1e-6,
                    "{name} alpha: {} / 255",
                    diff * 255.0
                );
            }
        }
    }
}

#[test]
fn parity_realesrgan_x4plus_whole_and_tiled() {
    check_parity("x4plus_astronaut", &[(96, 64)]);
}

#[test]
fn parity_realesrgan_x4plus_anime() {
    check_parity("x4plus_anime_chelsea", &[(48, 48)]);
}

#[test]
fn parity_animevideov3_x2_x3_x4() {
    check_parity("animev3x4_coffee", &[(48, 16), (64, 16)]);
    check_parity("animev3x3_coffee", &[(32, 16)]);
    check_parity("animev3x2_astronaut", &[(24, 16)]);
}

#[test]
fn parity_gray_and_alpha() {
    check_parity("animev3x4_camera_gray", &[(24, 16)]);
    check_parity("animev3x4_logo_rgba", &[]);
    check_parity("animev3x4_chelsea_camera_alpha", &[(32, 16)]);
}

#[test]
fn sixteen_bit_in_sixteen_bit_out() {
    let case = case("animev3x4_chelsea_16bit");
    let input = load_input(&case);
    let mut upscaler = Upscaler::new(
        &exported("realesr-animevideov3-x4"),
        cpu(TileSize::Size(24), 16),
    )
    .unwrap();
    let out = upscaler.upscale(&input).unwrap();
    let DynamicImage::ImageRgb16(buffer) = &out else {
        panic!("16-bit in must give 16-bit out, got {:?}", out.color());
    };
    // Real 16-bit precision: most samples are not 8-bit values scaled by 257.
    let deep = buffer.as_raw().iter().filter(|&&v| v % 257 != 0).count();
    assert!(
        deep * 2 > buffer.as_raw().len(),
        "only {deep} samples use 16 bits"
    );
    let (color, _) = planes(&out);
    let diff = max_diff(color.view(), reference(&case).view());
    eprintln!("16-bit: max abs diff {:.5} ({:.3}/255)", diff, diff * 255.0);
    assert!(diff <= 1.0 / 255.0);
}

#[test]
fn output_scales() {
    let photo = prism_media::read_image(&common::real_image("coffee.png"), &Default::default())
        .unwrap()
        .image;
    let crop = photo.crop_imm(100, 100, 40, 30);
    let model = exported("realesr-animevideov3-x4");
    let run = |scale| {
        let options = UpscaleOptions {
            scale,
            ..cpu(TileSize::Auto, 16)
        };
        Upscaler::new(&model, options)
            .unwrap()
            .upscale(&crop)
            .unwrap()
            .dimensions()
    };
    assert_eq!(run(OutputScale::Native), (160, 120));
    assert_eq!(run(OutputScale::Factor(2.0)), (80, 60));
    assert_eq!(run(OutputScale::Factor(2.5)), (100, 75));
    assert_eq!(run(OutputScale::Width(100)), (100, 75));
    assert_eq!(run(OutputScale::Height(90)), (120, 90));
    assert_eq!(run(OutputScale::Size(64, 64)), (64, 64));
    let options = UpscaleOptions {
        scale: OutputScale::Factor(8.0),
        ..cpu(TileSize::Auto, 16)
    };
    let upscaler = Upscaler::new(&model, options).unwrap();
    assert_eq!(
        upscaler.plan(40, 30).unwrap(),
        (2, (320, 240)),
        "x8 from an x4 model is two passes"
    );
    let mut upscaler = upscaler;
    assert_eq!(upscaler.upscale(&crop).unwrap().dimensions(), (320, 240));
}

#[test]
fn alpha_resample_mode_and_premultiply() {
    let case = case("animev3x4_chelsea_camera_alpha");
    let input = load_input(&case);
    let model = exported("realesr-animevideov3-x4");
    let options = UpscaleOptions {
        alpha: AlphaMode::Resample,
        premultiply: true,
        ..cpu(TileSize::Auto, 16)
    };
    let out = Upscaler::new(&model, options)
        .unwrap()
        .upscale(&input)
        .unwrap();
    assert_eq!(out.color(), image::ColorType::Rgba8);
    let (_, alpha) = planes(&out);
    let want = prism_media::resize(&input, out.width(), out.height());
    let (_, want_alpha) = planes(&want);
    let diff = max_diff(
        alpha.unwrap().insert_axis(ndarray::Axis(0)).view(),
        want_alpha.unwrap().insert_axis(ndarray::Axis(0)).view(),
    );
    assert!(
        diff <= 2.0 / 255.0,
        "resampled alpha is Lanczos: {}/255",
        diff * 255.0
    );
}

/// TTA is the average of the model over the 8 flips/transposes of the input.
#[test]
fn tta_averages_the_eight_transforms() {
    let photo = prism_media::read_image(&common::real_image("chelsea.png"), &Default::default())
        .unwrap()
        .image;
    let crop = DynamicImage::ImageRgb32F(photo.crop_imm(200, 100, 24, 24).to_rgb32f());
    let model = exported("realesr-animevideov3-x4");
    let options = UpscaleOptions {
        tta: true,
        ..cpu(TileSize::Whole, 16)
    };
    let tta = Upscaler::new(&model, options)
        .unwrap()
        .upscale(&crop)
        .unwrap();
    let mut plain = Upscaler::new(&model, cpu(TileSize::Whole, 16)).unwrap();
    let transforms: [fn(&DynamicImage) -> DynamicImage; 8] = [
        |i| i.clone(),
        |i| i.fliph(),
        |i| i.flipv(),
        |i| i.rotate180(),
        |i| i.rotate90().fliph(),
        |i| i.rotate90(),
        |i| i.rotate270(),
        |i| i.rotate270().fliph(),
    ];
    let inverses: [fn(&DynamicImage) -> DynamicImage; 8] = [
        |i| i.clone(),
        |i| i.fliph(),
        |i| i.flipv(),
        |i| i.rotate180(),
        |i| i.fliph().rotate270(),
        |i| i.rotate270(),
        |i| i.rotate90(),
        |i| i.fliph().rotate90(),
    ];
    let mut sum = Array3::<f32>::zeros((3, 96, 96));
    for (t, inv) in transforms.iter().zip(inverses) {
        let out = plain.upscale(&t(&crop)).unwrap();
        sum += &planes(&inv(&out)).0.mapv(|v| v.clamp(0.0, 1.0));
    }
    sum /= 8.0;
    let (got, _) = planes(&tta);
    let diff = max_diff(got.view(), sum.view());
    assert!(diff < 1e-4, "TTA vs manual average: {diff}");
    let (single, _) = planes(&plain.upscale(&crop).unwrap());
    assert!(
        max_diff(got.view(), single.view()) > 1e-3,
        "TTA changes the result"
    );
}

#[test]
fn foreign_model_scale_found_by_probe() {
    let path = parity_dir().join("foreign-x4-no-metadata.onnx");
    let mut upscaler = Upscaler::new(&path, cpu(TileSize::Auto, 16)).unwrap();
    assert!(upscaler.info().probed);
    assert_eq!(
        (upscaler.info().scale, upscaler.info().pad_multiple),
        (4, 1)
    );
    let photo = prism_media::read_image(&common::real_image("astronaut.png"), &Default::default())
        .unwrap()
        .image;
    assert_eq!(
        upscaler
            .upscale(&photo.crop_imm(0, 0, 20, 12))
            .unwrap()
            .dimensions(),
        (80, 48)
    );
}

#[test]
fn model_metadata_gives_scale_and_multiple() {
    let upscaler = Upscaler::from_model("realesrgan-x4plus", cpu(TileSize::Auto, 16)).unwrap();
    assert_eq!(upscaler.info().scale, 4);
    assert!(!upscaler.info().probed);
    assert_eq!(upscaler.info().id.as_deref(), Some("realesrgan-x4plus"));
    // A model of another task is refused with a clear error.
    let err =
        Upscaler::new(&common::fixture("two_inputs.onnx"), cpu(TileSize::Auto, 16)).unwrap_err();
    assert!(
        err.to_string().contains("not a super-resolution model"),
        "{err}"
    );
}

#[test]
fn progress_and_cancellation() {
    let photo = prism_media::read_image(&common::real_image("astronaut.png"), &Default::default())
        .unwrap()
        .image;
    let crop = photo.crop_imm(0, 0, 96, 64);
    let mut upscaler = Upscaler::new(
        &exported("realesr-animevideov3-x4"),
        cpu(TileSize::Size(24), 16),
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut record =
        |p: prism_upscale::TileProgress| seen.push((p.tiles_done, p.tiles_total, p.pixels_done));
    let mut control = Control {
        progress: Some(&mut record),
        cancel: None,
    };
    upscaler.upscale_with(&crop, &mut control).unwrap();
    let total = seen.last().unwrap().1;
    assert!(total > 1);
    assert_eq!(seen.last().unwrap().0, total);
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0 && w[0].2 <= w[1].2));

    let cancel = AtomicBool::new(false);
    let mut stop = |p: prism_upscale::TileProgress| {
        if p.tiles_done >= 2 {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    let mut control = Control {
        progress: Some(&mut stop),
        cancel: Some(&cancel),
    };
    let err = upscaler.upscale_with(&crop, &mut control).unwrap_err();
    assert!(matches!(err, prism_upscale::Error::Cancelled), "{err}");
}
