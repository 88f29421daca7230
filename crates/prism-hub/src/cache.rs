//! The Hugging Face Hub cache layout, shared with the Python tools:
//! `<cache>/models--owner--name/{blobs/<etag>, refs/<revision>, snapshots/<commit>/<file>}`, where
//! the snapshot file links to its blob. Partial downloads live as `blobs/<etag>.incomplete` and are
//! never resolved as files; only complete, verified blobs are ever renamed into place.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bounded::{SMALL_FILE_LIMIT, read_file_string};
use crate::error::{Error, Result};
use crate::names;
use crate::registry::HubFile;

/// A Hub cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    pub root: PathBuf,
}

/// A file found in the cache, for `prism models cache ls`.
#[derive(Debug, Clone, Serialize)]
pub struct CachedFile {
    pub repo: String,
    pub commit: String,
    /// Branch/tag names pointing at `commit`.
    pub refs: Vec<String>,
    pub file: String,
    pub path: PathBuf,
    pub size: u64,
}

/// A partial download waiting to be resumed.
#[derive(Debug, Clone, Serialize)]
pub struct PartialFile {
    pub repo: String,
    pub path: PathBuf,
    pub size: u64,
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
    /// `~/.cache/huggingface/hub` (the Hub convention, as resolved by `hf-hub`).
    pub fn default_root() -> PathBuf {
        hf_hub::resolve_cache_dir()
    }

    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.root.join(names::repo_folder(repo))
    }

    pub fn blob_path(&self, repo: &str, etag: &str) -> PathBuf {
        debug_assert!(names::is_blob_etag(etag));
        self.repo_dir(repo).join("blobs").join(etag)
    }

    pub fn lock_path(&self, repo: &str, etag: &str) -> PathBuf {
        self.root
            .join(".locks")
            .join(names::repo_folder(repo))
            .join(format!("{etag}.lock"))
    }

    /// The commit a revision points to in this cache (a commit id points to itself).
    pub fn commit_of(&self, repo: &str, revision: &str) -> Option<String> {
        if names::is_commit(revision) {
            return Some(revision.to_string());
        }
        let path = self.repo_dir(repo).join("refs").join(revision);
        let text = read_file_string(&path, SMALL_FILE_LIMIT, "cache ref").ok()?;
        let commit = text.trim();
        names::is_commit(commit).then(|| commit.to_string())
    }

    /// The cached file for `hub` at its revision, if present and complete.
    pub fn lookup(&self, hub: &HubFile) -> Option<PathBuf> {
        let commit = self.commit_of(&hub.repo, &hub.revision)?;
        let path = self
            .repo_dir(&hub.repo)
            .join("snapshots")
            .join(commit)
            .join(&hub.file);
        // `is_file` follows the snapshot link: a dangling link (blob removed) is a miss.
        path.is_file().then_some(path)
    }

    /// Points `refs/<revision>` at `commit` and links `snapshots/<commit>/<file>` to the blob.
    /// All three names were validated by the caller; the ref is replaced atomically.
    pub fn finalize(&self, hub: &HubFile, commit: &str, etag: &str) -> Result<PathBuf> {
        let repo_dir = self.repo_dir(&hub.repo);
        if hub.revision != commit {
            let reference = repo_dir.join("refs").join(&hub.revision);
            write_atomic(&reference, commit.as_bytes())?;
        }
        let snapshot = repo_dir.join("snapshots").join(commit).join(&hub.file);
        let parent = snapshot.parent().expect("snapshot path has a parent");
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let blob = self.blob_path(&hub.repo, etag);
        if snapshot.is_file() && same_file(&snapshot, &blob) {
            return Ok(snapshot);
        }
        let tmp = parent.join(format!(".{etag}.link-{}", unique()));
        let _ = std::fs::remove_file(&tmp);
        link_or_copy(&blob, &tmp)?;
        std::fs::rename(&tmp, &snapshot).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(&snapshot, e)
        })?;
        Ok(snapshot)
    }

    /// Every complete file in the cache, by repository.
    pub fn list(&self) -> Result<(Vec<CachedFile>, Vec<PartialFile>)> {
        let mut files = Vec::new();
        let mut partials = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((files, partials)),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        let mut repos: Vec<_> = entries.flatten().collect();
        repos.sort_by_key(|e| e.file_name());
        for entry in repos {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(repo) = name
                .strip_prefix("models--")
                .and_then(|r| r.split_once("--"))
                .map(|(o, n)| format!("{o}/{n}"))
            else {
                continue;
            };
            let dir = entry.path();
            let refs = read_refs(&dir.join("refs"));
            if let Ok(snaps) = std::fs::read_dir(dir.join("snapshots")) {
                for snap in snaps.flatten() {
                    let commit = snap.file_name().to_string_lossy().to_string();
                    let mut stack = vec![snap.path()];
                    while let Some(d) = stack.pop() {
                        for f in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                            let p = f.path();
                            if p.is_dir() {
                                stack.push(p);
                            } else if let Ok(meta) = std::fs::metadata(&p) {
                                let file = p
                                    .strip_prefix(snap.path())
                                    .unwrap_or(&p)
                                    .to_string_lossy()
                                    .replace('\\', "/");
                                files.push(CachedFile {
                                    repo: repo.clone(),
                                    commit: commit.clone(),
                                    refs: refs
                                        .iter()
                                        .filter(|(_, c)| *c == commit)
                                        .map(|(r, _)| r.clone())
                                        .collect(),
                                    file,
                                    path: p,
                                    size: meta.len(),
                                });
                            }
                        }
                    }
                }
            }
            for blob in std::fs::read_dir(dir.join("blobs"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let p = blob.path();
                if p.extension().is_some_and(|e| e == "incomplete") {
                    partials.push(PartialFile {
                        repo: repo.clone(),
                        size: blob.metadata().map(|m| m.len()).unwrap_or(0),
                        path: p,
                    });
                }
            }
        }
        Ok((files, partials))
    }

    /// The model repositories in this cache (`owner/name` of each `models--owner--name` folder).
    pub fn repos(&self) -> Vec<String> {
        let mut repos: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let (owner, name) = name.strip_prefix("models--")?.split_once("--")?;
                Some(format!("{owner}/{name}"))
            })
            .collect();
        repos.sort();
        repos
    }

    /// Removes one repository's folder and its locks; returns the bytes freed.
    pub fn clear_repo(&self, repo: &str) -> Result<u64> {
        names::repo_id(repo)?;
        remove_all(&[
            self.repo_dir(repo),
            self.root.join(".locks").join(names::repo_folder(repo)),
        ])
    }

    /// Removes every model repository of the cache, other tools' included, and all locks; returns
    /// the bytes freed.
    pub fn clear_all(&self) -> Result<u64> {
        let targets: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with("models--") || n == ".locks"
                })
            })
            .collect();
        remove_all(&targets)
    }
}

