//! Export manifests: bounded, validated reading (property-tested on arbitrary and mutated JSON),
//! and the check every precision variant gets against the manifest before it is loaded.

mod support;

use std::path::{Path, PathBuf};

use prism_core::models::{MAX_MANIFEST_BYTES, parse_manifest, verify_listed};
use prism_core::{Device, Error, Model, ModelInfo, Precision, SessionOptions};
use proptest::prelude::*;

const SHA: &str = "41789d5b0ec5d875d3acae6eeea09cd6904df0cf26f0ed686b2c1202681c1863";

fn manifest(path: &str, sha: &str, size: &str) -> String {
    format!(
        r#"[{{"id": "m", "task": "upscale", "files": {{"fp32": {{"path": "{path}", "sha256": "{sha}", "size_bytes": {size}}}}}}}]"#
    )
}

fn parse(text: &str) -> Result<Vec<prism_core::models::ManifestEntry>, Error> {
    parse_manifest(Path::new("out/manifest.json"), text.as_bytes())
}

#[test]
fn a_valid_manifest_parses() {
    let entries = parse(&manifest("m/m.fp32.onnx", SHA, "12")).unwrap();
    assert_eq!(entries[0].files["fp32"].size_bytes, Some(12));
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../export/out/manifest.json");
    if let Ok(bytes) = std::fs::read(&real) {
        assert!(!parse_manifest(&real, &bytes).unwrap().is_empty());
    }
}

#[test]
fn bad_values_are_named() {
    for (text, want) in [
        (
            manifest("../x.onnx", SHA, "1"),
            "unsafe file path `../x.onnx`",
        ),
        (manifest("/etc/x.onnx", SHA, "1"), "unsafe file path"),
        (manifest("m.onnx", "ABC", "1"), "not 64 lowercase hex"),
        (
            manifest("m.onnx", &SHA.to_uppercase(), "1"),
            "not 64 lowercase hex",
        ),
        (
            manifest("m.onnx", SHA, "99999999999"),
            "size_bytes 99999999999",
        ),
        (manifest("m.onnx", SHA, "-1"), "unreadable manifest"),
        (manifest("m.onnx", SHA, "1e30"), "unreadable manifest"),
        (
            manifest("m.onnx", SHA, "18446744073709551616"),
            "unreadable manifest",
        ),
        (r#"[{"id": "", "files": {}}]"#.to_string(), "model id ``"),
    ] {
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("out/manifest.json") && err.contains(want),
            "{err}"
        );
    }
}

