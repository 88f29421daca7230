//! Sessions on the provisioned runtime: inspection, providers, precision variants, the optimised-model
//! cache, running, and every way a model file can be wrong.

mod common;

use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use prism_core::onnx::{Dim, ElementType};
use prism_core::{
    Device, Error, Model, ModelInfo, Precision, Provider, SessionOptions, Tensor, ValueRange,
};

fn cpu() -> SessionOptions {
    SessionOptions {
        device: Device::Cpu,
        ..SessionOptions::default()
    }
}

fn load(path: &Path, options: &SessionOptions) -> Model {
    Model::load(path, options).unwrap_or_else(|e| panic!("{e}\n{}", common::SETUP))
}

fn expected() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(common::fixture("tiny_conv.expected.json")).unwrap(),
    )
    .unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn tiny_input() -> ArrayD<f32> {
    let e = expected();
    let shape: Vec<usize> = e["input_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), floats(&e["input"])).unwrap()
}

#[test]
fn model_info_reads_the_whole_contract() {
    let info = ModelInfo::inspect(&common::fixture("tiny_conv.fp32.onnx")).unwrap();
    assert_eq!(info.parameter_count, 3 * 3 * 3 * 3 + 3);
    assert_eq!(info.parameter_bytes, 84 * 4);
    assert_eq!(info.producer, "prism-fixtures 1");
    assert_eq!(info.ir_version, 8);
    assert_eq!(info.opsets.get("ai.onnx"), Some(&17));
    assert_eq!(info.node_count, 1);
    assert_eq!(info.inputs.len(), 1);
    let input = &info.inputs[0];
    assert_eq!(input.name, "input");
    assert_eq!(input.element_type, ElementType::Float32);
    assert_eq!(
        input.shape.as_ref().unwrap(),
        &vec![
            Dim::Symbol("N".into()),
            Dim::Fixed(3),
            Dim::Symbol("H".into()),
            Dim::Symbol("W".into())
        ]
    );
    assert_eq!(info.outputs[0].name, "output");
    assert_eq!(
        info.metadata.get("prism.architecture").map(String::as_str),
        Some("tiny-conv")
    );
    assert_eq!(info.metadata_int("prism.scale"), Some(1));
    assert_eq!(
        info.file_size,
        std::fs::metadata(common::fixture("tiny_conv.fp32.onnx"))
            .unwrap()
            .len()
    );
    assert!(info.provider.is_none());

    let half = ModelInfo::inspect(&common::fixture("tiny_conv.fp16.onnx")).unwrap();
    assert_eq!(half.parameter_bytes, 84 * 2);
    assert_eq!(info.weight_type, Some(ElementType::Float32));
    assert_eq!(half.weight_type, Some(ElementType::Float16));
    assert_eq!(
        (info.precision(), half.precision()),
        (Precision::Fp32, Precision::Fp16)
    );
    // FP16 weights and compute, float32 at the boundary: callers never care which variant runs.
    assert_eq!(half.inputs[0].element_type, ElementType::Float32);
}

#[test]
fn fp32_run_matches_the_numpy_reference() {
    let mut model = load(&common::fixture("tiny_conv.fp32.onnx"), &cpu());
    assert_eq!(model.provider(), Provider::Cpu);
    assert_eq!(model.info().provider, Some(Provider::Cpu));
    let out = model
        .run(vec![Tensor::F32(tiny_input())])
        .unwrap()
        .remove(0)
        .into_f32();
    let want = floats(&expected()["output_fp32_weights"]);
    assert_eq!(out.len(), want.len());
    for (a, b) in out.iter().zip(&want) {
        approx::assert_abs_diff_eq!(a, b, epsilon = 1e-5);
    }
}

#[test]
fn precision_auto_on_cpu_picks_fp32_and_fp16_runs_when_asked() {
    // Given the FP16 file, Auto on CPU switches to the FP32 sibling.
    let model = load(&common::fixture("tiny_conv.fp16.onnx"), &cpu());
    assert!(model.path().ends_with("tiny_conv.fp32.onnx"));
    assert_eq!(model.load_report().precision, Precision::Fp32);

    let options = SessionOptions {
        precision: Precision::Fp16,
        ..cpu()
    };
    let mut model = load(&common::fixture("tiny_conv.fp32.onnx"), &options);
    assert!(model.path().ends_with("tiny_conv.fp16.onnx"));
    assert_eq!(model.load_report().precision, Precision::Fp16);
    let out = model
        .run(vec![Tensor::F32(tiny_input())])
        .unwrap()
        .remove(0);
    assert_eq!(out.element_type(), ElementType::Float32);
    let want = floats(&expected()["output_fp16_weights"]);
    for (a, b) in out.into_f32().iter().zip(&want) {
        approx::assert_abs_diff_eq!(a, b, epsilon = 5e-3);
    }
}

#[test]
fn explicit_gpu_provider_on_a_cpu_runtime_is_an_error_and_auto_falls_back() {
    for device in [Device::Cuda(0), Device::TensorRt(0)] {
        let options = SessionOptions {
            device,
            ..SessionOptions::default()
        };
        let err = Model::load(&common::fixture("tiny_conv.fp32.onnx"), &options).unwrap_err();
        assert!(
            matches!(err, Error::ProviderUnavailable { .. }),
            "{device}: {err}"
        );
    }
    let model = load(
        &common::fixture("tiny_conv.fp32.onnx"),
        &SessionOptions::default(),
    );
    assert_eq!(model.provider(), Provider::Cpu);
    let passed: Vec<Provider> = model
        .load_report()
        .passed_over
        .iter()
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(passed, vec![Provider::TensorRt, Provider::Cuda]);
    assert!(
        model
            .load_report()
            .passed_over
            .iter()
            .all(|(_, why)| !why.is_empty())
    );
}

#[test]
fn optimised_model_cache_is_written_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let options = SessionOptions {
        optimized_cache_dir: Some(dir.path().to_path_buf()),
        ..cpu()
    };
    let first = load(&common::fixture("tiny_conv.fp32.onnx"), &options);
    let cached = first
        .load_report()
        .optimized_cache
        .clone()
        .expect("cache entry written");
    assert!(cached.is_file());
    let written = std::fs::metadata(&cached).unwrap().modified().unwrap();
    let mut second = load(&common::fixture("tiny_conv.fp32.onnx"), &options);
    assert_eq!(second.load_report().optimized_cache.as_ref(), Some(&cached));
    assert_eq!(
        std::fs::metadata(&cached).unwrap().modified().unwrap(),
        written
    );
    // Only the finished file is left: no partial entries.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // And the cached graph computes the same thing.
    let out = second
        .run(vec![Tensor::F32(tiny_input())])
        .unwrap()
        .remove(0)
        .into_f32();
    let want = floats(&expected()["output_fp32_weights"]);
    for (a, b) in out.iter().zip(&want) {
        approx::assert_abs_diff_eq!(a, b, epsilon = 1e-5);
    }
}

