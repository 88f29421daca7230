//! The Hugging Face Hub client: verified, resumable, lock-protected downloads into the Hub cache,
//! offline mode, model metadata and search.
//!
//! Built on the `hf-hub` crate (endpoint, token and cache conventions; the byte stream with `Range`
//! requests, retries and Xet storage; the model API). Around it, Prism adds what `hf-hub` 1.0 does not
//! do: it validates every name a server sends before it becomes a path (`hf-hub` uses the ETag and
//! `X-Repo-Commit` as path components unchecked), resumes partial downloads (`hf-hub` restarts them),
//! checks the size and sha256 after download and deletes mismatches, and reads the file metadata from
//! the Hub's own (redirect) response, where the LFS ETag and commit live.

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cache::{Cache, hex, sha256_file};
use crate::error::{Error, Result};
use crate::names;
use crate::registry::HubFile;

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

/// A model repository found by [`Hub::search`].
#[derive(Debug, Clone, Serialize)]
pub struct RemoteModel {
    pub id: String,
    pub downloads: Option<u64>,
    pub likes: Option<u64>,
    pub pipeline_tag: Option<String>,
    pub tags: Vec<String>,
}

/// Hub metadata of one repository revision, for `prism models info`.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteInfo {
    pub id: String,
    pub sha: Option<String>,
    pub last_modified: Option<String>,
    pub downloads: Option<u64>,
    pub likes: Option<u64>,
    pub license: Option<String>,
    pub gated: bool,
    pub files: Vec<String>,
}

struct Meta {
    commit: String,
    etag: String,
    size: Option<u64>,
}

