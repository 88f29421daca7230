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

use std::path::PathBuf;

use serde::Serialize;

use crate::cache::{Cache, sha256_file};
use crate::error::{Error, Result};
use crate::names;
use crate::registry::HubFile;

mod transfer;
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
}
