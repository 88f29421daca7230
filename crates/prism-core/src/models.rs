//! The export manifests (`manifest.json`, written by `python -m prism_export export`): reading,
//! finding a model id's file, and checking a loaded file against them ([`verify_listed`]).
//!
//! Manifests are searched in `$PRISM_MODELS_DIR` and then in `export/out/` of the checkout that
//! holds the executable or the current directory ([`crate::checkout`]). This is the one reader of
//! those manifests; it stays here because [`crate::Model::load`] verifies against it. Resolving
//! what a user typed (path, id, Hub file) is `prism_hub::resolve_model`.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::info::MAX_MODEL_BYTES;

mod verify;
pub use verify::{Listing, int8_gate, listing, verify_listed};

/// Folders whose `manifest.json` lists exported models, in search order.
pub fn manifest_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("PRISM_MODELS_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    dirs.extend(crate::checkout::path("export/out"));
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
        let Some(entries) = read_manifest(&manifest)? else {
            continue;
        };
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

/// The largest manifest read (a full export's is ~60 KiB).
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// One model of a manifest: its id and files by precision (`fp32`, `fp16`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct ManifestEntry {
    pub id: String,
    pub files: BTreeMap<String, ManifestFile>,
}

/// One file of a manifest entry; `path` is relative to the manifest's folder.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct ManifestFile {
    pub path: PathBuf,
    pub sha256: Option<String>,
    pub size_bytes: Option<u64>,
    /// The quality gate an INT8 variant passed at export (`prism_export.quantize`).
    #[serde(default)]
    pub gate: Option<Gate>,
}

/// An INT8 variant's quality gate, measured on held-out photos against the FP32 file's output.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Gate {
    pub passed: bool,
    /// Worst held-out crop's PSNR (dB) against the FP32 output.
    pub psnr_db: f64,
    /// 99.9th percentile of the absolute pixel error, in 1/255.
    pub p999_abs_255: f64,
    #[serde(default)]
    pub psnr_floor_db: Option<f64>,
    #[serde(default)]
    pub p999_limit_255: Option<f64>,
    /// Worst held-out crop's SSIM against the FP32 output (the gate of style networks).
    #[serde(default)]
    pub ssim: Option<f64>,
    /// The SSIM a style network had to reach; absent where PSNR and p99.9 are the gate.
    #[serde(default)]
    pub ssim_floor: Option<f64>,
    /// Calibration method (MinMax, Percentile, Entropy).
    #[serde(default)]
    pub method: Option<String>,
}

/// The manifest at `path`, `None` when there is none; read bounded and validated.
pub fn read_manifest(path: &Path) -> Result<Option<Vec<ManifestEntry>>> {
    use std::io::Read;
    let io = |error| Error::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    parse_manifest(path, &bytes).map(Some)
}

/// Parses and validates manifest bytes (`path` names it in errors): at most
/// [`MAX_MANIFEST_BYTES`], ids non-empty, file paths inside the manifest's folder, sha256 as 64
/// lowercase hex digits, sizes within [`MAX_MODEL_BYTES`].
pub fn parse_manifest(path: &Path, bytes: &[u8]) -> Result<Vec<ManifestEntry>> {
    let bad = |reason: String| Error::NotOnnx {
        path: path.to_path_buf(),
        reason: format!("unreadable manifest: {reason}"),
    };
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(bad(format!(
            "more than {MAX_MANIFEST_BYTES} bytes (a full export's is ~60 KiB)"
        )));
    }
    let entries: Vec<ManifestEntry> =
        serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    for entry in &entries {
        let id = &entry.id;
        if id.trim().is_empty() || id.len() > 200 {
            return Err(bad(format!("model id `{id}` is empty or too long")));
        }
        for (precision, file) in &entry.files {
            let what = format!("`{id}` {precision}");
            // Manifest paths are relative to the manifest's folder and never leave it.
            if file.path.as_os_str().is_empty()
                || !file
                    .path
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)))
            {
                return Err(bad(format!(
                    "unsafe file path `{}` for {what}",
                    file.path.display()
                )));
            }
            if let Some(sha) = &file.sha256
                && !(sha.len() == 64 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            {
                return Err(bad(format!(
                    "sha256 of {what} is not 64 lowercase hex digits"
                )));
            }
            if let Some(size) = file.size_bytes
                && size > MAX_MODEL_BYTES
            {
                return Err(bad(format!(
                    "size_bytes {size} of {what} is more than {MAX_MODEL_BYTES}"
                )));
            }
        }
    }
    Ok(entries)
}
