//! Paths shared by the end-to-end tests. Anything missing fails with the set-up instruction.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const SETUP: &str = "run `cargo xtask test` once to provision the runtime, the test runtimes and the exported models";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// A model exported by `python -m prism_export export ID`, with real weights.
pub fn exported(id: &str) -> PathBuf {
    let path = root().join(format!("export/out/{id}/{id}.fp32.onnx"));
    assert!(path.is_file(), "{} is missing: {SETUP}", path.display());
    path
}

/// The export manifest entry for `id`.
pub fn manifest_entry(id: &str) -> serde_json::Value {
    let path = root().join("export/out/manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: {SETUP}", path.display()));
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let models = manifest
        .get("models")
        .and_then(|m| m.as_array())
        .cloned()
        .or_else(|| manifest.as_array().cloned())
        .expect("manifest lists models");
    models
        .into_iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {}: {SETUP}", path.display()))
}

/// ONNX Runtime 1.20.1, older than Prism supports: only the version-check test loads it.
pub fn old_runtime() -> PathBuf {
    let path = root().join(".prism/test-runtime/1.20.1/onnxruntime/capi/libonnxruntime.so.1.20.1");
    assert!(path.is_file(), "{} is missing: {SETUP}", path.display());
    path
}

/// A real photograph shipped inside the scikit-image wheel of the export environment.
pub fn real_image(name: &str) -> PathBuf {
    let lib = root().join("export/.venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.flatten()
            .map(|d| d.path().join("site-packages/skimage/data").join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "skimage/data/{name} not found under {}: {SETUP}",
            lib.display()
        )
    })
}

/// The `prism` binary that `cargo test --workspace` builds beside the test executables.
pub fn prism() -> std::process::Command {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("prism");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p prism-cli` ({SETUP})",
        bin.display()
    );
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["--quiet"]);
    cmd
}

/// [`prism`] without `--quiet`, for tests that read its status lines.
pub fn prism_talking() -> std::process::Command {
    let quiet = prism();
    let mut cmd = std::process::Command::new(quiet.get_program());
    cmd.args(quiet.get_args().filter(|a| *a != "--quiet"));
    cmd
}

/// `export/out/parity/<name>`, the reference outputs a parity script wrote (with its `reference.json`).
pub fn parity_dir(name: &str) -> PathBuf {
    let dir = root().join("export/out/parity").join(name);
    assert!(
        dir.join("reference.json").is_file(),
        "{} is missing: {SETUP}",
        dir.display()
    );
    dir
}
