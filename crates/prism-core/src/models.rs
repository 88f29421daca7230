//! Finding a model file from what a user typed: a path, or a model id from an export manifest.
//!
//! Manifests are searched in `$PRISM_MODELS_DIR` and then in this checkout's `export/out/`
//! (written by `python -m prism_export export`). This is the one reader of those manifests;
//! `prism-hub` builds its registry, cache and download chain on top of it.

use std::path::{Component, Path, PathBuf};

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

/// An exported model file as its manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    pub path: PathBuf,
    pub sha256: Option<String>,
    pub size_bytes: Option<u64>,
    /// The manifest that listed it.
    pub manifest: PathBuf,
}

/// The FP32 file of model `id` from the first manifest that lists it and whose file exists.
pub fn find_exported(id: &str) -> Result<Option<ExportedFile>> {
    for dir in manifest_dirs() {
        let manifest = dir.join("manifest.json");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let entries: Vec<ManifestEntry> =
            serde_json::from_str(&text).map_err(|e| Error::NotOnnx {
                path: manifest.clone(),
                reason: format!("unreadable manifest: {e}"),
            })?;
        let Some(entry) = entries.into_iter().find(|e| e.id == id) else {
            continue;
        };
        let Some(file) = entry
            .files
            .get("fp32")
            .or_else(|| entry.files.values().next())
        else {
            continue;
        };
        // Manifest paths are relative to the manifest's folder and never leave it.
        if !file
            .path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(Error::NotOnnx {
                path: manifest,
                reason: format!("unsafe file path `{}` for `{id}`", file.path.display()),
            });
        }
        let path = dir.join(&file.path);
        if path.is_file() {
            return Ok(Some(ExportedFile {
                path,
                sha256: file.sha256.clone(),
                size_bytes: file.size_bytes,
                manifest,
            }));
        }
    }
    Ok(None)
}

/// An existing `.onnx` path is used as is; otherwise `arg` is looked up as a model id and its FP32
/// file returned (the session picks the FP16 sibling on GPUs).
pub fn resolve_model(arg: &str) -> Result<PathBuf> {
    let path = Path::new(arg);
    if path.is_file() || arg.ends_with(".onnx") || arg.contains(std::path::MAIN_SEPARATOR) {
        return Ok(path.to_path_buf());
    }
    match find_exported(arg)? {
        Some(file) => Ok(file.path),
        None => Err(Error::UnknownModel {
            id: arg.to_string(),
            searched: manifest_dirs()
                .iter()
                .map(|d| d.join("manifest.json"))
                .collect(),
        }),
    }
}

#[derive(serde::Deserialize)]
struct ManifestEntry {
    id: String,
    files: std::collections::BTreeMap<String, ManifestFile>,
}

#[derive(serde::Deserialize)]
struct ManifestFile {
    path: PathBuf,
    sha256: Option<String>,
    size_bytes: Option<u64>,
}
