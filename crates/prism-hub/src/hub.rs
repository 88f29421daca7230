//! The Hugging Face Hub client: verified, resumable, lock-protected downloads into the Hub cache,
//! offline mode (model metadata and search: [`crate::api`]).
//!
//! Built on the `hf-hub` crate (endpoint, token and cache conventions; the byte stream with `Range`
//! requests, retries and Xet storage). Around it, Prism adds what `hf-hub` 1.0 does not
//! do: it validates every name a server sends before it becomes a path (`hf-hub` uses the ETag and
//! `X-Repo-Commit` as path components unchecked), resumes partial downloads (`hf-hub` restarts them),
//! refuses files with neither a known size nor a sha256, checks both after download and deletes
//! mismatches, and reads the file metadata from the Hub's own (redirect) response, where the LFS
//! ETag and commit live.

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::api::{map_hf_error, status_error};
use crate::bounded::MAX_FILE_SIZE;
use crate::cache::{Cache, hex, sha256_file};
use crate::error::{Error, Result};
use crate::names;
use crate::registry::HubFile;
pub use crate::settings::{offline_from_env, resolve_token, token_file};

/// How to reach the Hub; every `None` follows the Hub's environment conventions.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    /// `None`: `$HF_ENDPOINT`, else `https://huggingface.co`.
    pub endpoint: Option<String>,
    /// `None`: `$HF_TOKEN`, else the file `$HF_TOKEN_PATH`, else `$HF_HOME/token`.
    pub token: Option<String>,
    /// `None`: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    pub cache_dir: Option<PathBuf>,
    /// `None`: `$HF_HUB_OFFLINE` (1/true/yes/on).
    pub offline: Option<bool>,
    /// Draw a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
}

/// What [`Hub::download`] produced.
#[derive(Debug, Clone, Serialize)]
pub struct Downloaded {
    /// The snapshot path in the cache.
    pub path: PathBuf,
    pub commit: String,
    pub size: u64,
    /// The verified sha256, `None` when neither the registry nor the Hub gave one (non-LFS file).
    pub sha256: Option<String>,
    /// Served from the cache without transferring the file.
    pub cached: bool,
    /// Bytes reused from an earlier partial download.
    pub resumed_from: u64,
}

struct Meta {
    commit: String,
    etag: String,
    size: Option<u64>,
}

