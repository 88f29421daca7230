//! INT8 variants: `--precision int8` loads the `name.int8.onnx` file, and `auto` takes it on CPU
//! only when the export manifest lists it with a passed quality gate. The INT8 file is a real QDQ
//! quantisation of the tiny SRVGG fixture (`python -m prism_export.quantize --fixture`).

mod common;

use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use prism_core::device::resolve_variant;
use prism_core::{Device, Error, Model, Precision, Provider, SessionOptions, Tensor};

/// An export folder: `m/m.fp32.onnx` and `m/m.int8.onnx`, with a manifest that lists the FP32 file
/// and, when `gate` is given, the INT8 one with that gate result.
fn export_dir(gate: Option<bool>) -> (tempfile::TempDir, PathBuf) {
    export_dir_as("m", gate)
}

/// [`export_dir`] with the manifest entry named `id`.
fn export_dir_as(id: &str, gate: Option<bool>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    std::fs::create_dir(&m).unwrap();
    let mut files = serde_json::Map::new();
    for (precision, fixture) in [("fp32", "fp32"), ("int8", "int8")] {
        let dst = m.join(format!("m.{precision}.onnx"));
        std::fs::copy(
            common::fixture(&format!("tiny/tiny-srvgg-x4.{fixture}.onnx")),
            &dst,
        )
        .unwrap();
        let size = std::fs::metadata(&dst).unwrap().len();
        let mut record =
            serde_json::json!({"path": format!("m/m.{precision}.onnx"), "size_bytes": size});
        if precision == "int8" {
            let Some(passed) = gate else { continue };
            record["gate"] = serde_json::json!({
                "passed": passed, "psnr_db": if passed { 44.1 } else { 35.2 },
                "p999_abs_255": if passed { 3.2 } else { 14.0 }, "method": "MinMax",
            });
        }
        files.insert(precision.into(), record);
    }
    let manifest = serde_json::json!([{"id": id, "files": files}]);
    std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
    let fp32 = m.join("m.fp32.onnx");
    (dir, fp32)
}

fn options(precision: Precision) -> SessionOptions {
    SessionOptions {
        device: Device::Cpu,
        precision,
        intra_threads: Some(1),
        optimized_cache_dir: None,
        ..SessionOptions::default()
    }
}

fn load(path: &Path, precision: Precision) -> Model {
    Model::load(path, &options(precision)).unwrap_or_else(|e| panic!("{e}\n{}", common::SETUP))
}

/// A 16x16 crop of a real photo, NCHW in 0..1.
fn photo() -> ArrayD<f32> {
    let img = image::open(common::real_image("astronaut.png"))
        .unwrap()
        .to_rgb8();
    let mut x = ArrayD::zeros(IxDyn(&[1, 3, 16, 16]));
    for y in 0..16 {
        for xx in 0..16 {
            let p = img.get_pixel(200 + xx as u32, 60 + y as u32);
            for c in 0..3 {
                x[[0, c, y, xx]] = p[c] as f32 / 255.0;
            }
        }
    }
    x
}

fn run(model: &mut Model) -> ArrayD<f32> {
    model
        .run(vec![Tensor::F32(photo())])
        .unwrap()
        .remove(0)
        .into_f32()
}

#[test]
fn precision_int8_loads_the_int8_variant() {
    let (_dir, fp32) = export_dir(Some(true));
    let mut int8 = load(&fp32, Precision::Int8);
    assert!(int8.path().ends_with("m.int8.onnx"), "{:?}", int8.path());
    assert_eq!(int8.load_report().precision, Precision::Int8);
    let mut float = load(&fp32, Precision::Fp32);
    assert_eq!(float.load_report().precision, Precision::Fp32);
    let (a, b) = (run(&mut int8), run(&mut float));
    assert_eq!(a.shape(), &[1, 3, 64, 64]);
    let worst = a
        .iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    // Quantised, so not identical, but the same network: within a few levels of 8-bit output.
    assert!(
        worst > 0.0 && worst < 0.05,
        "INT8 vs FP32 max |diff| {worst}"
    );
}

#[test]
fn precision_int8_without_a_listed_variant_is_an_error() {
    let (dir, fp32) = export_dir(None);
    // The file exists, but the manifest does not list it beside the FP32 file.
    let err = Model::load(&fp32, &options(Precision::Int8)).unwrap_err();
    assert!(matches!(err, Error::Unverified { .. }), "{err}");
    std::fs::remove_file(dir.path().join("m/m.int8.onnx")).unwrap();
    let err = Model::load(&fp32, &options(Precision::Int8)).unwrap_err();
    assert!(matches!(err, Error::MissingVariant { .. }), "{err}");
}

/// What `auto` loads on this CPU for a variant that passed its gate: INT8 only where the CPU has
/// an 8-bit dot product (both cases are unit-tested in `prism_core::device`).
fn auto_on_this_cpu() -> (&'static str, Precision) {
    if prism_core::system::cpu_has_int8_dot() {
        ("m.int8.onnx", Precision::Int8)
    } else {
        ("m.fp32.onnx", Precision::Fp32)
    }
}

#[test]
fn auto_takes_int8_on_cpu_only_when_the_gate_passed() {
    let (_dir, fp32) = export_dir(Some(true));
    let model = load(&fp32, Precision::Auto);
    let (file, precision) = auto_on_this_cpu();
    assert!(model.path().ends_with(file), "{:?}", model.path());
    assert_eq!(model.load_report().precision, precision);
    // GPU providers never get it from `auto` (FP16 there, else the given file).
    assert_eq!(
        resolve_variant(&fp32, Precision::Auto, Provider::Cuda).unwrap(),
        fp32
    );

    let (_dir, fp32) = export_dir(Some(false));
    let model = load(&fp32, Precision::Auto);
    assert!(model.path().ends_with("m.fp32.onnx"), "{:?}", model.path());
    assert_eq!(model.load_report().precision, Precision::Fp32);
    // A failed gate still loads when asked for explicitly (the user's choice).
    assert!(load(&fp32, Precision::Int8).path().ends_with("m.int8.onnx"));

    let (_dir, fp32) = export_dir(None);
    assert!(load(&fp32, Precision::Auto).path().ends_with("m.fp32.onnx"));
}

#[test]
fn cli_lists_the_gate_and_auto_runs_the_passed_int8_variant() {
    let (dir, _) = export_dir_as("realesr-animevideov3-x2", Some(true));
    let out = common::prism()
        .env("PRISM_MODELS_DIR", dir.path())
        .args(["models", "list", "--task", "upscale"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("realesr-animevideov3-x2 "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.ends_with("pass 44.1 dB, p99.9 3.2/255"), "{line}");
    let bench = |precision: &str| {
        let out = common::prism()
            .env("PRISM_MODELS_DIR", dir.path())
            .args(["bench", "realesr-animevideov3-x2", "--shape", "1x3x16x16"])
            .args(["--device", "cpu", "--runs", "1", "--warmup", "0", "--json"])
            .args(["--precision", precision])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["precision"].clone()
    };
    assert_eq!(bench("auto"), auto_on_this_cpu().1.as_str());
    assert_eq!(bench("int8"), "int8");
    assert_eq!(bench("fp32"), "fp32");
}
