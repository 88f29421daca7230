//! Fixed declared dims made free in memory: a fully convolutional graph runs at another size, a
//! graph that cannot gives a clear error, and the file on disk is never touched.

mod common;

use ndarray::{ArrayD, IxDyn};
use prism_core::onnx::Dim;
use prism_core::{Device, Error, Model, SessionOptions, Tensor};
use sha2::{Digest, Sha256};

fn cpu() -> SessionOptions {
    SessionOptions {
        device: Device::Cpu,
        intra_threads: Some(1),
        ..SessionOptions::default()
    }
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn sha256(path: &std::path::Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

#[test]
fn fixed_conv_runs_at_another_size_and_matches_numpy() {
    let path = common::fixture("fixed_conv.onnx");
    let before = sha256(&path);
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("fixed_conv.expected.json")).unwrap(),
    )
    .unwrap();
    let shape = [1, 3, 12, 10];
    let input = ArrayD::from_shape_vec(IxDyn(&shape), floats(&expected["input"])).unwrap();
    let mut model = Model::load(&path, &cpu()).unwrap();
    // Without asking, the declared 1x3x8x8 is enforced.
    let err = model.run(vec![Tensor::F32(input.clone())]).unwrap_err();
    assert!(matches!(err, Error::InputMismatch { .. }), "{err}");
    // The declared size needs no rebuild.
    assert!(!model.accept_shapes(&[("input", &[1, 3, 8, 8])]).unwrap());
    assert!(model.accept_shapes(&[("input", &shape)]).unwrap());
    let dims = model.info().inputs[0].shape.clone().unwrap();
    assert_eq!(dims[..2], [Dim::Fixed(1), Dim::Fixed(3)]);
    assert!(matches!(&dims[2], Dim::Symbol(_)) && matches!(&dims[3], Dim::Symbol(_)));
    let out = model.run(vec![Tensor::F32(input)]).unwrap().remove(0);
    assert_eq!(out.shape(), shape);
    let want = floats(&expected["output"]);
    let worst = out
        .into_f32()
        .iter()
        .zip(&want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 1e-5, "max abs difference from numpy {worst}");
    // Other sizes afterwards need no further rebuild, and the declared one still runs.
    assert!(!model.accept_shapes(&[("input", &[1, 3, 5, 17])]).unwrap());
    let out = model
        .run(vec![Tensor::F32(ArrayD::zeros(IxDyn(&[1, 3, 5, 17])))])
        .unwrap();
    assert_eq!(out[0].shape(), [1, 3, 5, 17]);
    let out = model
        .run(vec![Tensor::F32(ArrayD::zeros(IxDyn(&[1, 3, 8, 8])))])
        .unwrap();
    assert_eq!(out[0].shape(), [1, 3, 8, 8]);
    assert_eq!(sha256(&path), before, "the file on disk is unchanged");
}

#[test]
fn a_graph_that_cannot_run_at_another_size_says_so() {
    let path = common::fixture("fixed_reshape.onnx");
    let mut model = Model::load(&path, &cpu()).unwrap();
    let ok = model
        .run(vec![Tensor::F32(ArrayD::zeros(IxDyn(&[1, 3, 8, 8])))])
        .unwrap();
    assert_eq!(ok[0].shape(), [1, 192]);
    model.accept_shapes(&[("input", &[1, 3, 12, 12])]).unwrap();
    let err = model
        .run(vec![Tensor::F32(ArrayD::zeros(IxDyn(&[1, 3, 12, 12])))])
        .unwrap_err();
    let text = err.to_string();
    let Error::ShapeRefused {
        path: p,
        input,
        declared,
        requested,
        ..
    } = &err
    else {
        panic!("wrong error: {text}")
    };
    assert_eq!(p, &path);
    assert_eq!(
        (input.as_str(), declared.as_str(), requested.as_str()),
        ("input", "1x3x8x8", "1x3x12x12")
    );
    assert!(
        text.contains("Reshape") || text.contains("reshape"),
        "{text}"
    );
}

#[test]
fn bad_requests_are_named() {
    let mut model = Model::load(&common::fixture("fixed_conv.onnx"), &cpu()).unwrap();
    let err = model
        .accept_shapes(&[("image", &[1, 3, 12, 12])])
        .unwrap_err();
    assert!(err.to_string().contains("`input`"), "{err}");
    let err = model.accept_shapes(&[("input", &[3, 12, 12])]).unwrap_err();
    assert!(matches!(err, Error::InputMismatch { .. }), "{err}");
}
