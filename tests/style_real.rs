//! Real feed-forward styles end to end on a real photo: multistyle26 (one style, a blend, the index
//! sheet) and Magenta arbitrary stylisation at a size its file does not declare, against Python
//! onnxruntime running the same files (export/parity/fast_style_refs.py); CLI errors.

mod common;

use image::DynamicImage;
use ndarray::Array4;
use prism_core::onnx::Dim;
use prism_core::{Device, SessionOptions, ValueRange, image_to_tensor};
use prism_style::{Arbitrary, FastOptions, MultiStyle, StyleMix};

fn cpu() -> SessionOptions {
    SessionOptions {
        device: Device::Cpu,
        intra_threads: Some(2),
        ..SessionOptions::default()
    }
}

fn image(name: &str) -> DynamicImage {
    image::open(common::parity_dir("fast_style").join(name)).unwrap()
}

fn reference(name: &str) -> Array4<f32> {
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::parity_dir("fast_style").join("reference.json")).unwrap(),
    )
    .unwrap();
    let shape: Vec<usize> = json[name]["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let bytes =
        std::fs::read(common::parity_dir("fast_style").join(format!("{name}.f32"))).unwrap();
    let values = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), values).unwrap()
}

/// (max, mean) absolute difference.
fn diff(a: &Array4<f32>, b: &Array4<f32>) -> (f32, f32) {
    assert_eq!(a.shape(), b.shape());
    let (mut max, mut sum) = (0.0f32, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let d = (x - y).abs();
        max = max.max(d);
        sum += f64::from(d);
    }
    (max, (sum / a.len() as f64) as f32)
}

fn content() -> Array4<f32> {
    image_to_tensor(&image("content.png"), ValueRange::Unit).color
}

#[test]
fn multistyle_one_style_and_a_blend_match_onnxruntime() {
    let mut net = MultiStyle::load(&common::exported("style-multistyle26"), &cpu()).unwrap();
    let x = content();
    assert_eq!(x.dim(), (1, 3, 382, 510), "a size that needs padding");
    let one = net.run_tensor(&x, &"7".parse().unwrap()).unwrap();
    let blend = net
        .run_tensor(&x, &"3:0.5,12:0.5".parse().unwrap())
        .unwrap();
    for (ours, name) in [(&one, "multi_style7"), (&blend, "multi_blend")] {
        let (max, mean) = diff(ours, &reference(name));
        eprintln!("{name}: max abs {max:.2e}, mean abs {mean:.2e} (0..1)");
        assert!(max <= 1.0 / 255.0, "{name}: max abs difference {max}");
    }
    // A real stylisation: far from the photo; and a blend of styles is not either style.
    let (_, from_photo) = diff(&one, &x);
    let (_, one_vs_blend) = diff(&one, &blend);
    let three = net.run_tensor(&x, &StyleMix::one(3).unwrap()).unwrap();
    let (_, three_vs_blend) = diff(&three, &blend);
    eprintln!(
        "mean abs: style 7 vs photo {from_photo:.3}, vs blend {one_vs_blend:.3}; style 3 vs blend {three_vs_blend:.3}"
    );
    assert!(from_photo > 0.05 && one_vs_blend > 0.03 && three_vs_blend > 0.01);
}

#[test]
fn multistyle_image_path_and_index_sheet() {
    let mut net = MultiStyle::load(&common::exported("style-multistyle26"), &cpu()).unwrap();
    let photo = image("content.png");
    let out = net
        .stylize(&photo, &StyleMix::one(7).unwrap(), &FastOptions::default())
        .unwrap();
    assert_eq!((out.width(), out.height()), (510, 382));
    let reference = reference("multi_style7");
    let rgb = image_to_tensor(&out, ValueRange::Unit).color;
    let worst = rgb.iter().zip(&reference).fold(0.0f32, |m, (a, b)| {
        m.max((a * 255.0 - (b * 255.0).round()).abs())
    });
    assert!(worst <= 1.001, "8-bit output differs by {worst} levels");
    let sheet = net.index_sheet(&photo, 48).unwrap();
    // 27 tiles (original + 26) in 7 columns: 4 rows of labelled 48-pixel tiles plus the title.
    let tile_w = (510.0f64 * 48.0 / 382.0).round() as u32;
    assert_eq!(sheet.width(), 6 + 7 * (tile_w + 6));
    let label = prism_style::label::LABEL_HEIGHT;
    assert_eq!(sheet.height(), label + 6 + 4 * (label + 48 + 6));
}