/// A Hub client bound to one endpoint, token and cache.
pub struct Hub {
    client: hf_hub::HFClient,
    http: reqwest::Client,
    endpoint: String,
    token: Option<String>,
    cache: Cache,
    offline: bool,
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

/// `HF_TOKEN`, else `HF_TOKEN_PATH`'s file, else `$HF_HOME/token`, unless
/// `HF_HUB_DISABLE_IMPLICIT_TOKEN` is set (the `hf-hub` / `huggingface_hub` order).
pub fn resolve_token() -> Option<String> {
    let set = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if set("HF_HUB_DISABLE_IMPLICIT_TOKEN").is_some() {
        return None;
    }
    if let Some(token) = set("HF_TOKEN") {
        return Some(token.trim().to_string());
    }
    let file = set("HF_TOKEN_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(token_file);
    std::fs::read_to_string(file)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Where `huggingface-cli login` stores the token.
pub fn token_file() -> PathBuf {
    hf_hub::hf_home().join("token")
}

/// Whether `HF_HUB_OFFLINE` asks for cache-only operation.
pub fn offline_from_env() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
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
    fn block_on<F: std::future::Future + Send>(&self, future: F) -> F::Output
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
        let mut url = url.to_string();
        let mut response = None;
        for _ in 0..5 {
            let mut req = self.http.head(&url);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.map_err(|e| Error::Network {
                url: url.clone(),
                reason: error_chain(&e),
            })?;
            let relative = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .filter(|l| l.starts_with('/') && !l.starts_with("//"))
                .map(str::to_string);
            match relative {
                Some(location) if resp.status().is_redirection() => {
                    url = format!("{}{location}", self.endpoint);
                }
                _ => {
                    response = Some(resp);
                    break;
                }
            }
        }
        let resp = response.ok_or_else(|| Error::Network {
            url: url.clone(),
            reason: "too many redirects".into(),
        })?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let status = resp.status().as_u16();
        let message = header("x-error-message");
        match status {
            200..=399 => {}
            401 | 403 => {
                return Err(Error::Unauthorized {
                    repo: url_repo(&self.endpoint, &url),
                    url,
                    status,
                    token_file: token_file(),
                });
            }
            404 => {
                let what = match header("x-error-code").as_deref() {
                    Some("RepoNotFound") => "no such repository (or it is private)".to_string(),
                    Some("RevisionNotFound") => "no such revision".to_string(),
                    Some("EntryNotFound") => "no such file at this revision".to_string(),
                    _ => message.unwrap_or_else(|| "404".into()),
                };
                return Err(Error::NotFound { url, what });
            }
            _ => {
                return Err(Error::Http {
                    url,
                    status,
                    detail: message.map(|m| format!(": {m}")).unwrap_or_default(),
                });
            }
        }
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
        let size = header("x-linked-size")
            .or_else(|| header("content-length"))
            .and_then(|s| s.parse().ok());
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
        let result: Result<u64> = self.block_on(async {
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
                        break;
                    }
                };
                written += chunk.len() as u64;
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
            Ok(written)
        });
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        let written = match result {
            Ok(w) => w,
            Err(e @ Error::HostileResponse { .. }) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if let Some(t) = total
            && written < t
        {
            return Err(Error::Truncated {
                url: url.to_string(),
                received: written,
                expected: t,
                partial,
            });
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
            tracing::warn!(url, sha256 = %actual, "no sha256 known for this file (not in the registry, not an LFS file); stored unverified");
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

    /// Hub metadata of a repository at a revision (`/api/models/{repo}/revision/{rev}`).
    pub fn info(&self, repo: &str, revision: Option<&str>) -> Result<RemoteInfo> {
        names::repo_id(repo)?;
        if self.offline {
            return Err(Error::Network {
                url: format!("{}/api/models/{repo}", self.endpoint),
                reason: "offline (HF_HUB_OFFLINE=1)".into(),
            });
        }
        let (owner, name) = hf_hub::split_id(repo);
        let handle = self.client.model(owner, name);
        let url = format!("{}/api/models/{repo}", self.endpoint);
        let info = self
            .block_on(async {
                handle
                    .info()
                    .maybe_revision(revision.map(str::to_string))
                    .send()
                    .await
            })
            .map_err(|e| map_hf_error(e, &url, &self.endpoint))?;
        let license = info
            .card_data
            .as_ref()
            .and_then(|c| c.get("license"))
            .and_then(|l| l.as_str())
            .map(str::to_string)
            .or_else(|| {
                info.tags
                    .iter()
                    .flatten()
                    .find_map(|t| t.strip_prefix("license:").map(str::to_string))
            });
        Ok(RemoteInfo {
            id: info.id,
            sha: info.sha,
            last_modified: info.last_modified,
            downloads: info.downloads,
            likes: info.likes,
            license,
            gated: info.gated.as_ref().is_some_and(|g| {
                !matches!(g, serde_json::Value::Bool(false) | serde_json::Value::Null)
            }),
            files: info
                .siblings
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.rfilename)
                .collect(),
        })
    }

    /// Searches model repositories (`/api/models?search=...&filter=...`), most downloaded first.
    pub fn search(
        &self,
        query: &str,
        filter: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RemoteModel>> {
        let url = format!("{}/api/models?search={query}", self.endpoint);
        if self.offline {
            return Err(Error::Network {
                url,
                reason: "offline (HF_HUB_OFFLINE=1)".into(),
            });
        }
        let found = self.block_on(async {
            let stream = self
                .client
                .list_models()
                .search(query.to_string())
                .maybe_filter(filter.map(str::to_string))
                .sort("downloads".to_string())
                .limit(limit)
                .send()?;
            futures::pin_mut!(stream);
            let mut out = Vec::new();
            while let Some(m) = stream.next().await {
                out.push(m?);
            }
            Ok::<_, hf_hub::HFError>(out)
        });
        let found = found.map_err(|e| map_hf_error(e, &url, &self.endpoint))?;
        Ok(found
            .into_iter()
            .map(|m| RemoteModel {
                id: m.id,
                downloads: m.downloads,
                likes: m.likes,
                pipeline_tag: m.pipeline_tag,
                tags: m.tags.unwrap_or_default(),
            })
            .collect())
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

fn url_repo(endpoint: &str, url: &str) -> String {
    url.strip_prefix(endpoint)
        .unwrap_or(url)
        .trim_start_matches('/')
        .trim_start_matches("api/models/")
        .split('/')
        .take(2)
        .collect::<Vec<_>>()
        .join("/")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

fn map_hf_error(e: hf_hub::HFError, url: &str, endpoint: &str) -> Error {
    use hf_hub::HFError as H;
    let url = url.to_string();
    match e {
        H::AuthRequired { context } | H::Forbidden { context } => Error::Unauthorized {
            status: context.status.as_u16(),
            repo: url_repo(endpoint, &url),
            url,
            token_file: token_file(),
        },
        H::RepoNotFound { .. } => Error::NotFound {
            url,
            what: "no such repository (or it is private)".into(),
        },
        H::RevisionNotFound { .. } => Error::NotFound {
            url,
            what: "no such revision".into(),
        },
        H::EntryNotFound { .. } => Error::NotFound {
            url,
            what: "no such file at this revision".into(),
        },
        H::Http { context } => Error::Http {
            url,
            status: context.status.as_u16(),
            detail: context
                .server_message
                .map(|m| format!(": {m}"))
                .unwrap_or_default(),
        },
        H::Request { source, .. } => Error::Network {
            url,
            reason: error_chain(&source),
        },
        other => Error::Client(format!("{url}: {other}")),
    }
}
