//! A model whose `prism.pad_multiple` is out of range is refused with an error naming the file,
//! the key, the value and the accepted range (it would otherwise pad frames to a million pixels).

use std::path::Path;

use prism_core::{Device, SessionOptions};
use prism_interpolate::{Interpolator, InterpolatorOptions};

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
    varint(number << 3 | 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// The tiny RIFE fixture with one metadata entry appended (a later entry overrides an earlier).
fn rife_with(dir: &Path, key: &str, value: &str) -> std::path::PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/tiny/tiny-rife-v4.fp32.onnx");
    let mut bytes = std::fs::read(fixture).unwrap();
    let mut entry = Vec::new();
    bytes_field(1, key.as_bytes(), &mut entry);
    bytes_field(2, value.as_bytes(), &mut entry);
    bytes_field(14, &entry, &mut bytes);
    let path = dir.join("hostile-rife.fp32.onnx");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn options() -> InterpolatorOptions {
    InterpolatorOptions {
        session: SessionOptions {
            device: Device::Cpu,
            intra_threads: Some(1),
            ..SessionOptions::default()
        },
        ..InterpolatorOptions::default()
    }
}

#[test]
fn a_huge_pad_multiple_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = rife_with(dir.path(), "prism.pad_multiple", "1000000");
    let err = Interpolator::new(&path, options()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("hostile-rife.fp32.onnx")
            && text.contains("prism.pad_multiple")
            && text.contains("1000000")
            && text.contains("from 1 to 1024"),
        "{text}"
    );
    assert!(
        matches!(
            err,
            prism_interpolate::Error::Core(prism_core::Error::BadMetadata { .. })
        ),
        "{err:?}"
    );
    // In range, it is used.
    let path = rife_with(dir.path(), "prism.pad_multiple", "64");
    assert_eq!(
        Interpolator::new(&path, options()).unwrap().pad_multiple(),
        64
    );
}
