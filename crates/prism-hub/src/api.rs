//! The Hub's JSON API (`/api/models/{repo}[/revision/{rev}]`, `/api/models?search=`): requests
//! without cross-host redirects, answers read with a size cap ([`API_JSON_LIMIT`]) and parsed into
//! checked values, and the mapping of HTTP statuses to errors shared with downloads.

use serde::{Deserialize, Serialize};

use crate::bounded::{API_JSON_LIMIT, read_body};
use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::names;
use crate::settings::token_file;

/// Most results one search may ask for.
pub const SEARCH_LIMIT_MAX: usize = 1000;

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInfo {
    id: String,
    sha: Option<String>,
    last_modified: Option<String>,
    downloads: Option<u64>,
    likes: Option<u64>,
    card_data: Option<serde_json::Value>,
    tags: Option<Vec<String>>,
    gated: Option<serde_json::Value>,
    siblings: Option<Vec<Sibling>>,
}

#[derive(Deserialize)]
struct Sibling {
    rfilename: String,
}

#[derive(Deserialize)]
struct RawModel {
    id: String,
    downloads: Option<u64>,
    likes: Option<u64>,
    pipeline_tag: Option<String>,
    tags: Option<Vec<String>>,
}

fn bad(url: &str, reason: impl std::fmt::Display) -> Error {
    Error::BadResponse {
        url: url.to_string(),
        reason: reason.to_string(),
    }
}

/// Parses a model info answer (`/api/models/{repo}`); `url` names it in errors.
pub fn parse_model_info(bytes: &[u8], url: &str) -> Result<RemoteInfo> {
    let info: RawInfo = serde_json::from_slice(bytes).map_err(|e| bad(url, e))?;
    names::repo_id(&info.id).map_err(|e| bad(url, e))?;
    if let Some(sha) = &info.sha
        && !names::is_commit(sha)
    {
        return Err(bad(url, format!("`sha` {sha:?} is not a 40-hex commit id")));
    }
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

/// Parses a search answer (`/api/models?search=`), keeping at most `limit` models.
pub fn parse_search(bytes: &[u8], url: &str, limit: usize) -> Result<Vec<RemoteModel>> {
    let found: Vec<RawModel> = serde_json::from_slice(bytes).map_err(|e| bad(url, e))?;
    found
        .into_iter()
        .take(limit)
        .map(|m| {
            names::repo_id(&m.id).map_err(|e| bad(url, e))?;
            Ok(RemoteModel {
                id: m.id,
                downloads: m.downloads,
                likes: m.likes,
                pipeline_tag: m.pipeline_tag,
                tags: m.tags.unwrap_or_default(),
            })
        })
        .collect()
}

/// The error for an unsuccessful HTTP status (`None` for 2xx/3xx).
pub(crate) fn status_error(
    response: &reqwest::Response,
    url: &str,
    endpoint: &str,
) -> Option<Error> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let url = url.to_string();
    let status = response.status().as_u16();
    let message = header("x-error-message");
    match status {
        200..=399 => None,
        401 | 403 => Some(Error::Unauthorized {
            repo: url_repo(endpoint, &url),
            url,
            status,
            token_file: token_file(),
        }),
        404 => {
            let what = match header("x-error-code").as_deref() {
                Some("RepoNotFound") => "no such repository (or it is private)".to_string(),
                Some("RevisionNotFound") => "no such revision".to_string(),
                Some("EntryNotFound") => "no such file at this revision".to_string(),
                _ => message.unwrap_or_else(|| "404".into()),
            };
            Some(Error::NotFound { url, what })
        }
        _ => Some(Error::Http {
            url,
            status,
            detail: message.map(|m| format!(": {m}")).unwrap_or_default(),
        }),
    }
}

/// The `owner/name` part of a Hub URL, for error messages.
pub(crate) fn url_repo(endpoint: &str, url: &str) -> String {
    url.strip_prefix(endpoint)
        .unwrap_or(url)
        .trim_start_matches('/')
        .trim_start_matches("api/models/")
        .split('/')
        .take(2)
        .collect::<Vec<_>>()
        .join("/")
}

