//! Shared helpers of prism-core's integration tests: a tiny protobuf writer, the ONNX fixtures and
//! a fixed-seed proptest configuration.
#![allow(dead_code)]

use std::path::PathBuf;

use proptest::test_runner::{Config, RngSeed};

pub fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn varint_field(number: u64, v: u64, out: &mut Vec<u8>) {
    varint(number << 3, out);
    varint(v, out);
}

pub fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
    varint(number << 3 | 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// A `ModelProto` (IR 8) whose graph holds these fields and with these metadata entries.
pub fn model(graph: &[u8], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut m = Vec::new();
    varint_field(1, 8, &mut m);
    bytes_field(7, graph, &mut m);
    for (k, v) in metadata {
        let mut entry = Vec::new();
        bytes_field(1, k.as_bytes(), &mut entry);
        bytes_field(2, v.as_bytes(), &mut entry);
        bytes_field(14, &entry, &mut m);
    }
    m
}

/// A graph with one initializer `w`: these dims, this data type, optional raw data.
pub fn graph_with_initializer(dims: &[u64], data_type: u64, raw: Option<&[u8]>) -> Vec<u8> {
    let mut t = Vec::new();
    for &d in dims {
        varint_field(1, d, &mut t);
    }
    varint_field(2, data_type, &mut t);
    bytes_field(8, b"w", &mut t);
    if let Some(raw) = raw {
        bytes_field(9, raw, &mut t);
    }
    let mut g = Vec::new();
    bytes_field(2, b"g", &mut g);
    bytes_field(5, &t, &mut g);
    g
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Every small ONNX fixture: (name, bytes).
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = fixtures_dir();
    let mut out = Vec::new();
    for sub in [dir.clone(), dir.join("tiny")] {
        let mut names: Vec<_> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
            .collect();
        names.sort();
        for p in names {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    assert!(out.len() >= 8, "fixtures missing in {}", dir.display());
    out
}

/// `cases` cases from a fixed seed, no failure files: every run tests the same inputs.
pub fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5052_4953_4d00_0011),
        failure_persistence: None,
        ..Config::default()
    }
}
