//! The model manager: resolves what a user typed (a path or a registry id) to a verified file — from
//! the local export, the Hub cache or a download, in that order. [`resolve_model`] is Prism's one
//! way from a model argument to a file; `prism models` uses the manager for the rest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use prism_core::Precision;
use serde::Serialize;

use crate::cache::sha256_file;
use crate::error::{Error, Result};
use crate::hub::{Downloaded, Hub, HubOptions};
use crate::registry::{ModelEntry, Registry, Variant};

/// Manager settings.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    pub hub: HubOptions,
    /// Download from the Hub when a model is neither exported nor cached.
    pub download: bool,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        Self {
            hub: HubOptions {
                progress: true,
                ..HubOptions::default()
            },
            download: true,
        }
    }
}

/// Where a resolved model file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The user gave a file path.
    Path,
    /// The local export, verified against its manifest.
    Export,
    /// The Hub cache, without a transfer.
    Cache,
    /// Downloaded from the Hub just now.
    Download,
}

/// A model file ready to load.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    pub path: PathBuf,
    pub id: Option<String>,
    pub source: Source,
    pub sha256: Option<String>,
}

/// One Hub file fetched by [`ModelManager::download`].
#[derive(Debug, Clone)]
pub struct VariantFile {
    /// The variant's precision (`fp32`, `fp16`, `int8`).
    pub precision: String,
    pub file: Downloaded,
    /// The registry's revision when it is a branch, not a pinned commit.
    pub unpinned_revision: Option<String>,
}

/// Resolves model arguments through the registry, the export manifests and the Hub.
pub struct ModelManager {
    registry: Registry,
    options: ManagerOptions,
    hub: OnceLock<Hub>,
    verified: Mutex<HashMap<PathBuf, (u64, Option<SystemTime>)>>,
}

impl ModelManager {
    /// A manager over the default registry ([`Registry::load_default`]).
    pub fn new(options: ManagerOptions) -> Result<ModelManager> {
        Ok(ModelManager::with_registry(
            Registry::load_default()?,
            options,
        ))
    }