/// Both real networks give exactly the content's size: odd sizes, portrait, sides below their
/// minimum of 32 (mirrored up and cropped back); the index sheet keeps a portrait's aspect.
#[test]
fn real_fast_styles_keep_odd_and_small_sizes() {
    let mut multi = MultiStyle::load(&common::exported("style-multistyle26"), &cpu()).unwrap();
    let mut arb = Arbitrary::load(
        &common::exported("style-arbitrary-predict"),
        &common::exported("style-arbitrary-transform"),
        &cpu(),
    )
    .unwrap();
    let photo = image("content.png");
    let vector = arb.style_vector(&image("style.png")).unwrap();
    let seven = StyleMix::one(7).unwrap();
    for (w, h) in [(161, 97), (97, 161), (20, 13), (9, 45)] {
        let content = photo.resize_exact(w, h, image::imageops::FilterType::Triangle);
        for strength in [1.0, 0.5] {
            let options = FastOptions {
                strength,
                ..FastOptions::default()
            };
            let a = multi.stylize(&content, &seven, &options).unwrap();
            assert_eq!((a.width(), a.height()), (w, h), "multistyle {w}x{h}");
            let b = arb.stylize_vector(&content, &vector, &options).unwrap();
            assert_eq!((b.width(), b.height()), (w, h), "arbitrary {w}x{h}");
        }
    }
    let portrait = photo.resize_exact(97, 161, image::imageops::FilterType::Triangle);
    let sheet = multi.index_sheet(&portrait, 48).unwrap();
    let tile_w = (97.0f64 * 48.0 / 161.0).round() as u32;
    assert_eq!(sheet.width(), 6 + 7 * (tile_w + 6));
}

#[test]
fn arbitrary_at_a_size_the_file_does_not_declare_matches_onnxruntime() {
    let mut net = Arbitrary::load(
        &common::exported("style-arbitrary-predict"),
        &common::exported("style-arbitrary-transform"),
        &cpu(),
    )
    .unwrap();
    // The style vector from the same 256x256 pixels.
    let vector = net.style_vector(&image("style256.png")).unwrap();
    let (max, _) = diff(&vector, &reference("arb_vector"));
    eprintln!("style vector (same pixels): max abs {max:.2e}");
    assert!(max <= 1e-3, "style vector differs by {max}");
    // The whole preprocessing (centre square, Lanczos to 256) in Rust against PIL's.
    let own = net.style_vector(&image("content.png")).unwrap();
    let from_file = net.style_vector(&image("style.png")).unwrap();
    let scale = reference("arb_vector_pil")
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    for (ours, name) in [(&from_file, "arb_vector_pil"), (&own, "arb_own")] {
        let (max, mean) = diff(ours, &reference(name));
        eprintln!("{name} (Rust vs PIL resize): max abs {max:.3} of {scale:.2}, mean {mean:.4}");
        assert!(max <= 0.05 * scale, "{name}: max abs {max}");
    }
    // The transform at 384x512 (the content's own size padded to 4), not the declared 384x384.
    let x = content();
    let full = net.run_tensor(&x, &vector).unwrap();
    let (max, mean) = diff(&full, &reference("arb_full"));
    eprintln!("arbitrary transform at 382x510: max abs {max:.2e}, mean abs {mean:.2e}");
    assert!(max <= 2.0 / 255.0 && mean <= 1e-3, "max {max}, mean {mean}");
    // Strength 0.5: halfway between the content's own vector and the style's (the own vector as
    // Python computed it; the resize difference above is checked on its own).
    let half = net
        .run_tensor(
            &x,
            &Arbitrary::blend_vectors(&vector, &reference("arb_own"), 0.5),
        )
        .unwrap();
    let (max, mean) = diff(&half, &reference("arb_half"));
    eprintln!("strength 0.5: max abs {max:.2e}, mean abs {mean:.2e}");
    assert!(max <= 2.0 / 255.0 && mean <= 1e-3, "max {max}, mean {mean}");
    let (_, half_vs_full) = diff(&half, &full);
    assert!(
        half_vs_full > 0.01,
        "strength changes the result: {half_vs_full}"
    );
    // Through the image path, at the content's size.
    let out = net
        .stylize(
            &image("content.png"),
            &image("style.png"),
            &FastOptions::default(),
        )
        .unwrap();
    assert_eq!((out.width(), out.height()), (510, 382));
}

