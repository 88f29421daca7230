//! A loopback server that speaks the Hub protocol the client uses (`HEAD`/`GET
//! /{repo}/resolve/{revision}/{file}` with ETag, X-Repo-Commit, redirects to a CDN path and Range
//! requests; `/api/models/{repo}` and `/api/models?search=`), shared by the Hub tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Clone, Default)]
pub struct Served {
    pub body: Vec<u8>,
    /// `None`: the body's sha256 (an LFS file).
    pub etag: Option<String>,
    pub commit: Option<String>,
    pub status: Option<u16>,
    /// Close the connection after this many body bytes, on the first GET only.
    pub truncate_first_get: Option<usize>,
    pub redirect: bool,
    pub token: Option<String>,
    pub extra: Vec<(String, String)>,
    /// Announce no size: no Content-Length/X-Linked-Size on HEAD, a close-delimited GET body.
    pub hide_size: bool,
}

#[derive(Default)]
pub struct State {
    pub files: HashMap<String, Served>,
    /// Raw answers for API paths (`/api/models/...`), served before the built-in ones.
    pub api: HashMap<String, Served>,
    pub log: Vec<String>,
    pub truncated: bool,
}

pub struct Server {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

pub fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || handle(stream, &state));
            }
        });
        Server { url, state }
    }

    pub fn serve(&self, path: &str, served: Served) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(path.to_string(), served);
    }

    /// Answers `GET path` (an `/api/...` path, query ignored) with `served.body` as JSON.
    pub fn serve_api(&self, path: &str, served: Served) {
        self.state
            .lock()
            .unwrap()
            .api
            .insert(path.to_string(), served);
    }

    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

pub fn etag_of(s: &Served) -> String {
    s.etag.clone().unwrap_or_else(|| sha(&s.body))
}

