//! Paths of the checkout for the C API's tests: models, images, the built library and `prism`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const SETUP: &str =
    "run `cargo xtask test` once to provision the runtime and export the models";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `target/debug` (or the profile folder) that holds this test executable's crate outputs.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// A model exported by `python -m prism_export export ID`.
pub fn exported(id: &str) -> PathBuf {
    let path = root().join(format!("export/out/{id}/{id}.fp32.onnx"));
    assert!(path.is_file(), "{} is missing: {SETUP}", path.display());
    path
}

/// A real photograph from the scikit-image wheel of the export environment.
pub fn real_image(name: &str) -> image::DynamicImage {
    let lib = root().join("export/.venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.flatten()
            .map(|d| d.path().join("site-packages/skimage/data").join(name))
            .find(|p| p.is_file())
    });
    let path =
        found.unwrap_or_else(|| panic!("skimage/data/{name} not under {}: {SETUP}", lib.display()));
    image::open(&path).unwrap()
}

/// The `prism` tool that `cargo test --workspace` builds beside this crate's outputs.
pub fn prism() -> std::process::Command {
    let bin = target_dir().join("prism");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p prism-cli` ({SETUP})",
        bin.display()
    );
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--quiet").current_dir(root());
    cmd
}

/// Runs `cmd`, failing with its output unless it succeeds.
pub fn run(cmd: &mut std::process::Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