impl Hub {
    /// Sends `method` to `url` with the token, following only redirects to paths on the endpoint
    /// (at most 5); returns the final answer and its URL.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<(reqwest::Response, String)> {
        let mut url = url.to_string();
        for _ in 0..5 {
            let mut req = self.http.request(method.clone(), &url);
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
                _ => return Ok((resp, url)),
            }
        }
        Err(Error::Network {
            url,
            reason: "too many redirects".into(),
        })
    }

    /// `GET url`, checked and read with the JSON size cap.
    fn get_json(&self, url: &str) -> Result<Vec<u8>> {
        if self.offline {
            return Err(Error::Network {
                url: url.to_string(),
                reason: "offline (HF_HUB_OFFLINE=1)".into(),
            });
        }
        self.block_on(async {
            let (resp, url) = self.send(reqwest::Method::GET, url).await?;
            if let Some(e) = status_error(&resp, &url, &self.endpoint) {
                return Err(e);
            }
            read_body(resp, API_JSON_LIMIT, &url, "Hub API answer").await
        })
    }

    /// Hub metadata of a repository at a revision (`/api/models/{repo}/revision/{rev}`).
    pub fn info(&self, repo: &str, revision: Option<&str>) -> Result<RemoteInfo> {
        names::repo_id(repo)?;
        let mut url = format!("{}/api/models/{repo}", self.endpoint);
        if let Some(rev) = revision {
            names::revision(rev)?;
            url = format!("{url}/revision/{}", rev.replace('/', "%2F"));
        }
        let bytes = self.get_json(&url)?;
        parse_model_info(&bytes, &url)
    }

    /// Searches model repositories (`/api/models?search=...&filter=...`), most downloaded first;
    /// `limit` must be 1 to [`SEARCH_LIMIT_MAX`].
    pub fn search(
        &self,
        query: &str,
        filter: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RemoteModel>> {
        if !(1..=SEARCH_LIMIT_MAX).contains(&limit) {
            return Err(Error::Usage(format!(
                "search limit {limit} must be 1 to {SEARCH_LIMIT_MAX}"
            )));
        }
        let base = format!("{}/api/models", self.endpoint);
        let mut url =
            reqwest::Url::parse(&base).map_err(|e| Error::Client(format!("{base}: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("search", query);
            if let Some(f) = filter {
                q.append_pair("filter", f);
            }
            q.append_pair("sort", "downloads");
            q.append_pair("limit", &limit.to_string());
        }
        let url = url.to_string();
        let bytes = self.get_json(&url)?;
        parse_search(&bytes, &url, limit)
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

pub(crate) fn map_hf_error(e: hf_hub::HFError, url: &str, endpoint: &str) -> Error {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape the Hub answers with (both `id` and `modelId`, `gated` as a string, extra fields).
    #[test]
    fn parses_real_hub_answers() {
        let info = br#"{"_id":"64f","id":"qualcomm/Real-ESRGAN-x4plus","modelId":"qualcomm/Real-ESRGAN-x4plus",
            "author":"qualcomm","sha":"0123456789abcdef0123456789abcdef01234567","lastModified":"2024-05-01T00:00:00.000Z",
            "private":false,"disabled":false,"gated":"auto","downloads":1234,"likes":5,"library_name":"pytorch",
            "tags":["onnx","license:other"],"cardData":{"license":"other","tags":["android"]},
            "siblings":[{"rfilename":"README.md"},{"rfilename":"Real-ESRGAN-x4plus.onnx"}],"spaces":[],"createdAt":"2024-02-01T00:00:00.000Z"}"#;
        let i = parse_model_info(info, "u").unwrap();
        assert_eq!(i.id, "qualcomm/Real-ESRGAN-x4plus");
        assert!(i.gated);
        assert_eq!(i.license.as_deref(), Some("other"));
        assert_eq!(i.files.len(), 2);
        let search = br#"[{"_id":"1","id":"a/b","modelId":"a/b","likes":1,"downloads":9,"private":false,
            "pipeline_tag":"image-to-image","tags":["onnx"],"library_name":"onnx","createdAt":"2024-01-01T00:00:00.000Z"},
            {"_id":"2","id":"c/d","modelId":"c/d","likes":0,"downloads":1,"tags":[]}]"#;
        let found = parse_search(search, "u", 10).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].pipeline_tag.as_deref(), Some("image-to-image"));
        assert_eq!(parse_search(search, "u", 1).unwrap().len(), 1);
    }
}