/// A Hub client bound to one endpoint, token and cache.
pub struct Hub {
    client: hf_hub::HFClient,
    pub(crate) http: reqwest::Client,
    pub(crate) endpoint: String,
    pub(crate) token: Option<String>,
    cache: Cache,
    pub(crate) offline: bool,
    progress: bool,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("endpoint", &self.endpoint)
            .field("token_set", &self.token.is_some())
            .field("cache", &self.cache.root)
            .field("offline", &self.offline)
            .finish()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        // Never blocks, and is safe even when dropped inside another async runtime.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Hub {
    pub fn new(options: &HubOptions) -> Result<Hub> {
        let endpoint = options
            .endpoint
            .clone()
            .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty()))
            .unwrap_or_else(|| "https://huggingface.co".to_string())
            .trim_end_matches('/')
            .to_string();
        let token = options.token.clone().or_else(resolve_token);
        let cache = Cache::new(
            options
                .cache_dir
                .clone()
                .unwrap_or_else(Cache::default_root),
        );
        let agent = format!("prism/{}", env!("CARGO_PKG_VERSION"));
        let mut builder = hf_hub::HFClient::builder()
            .endpoint(endpoint.clone())
            .cache_dir(cache.root.clone())
            .user_agent(agent.clone())
            .retry_max_attempts(2)
            .retry_base_delay(std::time::Duration::from_millis(200));
        if let Some(t) = &token {
            builder = builder.token(t.clone());
        }
        let client = builder.build().map_err(|e| Error::Client(e.to_string()))?;
        let http = reqwest::Client::builder()
            .user_agent(agent)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| Error::Client(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("prism-hub")
            .build()
            .map_err(|e| Error::Client(format!("cannot start the download runtime: {e}")))?;
        Ok(Hub {
            client,
            http,
            endpoint,
            token,
            cache,
            offline: options.offline.unwrap_or_else(offline_from_env),
            progress: options.progress,
            runtime: Some(runtime),
        })
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn offline(&self) -> bool {
        self.offline
    }

    /// Runs `future` on this client's runtime from a scoped thread, so callers inside another async
    /// runtime do not panic.
    pub(crate) fn block_on<F: std::future::Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        let rt = self.runtime.as_ref().expect("runtime lives until drop");
        std::thread::scope(|s| {
            s.spawn(|| rt.block_on(future))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    fn resolve_url(&self, hub: &HubFile, revision: &str) -> String {
        format!(
            "{}/{}/resolve/{}/{}",
            self.endpoint,
            hub.repo,
            revision.replace('/', "%2F"),
            hub.file
        )
    }

    /// The cached file for `hub`, without any network access.
    pub fn cached(&self, hub: &HubFile) -> Option<PathBuf> {
        self.cache.lookup(hub)
    }

    /// Downloads `hub` into the cache (or finds it there) and verifies it: against `sha256` when the
    /// registry knows it, else against the Hub's LFS ETag (which is the file's sha256). Offline, only
    /// the cache is consulted. Concurrent callers (threads or processes) share one transfer through a
    /// lock file; a failed transfer keeps `blobs/<etag>.incomplete` for the next call to resume, a
    /// checksum mismatch deletes it. Nothing but a complete, verified blob is ever linked.
    pub fn download(
        &self,
        hub: &HubFile,
        sha256: Option<&str>,
        size: Option<u64>,
    ) -> Result<Downloaded> {
        names::repo_id(&hub.repo)?;
        names::revision(&hub.revision)?;
        names::repo_file(&hub.file)?;
        if let Some(s) = sha256
            && !names::is_sha256(s)
        {
            return Err(Error::InvalidName {
                what: "sha256",
                value: s.to_string(),
                reason: "expected 64 lowercase hex digits",
            });
        }
        if self.offline {
            return self.lookup_cache(hub, sha256).and_then(|found| {
                found.ok_or_else(|| Error::OfflineMiss {
                    repo: hub.repo.clone(),
                    revision: hub.revision.clone(),
                    file: hub.file.clone(),
                    cache: self.cache.root.clone(),
                })
            });
        }
        let url = self.resolve_url(hub, &hub.revision);
        let meta = match self.block_on(self.head(&url)) {
            Ok(meta) => meta,
            // The Hub is unreachable or failing: a cached copy of this revision still serves.
            Err(e @ (Error::Network { .. } | Error::Http { .. })) => {
                return match self.lookup_cache(hub, sha256)? {
                    Some(found) => {
                        tracing::warn!(error = %e, "using the cached copy");
                        Ok(found)
                    }
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        if let Some(expected) = sha256
            && names::is_sha256(&meta.etag)
            && meta.etag != expected
        {
            return Err(Error::ChecksumMismatch {
                what: format!("{url} (sha256 announced by the Hub)"),
                expected: expected.to_string(),
                actual: meta.etag,
            });
        }
        if let (Some(want), Some(got)) = (size, meta.size)
            && want != got
        {
            return Err(Error::HostileResponse {
                url,
                header: "size",
                value: got.to_string(),
                reason: "differs from the registry's size for this file",
            });
        }
        let expected = sha256
            .map(str::to_string)
            .or_else(|| names::is_sha256(&meta.etag).then(|| meta.etag.clone()));
        // The registry's size, else the Hub's; a file with no size and no hash cannot be checked.
        let meta = Meta {
            size: size.or(meta.size),
            ..meta
        };
        if expected.is_none() && meta.size.is_none() {
            return Err(Error::Unverifiable { url });
        }
        let blob = self.cache.blob_path(&hub.repo, &meta.etag);
        let mut resumed_from = 0;
        let mut cached = true;
        if !blob.is_file() {
            let lock_path = self.cache.lock_path(&hub.repo, &meta.etag);
            let parent = lock_path.parent().expect("lock has a parent");
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            let lock = std::fs::File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
            lock.lock().map_err(|e| Error::io(&lock_path, e))?;
            // Another process may have finished it while this one waited for the lock.
            if !blob.is_file() {
                cached = false;
                resumed_from = self.transfer(hub, &meta, &url, &blob, expected.as_deref())?;
            }
            drop(lock);
        }
        let path = self.cache.finalize(hub, &meta.commit, &meta.etag)?;
        let size = std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .len();
        Ok(Downloaded {
            path,
            commit: meta.commit,
            size,
            sha256: expected,
            cached,
            resumed_from,
        })
    }

    /// A verified cache hit, or `None`. Blobs named by their sha256 were verified when they were
    /// stored; others are hashed now when a sha256 is expected, and a mismatch is an error.
    fn lookup_cache(&self, hub: &HubFile, sha256: Option<&str>) -> Result<Option<Downloaded>> {
        let Some(path) = self.cache.lookup(hub) else {
            return Ok(None);
        };
        let commit = self
            .cache
            .commit_of(&hub.repo, &hub.revision)
            .expect("lookup found it");
        let blob_name = path
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()));
        let verified = match (sha256, blob_name) {
            (Some(want), Some(name)) if name == want => Some(want.to_string()),
            (Some(want), _) => {
                let got = sha256_file(&path)?;
                if got != want {
                    return Err(Error::ChecksumMismatch {
                        what: format!("cached {}", path.display()),
                        expected: want.to_string(),
                        actual: got,
                    });
                }
                Some(got)
            }
            (None, Some(name)) if names::is_sha256(&name) => Some(name),
            (None, _) => None,
        };
        let size = std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .len();
        Ok(Some(Downloaded {
            path,
            commit,
            size,
            sha256: verified,
            cached: true,
            resumed_from: 0,
        }))
    }

    /// `HEAD` on the resolve URL without following redirects to other hosts: the Hub's own response
    /// (often a 302 to a CDN) carries the commit, the LFS ETag and the size.
    async fn head(&self, url: &str) -> Result<Meta> {
        let (resp, url) = self.send(reqwest::Method::HEAD, url).await?;
        if let Some(e) = status_error(&resp, &url, &self.endpoint) {
            return Err(e);
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let commit = header("x-repo-commit").unwrap_or_default();
        if !names::is_commit(&commit) {
            return Err(Error::HostileResponse {
                url,
                header: "X-Repo-Commit",
                value: commit,
                reason: "not a 40-hex commit id",
            });
        }
        let raw = header("x-linked-etag")
            .or_else(|| header("etag"))
            .unwrap_or_default();
        let etag = raw.trim_start_matches("W/").trim_matches('"').to_string();
        if !names::is_blob_etag(&etag) {
            return Err(Error::HostileResponse {
                url,
                header: "ETag",
                value: raw,
                reason: "not a 40- or 64-hex content hash, so it cannot name a cache file",
            });
        }
        let size = match header("x-linked-size").or_else(|| header("content-length")) {
            None => None,
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(n) if n <= MAX_FILE_SIZE => Some(n),
                _ => {
                    return Err(Error::HostileResponse {
                        url,
                        header: "size",
                        value: raw,
                        reason: "not a byte count up to the 64 GiB limit",
                    });
                }
            },
        };
        Ok(Meta { commit, etag, size })
    }

    /// Streams the file into `<blob>.incomplete` (resuming it), verifies it and renames it to `blob`.
    /// Returns the number of bytes that were resumed.
    fn transfer(
        &self,
        hub: &HubFile,
        meta: &Meta,
        url: &str,
        blob: &Path,
        expected: Option<&str>,
    ) -> Result<u64> {
        let partial = PathBuf::from(format!("{}.incomplete", blob.display()));
        let parent = blob.parent().expect("blob has a parent");
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&partial)
            .map_err(|e| Error::io(&partial, e))?;
        let mut have = file.metadata().map_err(|e| Error::io(&partial, e))?.len();
        let total = meta.size;
        if total.is_some_and(|t| have > t) || total.is_none() {
            have = 0;
        }
        let mut hasher = Sha256::new();
        if have > 0 {
            hash_prefix(&partial, have, &mut hasher)?;
        }
        file.set_len(have).map_err(|e| Error::io(&partial, e))?;
        file.seek(std::io::SeekFrom::End(0))
            .map_err(|e| Error::io(&partial, e))?;
        let resumed_from = have;
        let (owner, name) = hf_hub::split_id(&hub.repo);
        let repo = self.client.model(owner, name);
        let bar = self.progress_bar(&hub.file, total, have);
        let result: Result<(u64, Option<String>)> = self.block_on(async {
            let range = match total {
                Some(t) if have > 0 && have < t => Some(have..t),
                _ => None,
            };
            let (length, mut stream) = repo
                .download_file_stream()
                .filename(hub.file.clone())
                .revision(meta.commit.clone())
                .maybe_range(range.clone())
                .send()
                .await
                .map_err(|e| map_hf_error(e, url, &self.endpoint))?;
            let mut written = have;
            let mut interrupted = None;
            if range.is_some() && length == total && have > 0 {
                // The server ignored the range and sent the whole file: start over.
                tracing::debug!(url, "server ignored the range request; restarting");
                file.set_len(0).map_err(|e| Error::io(&partial, e))?;
                file.seek(std::io::SeekFrom::Start(0))
                    .map_err(|e| Error::io(&partial, e))?;
                hasher = Sha256::new();
                written = 0;
            }
            while let Some(chunk) = stream.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(error = %e, "transfer interrupted");
                        interrupted = Some(e.to_string());
                        break;
                    }
                };
                written = written.saturating_add(chunk.len() as u64);
                if total.is_some_and(|t| written > t) {
                    return Err(Error::HostileResponse {
                        url: url.to_string(),
                        header: "body",
                        value: format!("{written}+ bytes"),
                        reason: "longer than the announced size",
                    });
                }
                file.write_all(&chunk).map_err(|e| Error::io(&partial, e))?;
                hasher.update(&chunk);
                if let Some(b) = &bar {
                    b.set_position(written);
                }
            }
            file.flush().map_err(|e| Error::io(&partial, e))?;
            Ok((written, interrupted))
        });
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        let (written, interrupted) = match result {
            Ok(w) => w,
            Err(e @ Error::HostileResponse { .. }) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        // Only an interrupted transfer of known size is kept (resumable); anything else that is
        // not exactly the expected size is deleted.
        let failure = match (total, interrupted) {
            (Some(t), Some(_)) if written < t => {
                return Err(Error::Truncated {
                    url: url.to_string(),
                    received: written,
                    expected: t,
                    partial,
                });
            }
            (Some(t), _) if written != t => Some(Error::SizeMismatch {
                url: url.to_string(),
                expected: t,
                received: written,
            }),
            (None, Some(reason)) => Some(Error::Network {
                url: url.to_string(),
                reason: format!("transfer broke off after {written} bytes: {reason}"),
            }),
            _ => None,
        };
        if let Some(e) = failure {
            drop(file);
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        let actual = hex(&hasher.finalize());
        if let Some(want) = expected
            && actual != want
        {
            drop(file);
            let _ = std::fs::remove_file(&partial);
            return Err(Error::ChecksumMismatch {
                what: url.to_string(),
                expected: want.to_string(),
                actual,
            });
        }
        if expected.is_none() {
            tracing::warn!(url, sha256 = %actual, "no sha256 known for this file (not in the registry, not an LFS file); only its size was checked");
        }
        file.sync_all().map_err(|e| Error::io(&partial, e))?;
        drop(file);
        std::fs::rename(&partial, blob).map_err(|e| Error::io(blob, e))?;
        Ok(resumed_from)
    }

    fn progress_bar(
        &self,
        file: &str,
        total: Option<u64>,
        have: u64,
    ) -> Option<indicatif::ProgressBar> {
        use std::io::IsTerminal;
        if !self.progress || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(file.to_string());
        bar.set_position(have);
        Some(bar)
    }
}

fn hash_prefix(path: &Path, len: u64, hasher: &mut Sha256) -> Result<()> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = file.take(len);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
    }
}