#[test]
fn inputs_that_do_not_fit_are_named() {
    let path = common::fixture("fixed_shape.onnx");
    let mut model = load(&path, &cpu());
    let err = model
        .run(vec![Tensor::F32(ArrayD::zeros(IxDyn(&[1, 3, 8, 9])))])
        .unwrap_err();
    let Error::InputMismatch {
        path: p,
        input,
        expected,
        got,
    } = &err
    else {
        panic!("wrong error: {err}")
    };
    assert_eq!((p.as_path(), input.as_str()), (path.as_path(), "input"));
    assert_eq!(
        (expected.as_str(), got.as_str()),
        ("shape 1x3x8x8", "shape 1x3x8x9")
    );
    let err = model.run(vec![]).unwrap_err();
    assert!(matches!(err, Error::InputMismatch { .. }));
    let ok = model
        .run(vec![Tensor::F32(ArrayD::from_elem(
            IxDyn(&[1, 3, 8, 8]),
            -1.0,
        ))])
        .unwrap();
    assert!(ok[0].clone().into_f32().iter().all(|&v| v == 0.0));
}

#[test]
fn bad_model_files_each_get_their_own_error() {
    let dir = tempfile::tempdir().unwrap();
    // Missing.
    let missing = dir.path().join("missing.onnx");
    let err = Model::load(&missing, &cpu()).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("missing.onnx"),
        "{err}"
    );
    // Not ONNX: a PNG and a text file.
    for (name, bytes) in [
        ("image.onnx", &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..]),
        ("notes.onnx", b"just some text\n"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = Model::load(&path, &cpu()).unwrap_err();
        assert!(
            matches!(err, Error::NotOnnx { .. } | Error::TruncatedModel { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
    // Empty.
    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        Model::load(&empty, &cpu()).unwrap_err(),
        Error::NotOnnx { .. }
    ));
    // Truncated: a real model cut short, as an interrupted download leaves it.
    let whole = std::fs::read(common::fixture("tiny_conv.fp32.onnx")).unwrap();
    let cut = dir.path().join("cut.onnx");
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
    let err = Model::load(&cut, &cpu()).unwrap_err();
    assert!(matches!(err, Error::TruncatedModel { .. }), "{err}");
    assert!(err.to_string().contains("cut.onnx") && err.to_string().contains("truncated"));
    // Well-formed but rejected by ONNX Runtime.
    let err = Model::load(&common::fixture("unknown_op.onnx"), &cpu()).unwrap_err();
    assert!(matches!(err, Error::InvalidModel { .. }), "{err}");
    assert!(
        err.to_string().contains("unknown_op.onnx") && err.to_string().contains("NoSuchOperator")
    );
    // A missing precision variant that was asked for explicitly.
    let lone = dir.path().join("lone.fp32.onnx");
    std::fs::write(&lone, &whole).unwrap();
    let err = Model::load(
        &lone,
        &SessionOptions {
            precision: Precision::Fp16,
            ..cpu()
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::MissingVariant { .. }), "{err}");
}

#[test]
fn real_super_resolution_model_inspects_and_runs_on_a_real_photo() {
    let id = "realesr-animevideov3-x4";
    let path = common::exported(id);
    let entry = common::manifest_entry(id);
    let info = ModelInfo::inspect(&path).unwrap();
    // The parameter count PyTorch reported at export time, from the initializers here.
    let torch_params = entry["files"]["fp32"]["parameter_count"]
        .as_u64()
        .expect("manifest records the parameter count");
    assert_eq!(info.parameter_count, torch_params);
    assert_eq!(
        info.metadata.get("prism.weights").map(String::as_str),
        Some("real")
    );
    assert_eq!(info.metadata_int("prism.scale"), Some(4));
    let range = ValueRange::from_metadata(&info.metadata["prism.value_range"]).unwrap();

    let mut model = load(&path, &cpu());
    let photo = image::open(common::real_image("astronaut.png"))
        .unwrap()
        .crop_imm(200, 80, 48, 40);
    let t = prism_core::image_to_tensor(&photo, range);
    let out = model
        .run(vec![Tensor::F32(t.color.into_dyn())])
        .unwrap()
        .remove(0)
        .into_f32();
    assert_eq!(out.shape(), &[1, 3, 160, 192]);
    let out = out.into_dimensionality::<ndarray::Ix4>().unwrap();
    let image =
        prism_core::tensor_to_image(out.index_axis(ndarray::Axis(0), 0), None, t.layout, range)
            .unwrap();
    // The upscaled picture, shrunk back, resembles the input: a real network, not noise.
    let small = image
        .resize_exact(48, 40, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let orig = photo.to_rgb8();
    let mse: f64 = small
        .as_raw()
        .iter()
        .zip(orig.as_raw())
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum::<f64>()
        / orig.as_raw().len() as f64;
    let psnr = 10.0 * (255.0f64 * 255.0 / mse).log10();
    assert!(psnr > 25.0, "round-trip PSNR {psnr:.1} dB");
}

/// The tiny seeded versions of the real task networks (`python -m prism_export fixtures`): each
/// declares its contract in metadata, and running it honours that contract.
#[test]
fn tiny_task_fixtures_follow_their_contracts() {
    for (file, scale, pad) in [
        ("tiny/tiny-srvgg-x4.fp32.onnx", 4, 1),
        ("tiny/tiny-rrdb-x2.fp32.onnx", 2, 2),
    ] {
        let mut model = load(&common::fixture(file), &cpu());
        let info = model.info().clone();
        assert_eq!(info.metadata["prism.task"], "upscale", "{file}");
        assert_eq!(
            (
                info.metadata_int("prism.scale"),
                info.metadata_int("prism.pad_multiple")
            ),
            (Some(scale), Some(pad))
        );
        let input = ArrayD::from_shape_fn(IxDyn(&[1, 3, 6, 10]), |i| {
            ((i[1] + i[2] * 3 + i[3]) % 11) as f32 / 10.0
        });
        let out = model
            .run(vec![Tensor::F32(input)])
            .unwrap()
            .remove(0)
            .into_f32();
        assert_eq!(
            out.shape(),
            &[1, 3, 6 * scale as usize, 10 * scale as usize],
            "{file}"
        );
        assert!(out.iter().all(|v| v.is_finite()));
    }
    let mut rife = load(&common::fixture("tiny/tiny-rife-v4.fp32.onnx"), &cpu());
    let info = rife.info().clone();
    assert_eq!(
        (
            info.metadata["prism.task"].as_str(),
            info.metadata["prism.timestep"].as_str()
        ),
        ("interpolate", "any")
    );
    let names: Vec<&str> = info.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["img0", "img1", "timestep"]);
    let frame = |v: f32| Tensor::F32(ArrayD::from_elem(IxDyn(&[1, 3, 32, 64]), v));
    let t = Tensor::F32(ArrayD::from_elem(IxDyn(&[1, 1, 1, 1]), 0.5));
    let out = rife.run(vec![frame(0.2), frame(0.2), t]).unwrap();
    let (image, flow) = (out[0].clone().into_f32(), out[1].clone().into_f32());
    assert_eq!(
        (image.shape(), flow.shape()),
        (&[1, 3, 32, 64][..], &[1, 4, 32, 64][..])
    );
    // Two identical flat frames: whatever the (random) weights, the warps of a constant image are
    // that constant, so the middle frame is the same flat image.
    assert!(
        image.iter().all(|v| (v - 0.2).abs() < 1e-4),
        "flat in, flat out"
    );
}
