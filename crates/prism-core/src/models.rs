//! Finding a model file from what a user typed: a path, or a model id from an export manifest.
//!
//! Manifests are searched in `$PRISM_MODELS_DIR` and then in this checkout's `export/out/`
//! (written by `python -m prism_export export`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Folders whose `manifest.json` lists exported models, in search order.
pub fn manifest_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("PRISM_MODELS_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../export/out");
    dirs.push(checkout.canonicalize().unwrap_or(checkout));
    dirs
}

/// An existing `.onnx` path is used as is; otherwise `arg` is looked up as a model id and its FP32
/// file returned (the session picks the FP16 sibling on GPUs).
pub fn resolve_model(arg: &str) -> Result<PathBuf> {
    let path = Path::new(arg);
    if path.is_file() || arg.ends_with(".onnx") || arg.contains(std::path::MAIN_SEPARATOR) {
        return Ok(path.to_path_buf());
    }
    let dirs = manifest_dirs();
    for dir in &dirs {
        let manifest = dir.join("manifest.json");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let entries: Vec<ManifestEntry> =
            serde_json::from_str(&text).map_err(|e| Error::NotOnnx {
                path: manifest.clone(),
                reason: format!("unreadable manifest: {e}"),
            })?;
        if let Some(entry) = entries.into_iter().find(|e| e.id == arg) {
            let file = entry
                .files
                .get("fp32")
                .or_else(|| entry.files.values().next());
            if let Some(file) = file {
                return Ok(dir.join(&file.path));
            }
        }
    }
    Err(Error::UnknownModel {
        id: arg.to_string(),
        searched: dirs.iter().map(|d| d.join("manifest.json")).collect(),
    })
}

#[derive(serde::Deserialize)]
struct ManifestEntry {
    id: String,
    files: std::collections::BTreeMap<String, ManifestFile>,
}

#[derive(serde::Deserialize)]
struct ManifestFile {
    path: PathBuf,
}
