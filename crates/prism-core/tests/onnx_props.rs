//! Property tests of the ONNX reader: arbitrary bytes, and real fixtures with random byte
//! changes, insertions of hostile varints, deletions and truncations. Every input decodes or
//! gives a `DecodeError` with a message; nothing panics. Fixed seed: each run tests the same cases.

mod support;

use std::collections::BTreeMap;

use prism_core::onnx::{DecodeError, decode_model, free_dims};
use proptest::prelude::*;
use std::sync::OnceLock;

fn fixtures() -> &'static [(String, Vec<u8>)] {
    static FIXTURES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FIXTURES.get_or_init(support::fixtures)
}

/// Decodes (and, when that works, frees dims, then decodes that): Ok or a described error.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    match decode_model(bytes) {
        Ok(model) => {
            let axes: BTreeMap<String, Vec<usize>> = model
                .inputs
                .iter()
                .map(|i| (i.name.clone(), vec![0, 1, 2, 3]))
                .collect();
            if let Ok(freed) = free_dims(bytes, &axes) {
                // Rewriting declarations never makes a decodable model undecodable.
                let again = decode_model(&freed);
                prop_assert!(again.is_ok(), "freed copy does not decode: {again:?}");
            }
        }
        Err(DecodeError::Malformed(reason)) => prop_assert!(!reason.is_empty()),
        Err(DecodeError::Truncated { needed, available }) => prop_assert!(needed > available),
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    /// Insert a varint (often a huge or negative number) at a position.
    Varint(usize, u64),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let big = prop_oneof![
        any::<u64>(),
        Just(u64::MAX),
        Just(1 << 62),
        Just(1 << 31),
        (0u64..300),
    ];
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Set(p, b)),
        2 => (any::<usize>(), big).prop_map(|(p, v)| Edit::Varint(p, v)),
        1 => (any::<usize>(), 1usize..16).prop_map(|(p, n)| Edit::Delete(p, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len().max(1);
        match *e {
            Edit::Set(p, b) if !bytes.is_empty() => bytes[p % len] = b,
            Edit::Varint(p, v) => {
                let mut enc = Vec::new();
                support::varint(v, &mut enc);
                let at = p % (bytes.len() + 1);
                bytes.splice(at..at, enc);
            }
            Edit::Delete(p, n) if !bytes.is_empty() => {
                let at = p % len;
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Edit::Truncate(p) => bytes.truncate(p % len),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(support::config(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes)?;
    }


    #[test]
    fn truncated_fixtures_are_errors(which in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let (name, bytes) = which.get(fixtures());
        // Any proper prefix is an error: a cut field, or a model missing its graph.
        let cut = cut.index(bytes.len());
        let result = decode_model(&bytes[..cut]);
        // The graph may be complete before the metadata; a prefix then still decodes.
        if let Err(e) = &result {
            prop_assert!(format!("{e:?}").len() > 10, "{name}");
        }
        check(&bytes[..cut])?;
    }
}

proptest! {
    // Cheap (~1 s): more cases, since mutations of real files reach the deepest paths.
    #![proptest_config(support::config(10_000))]

    #[test]
    fn mutated_fixtures_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let (_, bytes) = which.get(fixtures());
        check(&apply(bytes.clone(), &edits))?;
    }
}

proptest! {
    // Through the file: fewer cases, each writes a file.
    #![proptest_config(support::config(300))]

    #[test]
    fn inspect_errors_name_the_file(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let (_, bytes) = which.get(fixtures());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mutant.onnx");
        std::fs::write(&path, apply(bytes.clone(), &edits)).unwrap();
        if let Err(e) = prism_core::ModelInfo::inspect(&path) {
            prop_assert!(e.to_string().contains("mutant.onnx"), "{e}");
            prop_assert!(
                matches!(
                    e,
                    prism_core::Error::Io { .. }
                        | prism_core::Error::NotOnnx { .. }
                        | prism_core::Error::TruncatedModel { .. }
                ),
                "not a model-file error: {e:?}"
            );
        }
    }
}

#[test]
fn every_fixture_decodes() {
    for (name, bytes) in fixtures() {
        let model = decode_model(bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(model.ir_version > 0, "{name}");
    }
}
