//! Checking a model file against the export manifest that lists it, whichever precision variant
//! a session picks: the FP16 twin gets the same size and sha256 check as the FP32 file.

use std::path::{Path, PathBuf};

use super::{ExportedFile, manifest_dirs, read_manifest};
use crate::error::{Error, Result};

/// Where a manifest lists a file: the model id, the precision key and the recorded facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub id: String,
    pub precision: String,
    pub file: ExportedFile,
    /// The quality gate recorded with the file (INT8 variants).
    pub gate: Option<super::Gate>,
}

/// The manifest entry that lists `file`: looked for in the manifest folders and in the file's own
/// folder and the one above it (an export's `ID/ID.fp32.onnx` layout). An unreadable manifest is
/// an error only where it is one of the manifest folders and holds `file`; elsewhere (some other
/// program's `manifest.json`) it is skipped.
pub fn listing(file: &Path) -> Result<Option<Listing>> {
    let Ok(target) = file.canonicalize() else {
        return Ok(None);
    };
    let mut dirs: Vec<(PathBuf, bool)> = manifest_dirs().into_iter().map(|d| (d, true)).collect();
    dirs.extend(
        target
            .ancestors()
            .skip(1)
            .take(2)
            .map(|d| (d.to_path_buf(), false)),
    );
    let mut seen: Vec<PathBuf> = Vec::new();
    for (dir, configured) in dirs {
        let dir = dir.canonicalize().unwrap_or(dir);
        if seen.contains(&dir) {
            continue;
        }
        seen.push(dir.clone());
        let manifest = dir.join("manifest.json");
        let entries = match read_manifest(&manifest) {
            Ok(Some(entries)) => entries,
            Ok(None) => continue,
            Err(e) if configured && target.starts_with(&dir) => return Err(e),
            Err(e) => {
                tracing::debug!(manifest = %manifest.display(), error = %e, "not an export manifest; skipped");
                continue;
            }
        };
        for entry in entries {
            for (precision, f) in entry.files {
                let path = dir.join(&f.path);
                if path.canonicalize().ok().as_deref() == Some(target.as_path()) {
                    return Ok(Some(Listing {
                        id: entry.id,
                        precision,
                        file: ExportedFile {
                            path,
                            sha256: f.sha256,
                            size_bytes: f.size_bytes,
                            manifest,
                        },
                        gate: f.gate,
                    }));
                }
            }
        }
    }
    Ok(None)
}

/// The quality gate of an INT8 file as its manifest lists it; `None` when the file is missing or
/// no manifest lists it as an `int8` variant.
pub fn int8_gate(file: &Path) -> Result<Option<super::Gate>> {
    if !file.is_file() {
        return Ok(None);
    }
    Ok(listing(file)?
        .filter(|l| l.precision == "int8")
        .and_then(|l| l.gate))
}

/// Checks `chosen` (the file asked for, `given`, or its precision variant), of `size` bytes and
/// this sha256, against the manifest that lists it. A variant no manifest lists, beside a listed
/// `given` file, is refused too; files no manifest knows pass.
pub fn verify_listed(given: &Path, chosen: &Path, size: u64, sha256: &str) -> Result<()> {
    let unverified = |manifest: &Path, reason: String| Error::Unverified {
        path: chosen.to_path_buf(),
        manifest: manifest.to_path_buf(),
        reason,
    };
    if let Some(l) = listing(chosen)? {
        let what = format!("`{}` {}", l.id, l.precision);
        if let Some(want) = l.file.size_bytes
            && want != size
        {
            return Err(unverified(
                &l.file.manifest,
                format!("the file has {size} bytes, the manifest gives {want} for {what}"),
            ));
        }
        if let Some(want) = &l.file.sha256
            && want != sha256
        {
            return Err(unverified(
                &l.file.manifest,
                format!("its sha256 is {sha256}, the manifest gives {want} for {what}"),
            ));
        }
        return Ok(());
    }
    if chosen != given
        && let Some(l) = listing(given)?
    {
        return Err(unverified(
            &l.file.manifest,
            format!(
                "the manifest lists `{}` {} but not this variant beside it",
                l.id, l.precision
            ),
        ));
    }
    Ok(())
}