#[test]
fn an_oversized_manifest_is_refused_before_parsing() {
    let mut text = manifest("m.onnx", SHA, "1").into_bytes();
    text.resize(MAX_MANIFEST_BYTES as usize + 1, b' ');
    let err = parse_manifest(Path::new("big.json"), &text).unwrap_err();
    assert!(
        err.to_string().contains("more than 16777216 bytes"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(support::config(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_manifest(Path::new("m.json"), &bytes);
    }

    #[test]
    fn mutated_manifests_never_panic(
        path in "[a-z./]{0,12}",
        sha in "[0-9a-fA-F]{0,66}",
        size in prop_oneof![Just("1".to_string()), "-?[0-9]{1,25}", "[0-9.e+-]{1,8}"],
        cut in any::<prop::sample::Index>(),
    ) {
        let text = manifest(&path, &sha, &size);
        for t in [&text[..], &text[..cut.index(text.len() + 1)]] {
            if let Err(e) = parse(t) {
                prop_assert!(e.to_string().contains("unreadable manifest"));
            }
        }
    }
}

/// An export folder: `manifest.json` listing `m/m.fp32.onnx` (and `m/m.fp16.onnx` unless
/// `fp32_only`), copies of the tiny conv fixtures with their real sizes and hashes.
fn export_dir(fp32_only: bool) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("m")).unwrap();
    let mut files = Vec::new();
    for p in ["fp32", "fp16"] {
        let to = dir.path().join(format!("m/m.{p}.onnx"));
        std::fs::copy(
            support::fixtures_dir().join(format!("tiny_conv.{p}.onnx")),
            &to,
        )
        .unwrap();
        let info = ModelInfo::inspect(&to).unwrap();
        if p == "fp32" || !fp32_only {
            files.push(format!(
                r#""{p}": {{"path": "m/m.{p}.onnx", "sha256": "{}", "size_bytes": {}}}"#,
                info.sha256, info.file_size
            ));
        }
    }
    let text = format!(r#"[{{"id": "m", "files": {{{}}}}}]"#, files.join(", "));
    std::fs::write(dir.path().join("manifest.json"), text).unwrap();
    let (fp32, fp16) = (
        dir.path().join("m/m.fp32.onnx"),
        dir.path().join("m/m.fp16.onnx"),
    );
    (dir, fp32, fp16)
}

fn verify(given: &Path, chosen: &Path) -> Result<(), Error> {
    let info = ModelInfo::inspect(chosen)?;
    verify_listed(given, chosen, info.file_size, &info.sha256)
}

/// Still valid ONNX, but not the file the manifest lists: one producer letter changed (same
/// size), or an unknown field 20 appended too.
fn tamper(path: &Path, append: bool) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(13)
        .position(|w| w == b"prism-fixture")
        .unwrap();
    bytes[at + 13] = b'z';
    if append {
        support::varint_field(20, 0, &mut bytes);
    }
    std::fs::write(path, bytes).unwrap();
    ModelInfo::inspect(path).expect("still decodes");
}

#[test]
fn listed_variants_pass_and_a_tampered_fp16_twin_is_refused() {
    let (_dir, fp32, fp16) = export_dir(false);
    verify(&fp32, &fp32).unwrap();
    verify(&fp32, &fp16).unwrap();
    tamper(&fp16, false);
    let err = verify(&fp32, &fp16).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Unverified { .. }), "{text}");
    assert!(
        text.contains("m.fp16.onnx") && text.contains("manifest.json") && text.contains("sha256"),
        "{text}"
    );
    tamper(&fp16, true);
    let err = verify(&fp32, &fp16).unwrap_err().to_string();
    assert!(err.contains("bytes, the manifest gives 598"), "{err}");
}

#[test]
fn an_unlisted_twin_beside_a_listed_file_is_refused() {
    let (_dir, fp32, fp16) = export_dir(true);
    verify(&fp32, &fp32).unwrap();
    let err = verify(&fp32, &fp16).unwrap_err().to_string();
    assert!(err.contains("lists `m` fp32 but not this variant"), "{err}");
    // Files no manifest knows are loaded as they are.
    let plain = support::fixtures_dir().join("tiny_conv.fp32.onnx");
    let twin = support::fixtures_dir().join("tiny_conv.fp16.onnx");
    verify(&plain, &twin).unwrap();
}

#[test]
fn another_programs_manifest_json_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.json"), r#"{"name": "not ours"}"#).unwrap();
    let (fp32, fp16) = (
        dir.path().join("a.fp32.onnx"),
        dir.path().join("a.fp16.onnx"),
    );
    std::fs::copy(support::fixtures_dir().join("tiny_conv.fp32.onnx"), &fp32).unwrap();
    std::fs::copy(support::fixtures_dir().join("tiny_conv.fp16.onnx"), &fp16).unwrap();
    verify(&fp32, &fp16).unwrap();
}

#[test]
fn model_load_refuses_a_tampered_fp16_twin() {
    let (_dir, fp32, fp16) = export_dir(false);
    tamper(&fp16, false);
    let options = SessionOptions {
        device: Device::Cpu,
        precision: Precision::Fp16,
        ..SessionOptions::default()
    };
    let err = Model::load(&fp32, &options).unwrap_err();
    assert!(matches!(err, Error::Unverified { .. }), "{err}");
    // The FP32 file itself still loads.
    let options = SessionOptions {
        precision: Precision::Fp32,
        ..options
    };
    let model = Model::load(&fp32, &options).unwrap();
    assert!(model.path().ends_with("m.fp32.onnx"));
}