#[test]
fn the_transform_file_declares_384_and_stays_unchanged() {
    let path = common::exported("style-arbitrary-transform");
    let info = prism_core::ModelInfo::inspect(&path).unwrap();
    let dims = info.inputs[0].shape.clone().unwrap();
    assert_eq!(dims[1..3], [Dim::Fixed(384), Dim::Fixed(384)]);
    let entry = common::manifest_entry("style-arbitrary-transform");
    assert_eq!(entry["weights"]["kind"], "real");
    let want = entry["files"]["fp32"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        want,
        "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd"
    );
    let mut net =
        Arbitrary::load(&common::exported("style-arbitrary-predict"), &path, &cpu()).unwrap();
    let v = net.style_vector(&image("style256.png")).unwrap();
    net.run_tensor(&Array4::from_elem((1, 3, 64, 96), 0.5), &v)
        .unwrap();
    use sha2::Digest;
    let got: String = sha2::Sha256::digest(std::fs::read(&path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(got, want, "the file on disk is never rewritten");
}

fn prism_fast(args: &[&str]) -> (Option<i32>, String) {
    let out = common::prism_talking()
        .args(["style", "fast", "--device", "cpu", "--threads", "2"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_styles_say_which_network_and_refuse_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let photo = common::parity_dir("fast_style").join("content.png");
    let photo = photo.to_str().unwrap();
    let out = tmp.path().join("out.png");
    let out = out.to_str().unwrap();
    let (code, err) = prism_fast(&[photo, "-o", out, "--style", "3:0.5,12:0.5"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("multistyle26 styles 3:0.50+12:0.50"), "{err}");
    let style = common::parity_dir("fast_style").join("style.png");
    let (code, err) = prism_fast(&[
        photo,
        "-o",
        out,
        "--style-image",
        style.to_str().unwrap(),
        "--strength",
        "0.7",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("arbitrary (magenta) style style"), "{err}");
    assert_eq!(image::open(out).unwrap().width(), 510);
    for (args, code, needle) in [
        (
            vec!["--style", "26"],
            2,
            "style index must be 0 to 25, got 26",
        ),
        (vec!["--style", "starry-night"], 2, "no published names"),
        (
            vec!["--style-image", "/nonexistent/style.jpg"],
            1,
            "/nonexistent/style.jpg",
        ),
        (
            vec!["--model", "style-mosaic", "--style", "3"],
            2,
            "single-style network",
        ),
        (
            vec!["--style-image", "/nonexistent/style.jpg", "--style", "3"],
            2,
            "cannot be used with",
        ),
    ] {
        let mut all = vec![photo, "-o", out, "--overwrite"];
        all.extend(args.iter().copied());
        let (got, err) = prism_fast(&all);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(got, Some(code), "{args:?}: {err}");
    }
}