fn remove_all(targets: &[PathBuf]) -> Result<u64> {
    let mut freed = 0;
    for dir in targets {
        if std::fs::symlink_metadata(dir).is_err() {
            continue;
        }
        freed = dir_size(dir).saturating_add(freed);
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(freed)
}

fn read_refs(dir: &Path) -> Vec<(String, String)> {
    let mut refs = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(text) = read_file_string(&p, SMALL_FILE_LIMIT, "cache ref") {
                let name = p
                    .strip_prefix(dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .to_string();
                refs.push((name, text.trim().to_string()));
            }
        }
    }
    refs
}

/// Bytes under `path`, counting each blob once (snapshot links are not followed).
pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| dir_size(&e.path()))
            .fold(0, u64::saturating_add)
    } else if meta.file_type().is_symlink() {
        0
    } else {
        meta.len()
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn link_or_copy(blob: &Path, link: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        // Relative, as the Hub layout expects: snapshots/<commit>/<file> -> ../../blobs/<etag>.
        let depth = link
            .parent()
            .and_then(|p| p.strip_prefix(blob.parent()?.parent()?).ok())
            .map(|rel| rel.components().count())
            .unwrap_or(2);
        let mut target = PathBuf::new();
        for _ in 0..depth {
            target.push("..");
        }
        target.push("blobs");
        target.push(blob.file_name().expect("blob has a name"));
        std::os::unix::fs::symlink(&target, link).map_err(|e| Error::io(link, e))
    }
    #[cfg(not(unix))]
    {
        std::fs::copy(blob, link)
            .map(|_| ())
            .map_err(|e| Error::io(link, e))
    }
}

/// Writes `bytes` to `path` through a temporary sibling and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().expect("path has a parent");
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        unique()
    ));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// A name part unique across processes and threads, for temporary files.
fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
