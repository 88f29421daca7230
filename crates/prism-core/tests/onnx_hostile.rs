//! Hostile ONNX files: declared sizes that overflow or lie, files too big or not files at all,
//! and model metadata out of range. Each gives a clear error naming the file, never a panic.

mod support;

use prism_core::onnx::{DecodeError, decode_model};
use prism_core::{Error, ModelInfo};
use support::{bytes_field, graph_with_initializer, model, varint_field};

fn malformed(bytes: &[u8]) -> String {
    match decode_model(bytes) {
        Err(DecodeError::Malformed(reason)) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn a_dims_product_beyond_64_bits_is_an_error() {
    let g = graph_with_initializer(&[1 << 40, 1 << 40], 1, None);
    let reason = malformed(&model(&g, &[]));
    assert!(
        reason.contains("`w`") && reason.contains("overflow"),
        "{reason}"
    );
}

#[test]
fn count_times_bits_beyond_64_bits_is_an_error() {
    // 2^62 elements fit 64 bits; 2^62 * 32 bits do not.
    let g = graph_with_initializer(&[1 << 62], 1, None);
    let reason = malformed(&model(&g, &[]));
    assert!(reason.contains("32 bits overflow"), "{reason}");
}

#[test]
fn parameter_totals_beyond_64_bits_are_an_error() {
    // Strings have no fixed size, so each initializer alone is fine; their counts' sum is not.
    let mut g = graph_with_initializer(&[1 << 62, 2], 8, None);
    g.extend_from_slice(&graph_with_initializer(&[1 << 62, 2], 8, None));
    let reason = malformed(&model(&g, &[]));
    assert!(reason.contains("overflow"), "{reason}");
}

#[test]
fn raw_data_must_hold_what_the_dims_declare() {
    let g = graph_with_initializer(&[1_000_000], 1, Some(&[0; 4]));
    let reason = malformed(&model(&g, &[]));
    assert!(
        reason.contains("4000000 bytes") && reason.contains("holds 4"),
        "{reason}"
    );
    // The honest version decodes.
    let g = graph_with_initializer(&[2, 2], 1, Some(&[0; 16]));
    let m = decode_model(&model(&g, &[])).unwrap();
    assert_eq!((m.parameter_count, m.parameter_bytes), (4, 16));
    // 4-bit types pack two per byte.
    let g = graph_with_initializer(&[3], 22, Some(&[0; 2]));
    assert_eq!(decode_model(&model(&g, &[])).unwrap().parameter_bytes, 2);
}

#[test]
fn a_negative_initializer_dim_is_an_error() {
    let g = graph_with_initializer(&[(-1i64) as u64, 4], 1, None);
    assert!(malformed(&model(&g, &[])).contains("negative dimension -1"));
}

#[test]
fn a_huge_declared_length_is_truncated_not_allocated() {
    // Field 7 (graph) claims 2^60 bytes.
    let mut m = Vec::new();
    varint_field(1, 8, &mut m);
    m.push(7 << 3 | 2);
    support::varint(1 << 60, &mut m);
    m.extend_from_slice(b"xyz");
    assert_eq!(
        decode_model(&m),
        Err(DecodeError::Truncated {
            needed: 1 << 60,
            available: 3
        })
    );
}

#[test]
fn a_negative_ir_version_is_an_error() {
    let mut m = Vec::new();
    varint_field(1, (-3i64) as u64, &mut m);
    bytes_field(7, b"", &mut m);
    assert!(matches!(decode_model(&m), Err(DecodeError::Malformed(_))));
}

#[test]
fn inspect_names_the_file_in_decode_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overflow.onnx");
    std::fs::write(
        &path,
        model(&graph_with_initializer(&[1 << 62], 1, None), &[]),
    )
    .unwrap();
    let err = ModelInfo::inspect(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::NotOnnx { .. }), "{text}");
    assert!(
        text.contains("overflow.onnx") && text.contains("overflow 64 bits"),
        "{text}"
    );
}

#[test]
fn files_above_the_limit_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.onnx");
    std::fs::write(&path, vec![0u8; 100]).unwrap();
    let err = prism_core::info::read_model_bytes(&path, 50).unwrap_err();
    assert!(
        err.to_string().contains("100 bytes is more than the 50"),
        "{err}"
    );
    assert_eq!(
        prism_core::info::read_model_bytes(&path, 100)
            .unwrap()
            .len(),
        100
    );
    assert_eq!(prism_core::info::MAX_MODEL_BYTES, 2 << 30);
}

#[cfg(unix)]
#[test]
fn a_device_is_not_read_as_a_model() {
    // An endless stream: reading it whole would never end.
    let err = ModelInfo::inspect("/dev/zero".as_ref()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert!(matches!(err, Error::NotOnnx { .. }), "{err:?}");
}

fn info_with(metadata: &[(&str, &str)]) -> (tempfile::TempDir, ModelInfo) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.onnx");
    let mut g = Vec::new();
    bytes_field(2, b"g", &mut g);
    std::fs::write(&path, model(&g, metadata)).unwrap();
    let info = ModelInfo::inspect(&path).unwrap();
    (dir, info)
}

#[test]
fn metadata_out_of_range_names_file_key_value_and_range() {
    let (_dir, info) = info_with(&[("prism.pad_multiple", "1000000")]);
    let err = info
        .metadata_int_in("prism.pad_multiple", 1..=1024)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("foreign.onnx")
            && text.contains("prism.pad_multiple")
            && text.contains("1000000")
            && text.contains("from 1 to 1024"),
        "{text}"
    );
    assert!(matches!(err, Error::BadMetadata { .. }), "{err:?}");
}

#[test]
fn metadata_in_range_absent_or_not_an_integer() {
    let (_dir, info) = info_with(&[("prism.scale", " 4 "), ("prism.pad_multiple", "0x10")]);
    assert_eq!(
        info.metadata_int_in("prism.scale", 1..=16).unwrap(),
        Some(4)
    );
    assert_eq!(info.metadata_int_in("prism.absent", 1..=16).unwrap(), None);
    assert!(info.metadata_int_in("prism.scale", 8..=16).is_err());
    assert!(
        info.metadata_int_in("prism.pad_multiple", 1..=1024)
            .is_err()
    );
    let (_dir, info) = info_with(&[("prism.scale", "99999999999999999999999")]);
    assert!(info.metadata_int_in("prism.scale", 1..=16).is_err());
}
