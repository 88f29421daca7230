//! The byte transfer of a Hub download: the `HEAD` that names commit, ETag and size, and the
//! resumable, hashed, size-checked stream into `blobs/<etag>.incomplete`.

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::{Hub, Meta};
use crate::api::{map_hf_error, status_error};
use crate::bounded::MAX_FILE_SIZE;
use crate::cache::hex;
use crate::error::{Error, Result};
use crate::names;
use crate::registry::HubFile;

impl Hub {
    /// `HEAD` on the resolve URL without following redirects to other hosts: the Hub's own response
    /// (often a 302 to a CDN) carries the commit, the LFS ETag and the size.
    pub(super) async fn head(&self, url: &str) -> Result<Meta> {
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
    pub(super) fn transfer(
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