    pub fn with_registry(registry: Registry, options: ManagerOptions) -> ModelManager {
        ModelManager {
            registry,
            options,
            hub: OnceLock::new(),
            verified: Mutex::default(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Hub client, created on first use.
    pub fn hub(&self) -> Result<&Hub> {
        if let Some(hub) = self.hub.get() {
            return Ok(hub);
        }
        let hub = Hub::new(&self.options.hub)?;
        Ok(self.hub.get_or_init(|| hub))
    }

    /// A path is used as is; a registry id resolves to its export (verified against the export
    /// manifest), else its Hub file from the cache, else a download. `precision` picks the Hub
    /// variant (export models give the FP32 file; sessions switch to the FP16 sibling on GPUs).
    /// Ids only an export manifest knows (not in the registry) resolve through that manifest.
    pub fn resolve(&self, arg: &str, precision: Precision) -> Result<Resolved> {
        let path = Path::new(arg);
        if path.is_file() || arg.ends_with(".onnx") || arg.contains(std::path::MAIN_SEPARATOR) {
            return Ok(Resolved {
                path: path.to_path_buf(),
                id: None,
                source: Source::Path,
                sha256: None,
            });
        }
        let Some(entry) = self.registry.get(arg) else {
            return match prism_core::models::find_exported(arg)? {
                Some(file) => Ok(Resolved {
                    path: file.path,
                    id: Some(arg.to_string()),
                    source: Source::Export,
                    sha256: None,
                }),
                None => Err(Error::UnknownModel {
                    id: arg.to_string(),
                    registry: self.registry.path.clone(),
                }),
            };
        };
        let mut reasons = Vec::new();
        if entry.exported() {
            match self.export_file(entry, true)? {
                Some((path, sha256)) => {
                    return Ok(Resolved {
                        path,
                        id: Some(entry.id.clone()),
                        source: Source::Export,
                        sha256,
                    });
                }
                None => reasons.push("not exported".to_string()),
            }
        }
        if let Some(variant) = pick_hub_variant(entry, precision) {
            let hf = variant.hub.as_ref().expect("picked a hub variant");
            let hub = self.hub()?;
            // A pinned, cached file needs no network at all.
            let pinned_hit = hf.is_pinned().then(|| hub.cached(hf)).flatten();
            if pinned_hit.is_some() || self.options.download || hub.offline() {
                let got = hub.download(hf, variant.sha256.as_deref(), variant.size)?;
                return Ok(Resolved {
                    path: got.path,
                    id: Some(entry.id.clone()),
                    source: if got.cached {
                        Source::Cache
                    } else {
                        Source::Download
                    },
                    sha256: got.sha256,
                });
            }
            match hub.cached(hf) {
                Some(path) => {
                    return Ok(Resolved {
                        path,
                        id: Some(entry.id.clone()),
                        source: Source::Cache,
                        sha256: None,
                    });
                }
                None => reasons.push(format!(
                    "{}@{}/{} is not cached and downloads are off",
                    hf.repo, hf.revision, hf.file
                )),
            }
        }
        Err(Error::Unavailable {
            id: entry.id.clone(),
            reason: reasons.join("; "),
            hub: if entry.hub_files().next().is_some() {
                " or download it with `prism models download`"
            } else {
                ""
            },
        })
    }

    /// The registry entry of `id`.
    pub fn entry(&self, id: &str) -> Result<&ModelEntry> {
        self.registry.get(id).ok_or_else(|| Error::UnknownModel {
            id: id.to_string(),
            registry: self.registry.path.clone(),
        })
    }

    /// Downloads and verifies every Hub file of registry model `id` into the Hub cache
    /// (`prism models download`, the Python package, `prism serve`).
    pub fn download(&self, id: &str) -> Result<Vec<VariantFile>> {
        let entry = self.entry(id)?;
        if entry.hub_files().next().is_none() {
            let how = match entry.upstream.first() {
                Some(u) => format!(
                    "has no ready ONNX file on the Hub; its official weights ({}) need converting: python -m prism_export export {id} --download",
                    u.url
                ),
                None => format!(
                    "has no Hub source; it comes from the local export: python -m prism_export export {id}"
                ),
            };
            return Err(Error::NotOnHub {
                id: id.to_string(),
                how,
            });
        }
        let hub = self.hub()?;
        entry
            .hub_files()
            .map(|(v, f)| {
                Ok(VariantFile {
                    precision: v.precision.clone(),
                    file: hub.download(f, v.sha256.as_deref(), v.size)?,
                    unpinned_revision: (!f.is_pinned()).then(|| f.revision.clone()),
                })
            })
            .collect()
    }

    /// Where the export put `entry`'s FP32 file, if it did (size and hash not checked).
    pub fn exported_path(&self, entry: &ModelEntry) -> Option<PathBuf> {
        self.export_file(entry, false)
            .ok()
            .flatten()
            .map(|(p, _)| p)
    }

    /// The exported FP32 file of `entry` from the first manifest that lists it, with `verify`
    /// checked against the manifest's size and sha256 (the hash once per process and file version).
    fn export_file(
        &self,
        entry: &ModelEntry,
        verify: bool,
    ) -> Result<Option<(PathBuf, Option<String>)>> {
        let Some(file) = prism_core::models::find_exported(&entry.id)? else {
            return Ok(None);
        };
        let (path, manifest) = (file.path, file.manifest);
        if !verify {
            return Ok(Some((path, file.sha256)));
        }
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if let Some(size) = file.size_bytes
            && size != meta.len()
        {
            return Err(Error::ChecksumMismatch {
                what: format!(
                    "{} (size {} in {})",
                    path.display(),
                    size,
                    manifest.display()
                ),
                expected: file.sha256.clone().unwrap_or_default(),
                actual: format!("a file of {} bytes; re-export it", meta.len()),
            });
        }
        if let Some(want) = &file.sha256 {
            let stamp = (meta.len(), meta.modified().ok());
            let known = self.verified.lock().expect("not poisoned").get(&path) == Some(&stamp);
            if !known {
                let got = sha256_file(&path)?;
                if &got != want {
                    return Err(Error::ChecksumMismatch {
                        what: format!(
                            "{} (listed in {}; re-export it)",
                            path.display(),
                            manifest.display()
                        ),
                        expected: want.clone(),
                        actual: got,
                    });
                }
                self.verified
                    .lock()
                    .expect("not poisoned")
                    .insert(path.clone(), stamp);
            }
        }
        Ok(Some((path, file.sha256)))
    }
}

fn pick_hub_variant(entry: &ModelEntry, precision: Precision) -> Option<&Variant> {
    let want = if precision == Precision::Fp16 {
        "fp16"
    } else {
        "fp32"
    };
    entry
        .hub_files()
        .find(|(v, _)| v.precision == want)
        .or_else(|| entry.hub_files().next())
        .map(|(v, _)| v)
}

/// A model argument to a file: a path as is; else a registry id's local export, Hub cache file or
/// download; else an id only an export manifest knows. Uses the process-wide default manager.
pub fn resolve_model(arg: &str) -> Result<PathBuf> {
    Ok(default_manager()?.resolve(arg, Precision::Auto)?.path)
}

/// The process-wide manager with default options (environment-driven Hub settings).
pub fn default_manager() -> Result<&'static ModelManager> {
    static MANAGER: OnceLock<ModelManager> = OnceLock::new();
    if let Some(m) = MANAGER.get() {
        return Ok(m);
    }
    let m = ModelManager::new(ManagerOptions::default())?;
    Ok(MANAGER.get_or_init(|| m))
}