pub fn handle(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let range = headers.get("range").cloned();
    state.lock().unwrap().log.push(format!(
        "{method} {target}{}",
        range
            .as_ref()
            .map(|r| format!(" range={r}"))
            .unwrap_or_default()
    ));
    let mut out = stream;
    let reply =
        |out: &mut TcpStream,
         status: u16,
         hdrs: &[(String, String)],
         body: &[u8],
         send_body: bool| { reply_raw(out, status, hdrs, body, send_body, true) };
    let path = target.split('?').next().unwrap_or("").to_string();
    let api = state.lock().unwrap().api.get(&path).cloned();
    if let Some(served) = api {
        return reply_raw(
            &mut out,
            200,
            &[("Content-Type".into(), "application/json".into())],
            &served.body,
            true,
            !served.hide_size,
        );
    }
    if path == "/api/models" {
        let body = serde_json::json!([
            {"id": "qualcomm/Real-ESRGAN-x4plus", "downloads": 1000, "likes": 10, "pipeline_tag": "image-to-image", "tags": ["onnx"]},
            {"id": "someone/esrgan-onnx", "downloads": 5, "likes": 0, "tags": ["onnx"]}
        ]);
        assert!(target.contains("search=esrgan"), "{target}");
        return reply(
            &mut out,
            200,
            &[("Content-Type".into(), "application/json".into())],
            body.to_string().as_bytes(),
            true,
        );
    }
    if let Some(repo) = path.strip_prefix("/api/models/") {
        let repo = repo.split("/revision/").next().unwrap().to_string();
        let files: Vec<_> = state
            .lock()
            .unwrap()
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&format!("{repo}/")).map(str::to_string))
            .collect();
        if files.is_empty() {
            return reply(
                &mut out,
                404,
                &[("X-Error-Code".into(), "RepoNotFound".into())],
                b"{\"error\":\"Repository not found\"}",
                true,
            );
        }
        let body = serde_json::json!({
            "id": repo, "sha": COMMIT, "downloads": 42, "likes": 3, "tags": ["onnx", "license:bsd-3-clause"],
            "siblings": files.iter().map(|f| serde_json::json!({"rfilename": f})).collect::<Vec<_>>()
        });
        return reply(
            &mut out,
            200,
            &[("Content-Type".into(), "application/json".into())],
            body.to_string().as_bytes(),
            true,
        );
    }
    // The CDN: content addressed by etag, supports ranges.
    let (served, is_cdn) = if let Some(etag) = path.strip_prefix("/cdn/") {
        let s = state.lock().unwrap();
        let found = s.files.values().find(|f| etag_of(f) == etag).cloned();
        (found, true)
    } else if let Some((repo, rest)) = path.trim_start_matches('/').split_once("/resolve/") {
        let mut segs = rest.splitn(2, '/');
        let _rev = segs.next();
        let file = segs.next().unwrap_or("");
        let repo = repo.to_string();
        (
            state
                .lock()
                .unwrap()
                .files
                .get(&format!("{repo}/{file}"))
                .cloned(),
            false,
        )
    } else {
        (None, false)
    };
    let Some(served) = served else {
        return reply(
            &mut out,
            404,
            &[("X-Error-Code".into(), "EntryNotFound".into())],
            b"not found",
            true,
        );
    };
    if let Some(token) = &served.token
        && headers.get("authorization") != Some(&format!("Bearer {token}"))
        && !is_cdn
    {
        return reply(
            &mut out,
            401,
            &[("X-Error-Message".into(), "Invalid credentials".into())],
            b"unauthorized",
            true,
        );
    }
    if let Some(status) = served.status {
        return reply(
            &mut out,
            status,
            &[("X-Error-Message".into(), "boom".into())],
            b"error",
            true,
        );
    }
    let etag = etag_of(&served);
    let commit = served.commit.clone().unwrap_or_else(|| COMMIT.to_string());
    let mut hdrs: Vec<(String, String)> = vec![
        ("X-Repo-Commit".into(), commit.clone()),
        ("Accept-Ranges".into(), "bytes".into()),
    ];
    hdrs.extend(served.extra.iter().cloned());
    if served.redirect && !is_cdn {
        hdrs.push(("X-Linked-Etag".into(), format!("\"{etag}\"")));
        if !served.hide_size {
            hdrs.push(("X-Linked-Size".into(), served.body.len().to_string()));
        }
        hdrs.push(("Location".into(), format!("/cdn/{etag}")));
        return reply(&mut out, 302, &hdrs, b"", true);
    }
    hdrs.push(("ETag".into(), format!("\"{etag}\"")));
    let body = &served.body;
    let (status, slice) = match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        Some(r) if method == "GET" => {
            let (a, b) = r.split_once('-').unwrap();
            let a: usize = a.parse().unwrap();
            let b: usize = if b.is_empty() {
                body.len() - 1
            } else {
                b.parse().unwrap()
            };
            hdrs.push((
                "Content-Range".into(),
                format!("bytes {a}-{b}/{}", body.len()),
            ));
            (206, &body[a..=b])
        }
        _ => (200, &body[..]),
    };
    if method == "HEAD" {
        if !served.hide_size {
            hdrs.push(("Content-Length".into(), slice.len().to_string()));
        }
        return reply_raw(&mut out, status, &hdrs, b"", false, false);
    }
    let cut = {
        let mut s = state.lock().unwrap();
        match served.truncate_first_get {
            Some(n) if !s.truncated => {
                s.truncated = true;
                Some(n)
            }
            _ => None,
        }
    };
    match cut {
        Some(n) => {
            if !served.hide_size {
                hdrs.push(("Content-Length".into(), slice.len().to_string()));
            }
            let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
            for (k, v) in &hdrs {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = out.write_all(head.as_bytes());
            let _ = out.write_all(&slice[..n]);
            let _ = out.flush();
            let _ = out.shutdown(std::net::Shutdown::Both);
        }
        None => reply_raw(&mut out, status, &hdrs, slice, true, !served.hide_size),
    }
    let _ = reader.read(&mut [0u8; 0]);
}

/// Writes one answer; without `with_length` and a Content-Length header the body ends at close.
fn reply_raw(
    out: &mut TcpStream,
    status: u16,
    hdrs: &[(String, String)],
    body: &[u8],
    send_body: bool,
    with_length: bool,
) {
    let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (k, v) in hdrs {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if with_length
        && !hdrs
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    if send_body {
        let _ = out.write_all(body);
        if !with_length {
            // The body ends where the connection does.
            let _ = out.shutdown(std::net::Shutdown::Write);
        }
    }
}

/// Every plain file and link under `dir`, relative, sorted (locks excluded).
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
                if !rel.contains(".locks") {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    out
}
