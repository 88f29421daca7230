//! The Hub client against an in-process loopback server that speaks the Hub protocol the client uses
//! (`HEAD`/`GET /{repo}/resolve/{revision}/{file}` with ETag, X-Repo-Commit, redirects to a CDN path
//! and Range requests; `/api/models/{repo}` and `/api/models?search=`), and against a pre-populated
//! cache. Every failure must leave nothing half-written in the cache.

#[path = "common/hub_server.rs"]
mod hub_server;

use std::path::{Path, PathBuf};

use hub_server::{COMMIT, Served, Server, sha, tree};
use prism_hub::{Error, Hub, HubFile, HubOptions};

fn hub(server: &Server, cache: &Path, token: Option<&str>, offline: bool) -> Hub {
    Hub::new(&HubOptions {
        endpoint: Some(server.url.clone()),
        token: Some(token.unwrap_or("").to_string()).filter(|t| !t.is_empty()),
        cache_dir: Some(cache.to_path_buf()),
        offline: Some(offline),
        progress: false,
    })
    .unwrap()
}

fn file(repo: &str, revision: &str, name: &str) -> HubFile {
    HubFile {
        repo: repo.into(),
        revision: revision.into(),
        file: name.into(),
    }
}

fn body(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn download_via_redirect_is_verified_cached_and_served_offline() {
    let server = Server::start();
    let data = body(300_000, 1);
    server.serve(
        "acme/sr/model.onnx",
        Served {
            body: data.clone(),
            redirect: true,
            ..Default::default()
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let h = hub(&server, cache.path(), None, false);
    let f = file("acme/sr", "main", "model.onnx");
    let got = h.download(&f, None, None).unwrap();
    assert!(!got.cached);
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    assert_eq!(got.sha256.as_deref(), Some(sha(&data).as_str()));
    assert_eq!(got.commit, COMMIT);
    let etag = sha(&data);
    assert_eq!(
        tree(cache.path()),
        vec![
            format!("models--acme--sr/blobs/{etag}"),
            "models--acme--sr/refs/main".to_string(),
            format!("models--acme--sr/snapshots/{COMMIT}/model.onnx"),
        ]
    );
    assert!(
        server
            .log()
            .iter()
            .any(|l| l.starts_with(&format!("GET /cdn/{etag}")))
    );
    // Second call: the cache serves, no transfer.
    let gets = server.log().iter().filter(|l| l.starts_with("GET")).count();
    let again = h
        .download(&f, Some(&etag), Some(data.len() as u64))
        .unwrap();
    assert!(again.cached);
    assert_eq!(
        server.log().iter().filter(|l| l.starts_with("GET")).count(),
        gets
    );
    // Offline hit: no request at all.
    let requests = server.log().len();
    let off = hub(&server, cache.path(), None, true);
    let hit = off.download(&f, Some(&etag), None).unwrap();
    assert_eq!(hit.path, got.path);
    assert_eq!(server.log().len(), requests);
}

#[test]
fn offline_miss_is_a_clear_error_and_writes_nothing() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let off = hub(&server, cache.path(), None, true);
    let e = off
        .download(&file("acme/sr", "main", "model.onnx"), None, None)
        .unwrap_err();
    assert!(matches!(e, Error::OfflineMiss { .. }), "{e}");
    assert!(e.to_string().contains("HF_HUB_OFFLINE"), "{e}");
    assert!(tree(cache.path()).is_empty());
    assert!(server.log().is_empty());
}

#[test]
fn prepopulated_cache_is_used_offline_and_checked_against_the_registry_hash() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let data = body(1000, 7);
    let etag = sha(&data);
    let repo = cache.path().join("models--acme--sr");
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(repo.join(format!("snapshots/{COMMIT}/onnx"))).unwrap();
    std::fs::write(repo.join("blobs").join(&etag), &data).unwrap();
    std::fs::write(repo.join("refs/main"), COMMIT).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../blobs/{etag}"),
        repo.join(format!("snapshots/{COMMIT}/onnx/model.onnx")),
    )
    .unwrap();
    let off = hub(&server, cache.path(), None, true);
    let f = file("acme/sr", "main", "onnx/model.onnx");
    let hit = off.download(&f, Some(&etag), None).unwrap();
    assert_eq!(std::fs::read(&hit.path).unwrap(), data);
    assert_eq!(hit.sha256.as_deref(), Some(etag.as_str()));
    // Pinned by commit works too.
    off.download(&file("acme/sr", COMMIT, "onnx/model.onnx"), None, None)
        .unwrap();
    let wrong = "f".repeat(64);
    let e = off.download(&f, Some(&wrong), None).unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    let ls = prism_hub::Cache::new(cache.path()).list().unwrap().0;
    assert_eq!(ls.len(), 1);
    assert_eq!(ls[0].file, "onnx/model.onnx");
    assert_eq!(ls[0].size, 1000);
    assert_eq!(ls[0].refs, vec!["main".to_string()]);
}

#[test]
fn unauthorized_then_authorized() {
    let server = Server::start();
    let data = body(5000, 3);
    server.serve(
        "acme/private/m.onnx",
        Served {
            body: data.clone(),
            token: Some("hf_good".into()),
            ..Default::default()
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let f = file("acme/private", "main", "m.onnx");
    for token in [None, Some("hf_bad")] {
        let e = hub(&server, cache.path(), token, false)
            .download(&f, None, None)
            .unwrap_err();
        assert!(matches!(e, Error::Unauthorized { status: 401, .. }), "{e}");
        assert!(e.to_string().contains("HF_TOKEN"), "{e}");
        assert!(tree(cache.path()).is_empty());
    }
    let got = hub(&server, cache.path(), Some("hf_good"), false)
        .download(&f, None, None)
        .unwrap();
    assert_eq!(std::fs::read(got.path).unwrap(), data);
}

#[test]
fn not_found_and_server_error_leave_nothing() {
    let server = Server::start();
    server.serve(
        "acme/sr/broken.onnx",
        Served {
            body: body(10, 0),
            status: Some(500),
            ..Default::default()
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let h = hub(&server, cache.path(), None, false);
    let e = h
        .download(&file("acme/sr", "main", "missing.onnx"), None, None)
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("no such file"), "{e}");
    let e = h
        .download(&file("acme/sr", "main", "broken.onnx"), None, None)
        .unwrap_err();
    assert!(matches!(e, Error::Http { status: 500, .. }), "{e}");
    assert!(tree(cache.path()).is_empty());
}

#[test]
fn truncated_download_keeps_only_a_partial_and_resumes_with_a_range() {
    let server = Server::start();
    let data = body(200_000, 9);
    let etag = sha(&data);
    server.serve(
        "acme/sr/big.onnx",
        Served {
            body: data.clone(),
            truncate_first_get: Some(70_000),
            ..Default::default()
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let h = hub(&server, cache.path(), None, false);
    let f = file("acme/sr", "main", "big.onnx");
    let e = h.download(&f, None, None).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Truncated {
                received: 70_000,
                expected: 200_000,
                ..
            }
        ),
        "{e}"
    );
    // Nothing usable was written: no blob, no ref, no snapshot, only the resumable partial.
    assert_eq!(
        tree(cache.path()),
        vec![format!("models--acme--sr/blobs/{etag}.incomplete")]
    );
    assert!(h.cached(&f).is_none());
    let got = h.download(&f, None, None).unwrap();
    assert_eq!(got.resumed_from, 70_000);
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    assert!(
        server
            .log()
            .iter()
            .any(|l| l.contains("range=bytes=70000-199999")),
        "{:?}",
        server.log()
    );
    assert!(
        !tree(cache.path())
            .iter()
            .any(|p| p.ends_with(".incomplete"))
    );
}

#[test]
fn checksum_mismatch_deletes_the_download() {
    let server = Server::start();
    let data = body(4096, 5);
    // A non-LFS file: the ETag is a git sha1, so only the registry hash can catch the mismatch.
    server.serve(
        "acme/sr/m.onnx",
        Served {
            body: data.clone(),
            etag: Some("a".repeat(40)),
            ..Default::default()
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let h = hub(&server, cache.path(), None, false);
    let wrong = sha(b"something else");
    let e = h
        .download(&file("acme/sr", "main", "m.onnx"), Some(&wrong), None)
        .unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    assert!(e.to_string().contains("deleted"), "{e}");
    assert!(tree(cache.path()).is_empty(), "{:?}", tree(cache.path()));
    // An LFS file whose announced sha256 differs from the registry is refused before any transfer.
    server.serve(
        "acme/sr/lfs.onnx",
        Served {
            body: data,
            ..Default::default()
        },
    );
    let e = h
        .download(&file("acme/sr", "main", "lfs.onnx"), Some(&wrong), None)
        .unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    assert!(
        !server
            .log()
            .iter()
            .any(|l| l.starts_with("GET /acme/sr/resolve/main/lfs.onnx"))
    );
    assert!(tree(cache.path()).is_empty());
}

#[test]
fn hostile_names_from_the_server_never_become_paths() {
    let server = Server::start();
    let outside = tempfile::tempdir().unwrap();
    let cache_parent = tempfile::tempdir().unwrap();
    let cache = cache_parent.path().join("hub");
    std::fs::create_dir_all(&cache).unwrap();
    let evil = format!("../../../../{}/evil", outside.path().display());
    server.serve(
        "acme/sr/a.onnx",
        Served {
            body: body(100, 1),
            etag: Some(evil.clone()),
            ..Default::default()
        },
    );
    server.serve(
        "acme/sr/b.onnx",
        Served {
            body: body(100, 2),
            commit: Some("../../../escape".into()),
            ..Default::default()
        },
    );
    let h = hub(&server, &cache, None, false);
    for (name, header) in [("a.onnx", "ETag"), ("b.onnx", "X-Repo-Commit")] {
        let e = h
            .download(&file("acme/sr", "main", name), None, None)
            .unwrap_err();
        assert!(
            matches!(e, Error::HostileResponse { header: h, .. } if h == header),
            "{e}"
        );
    }
    assert!(tree(&cache).is_empty());
    assert!(tree(outside.path()).is_empty());
    assert_eq!(tree(cache_parent.path()), Vec::<String>::new());
    // A download that suggests its own file name is stored under the requested name only.
    let data = body(100, 3);
    server.serve(
        "acme/sr/c.onnx",
        Served {
            body: data.clone(),
            extra: vec![(
                "Content-Disposition".into(),
                "attachment; filename=\"../../evil.onnx\"".into(),
            )],
            ..Default::default()
        },
    );
    let got = h
        .download(&file("acme/sr", "main", "c.onnx"), None, None)
        .unwrap();
    assert!(got.path.starts_with(&cache) && got.path.ends_with("c.onnx"));
    assert_eq!(tree(cache_parent.path()).len(), 3);
    // Names from the caller are validated before any request.
    let e = h
        .download(&file("acme/sr", "main", "../x.onnx"), None, None)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidName { .. }), "{e}");
}

#[test]
fn concurrent_downloads_share_one_transfer() {
    let server = Server::start();
    let data = body(500_000, 4);
    server.serve(
        "acme/sr/m.onnx",
        Served {
            body: data.clone(),
            ..Default::default()
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    hub(&server, cache.path(), None, false)
                        .download(&file("acme/sr", "main", "m.onnx"), None, None)
                        .unwrap()
                        .path
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for p in &paths {
        assert_eq!(std::fs::read(p).unwrap(), data);
    }
    let gets = server
        .log()
        .iter()
        .filter(|l| l.starts_with("GET /acme/sr/resolve"))
        .count();
    assert_eq!(gets, 1, "{:?}", server.log());
    assert_eq!(tree(cache.path()).len(), 3);
}

#[test]
fn model_api_info_and_search() {
    let server = Server::start();
    server.serve(
        "acme/sr/m.onnx",
        Served {
            body: body(10, 0),
            ..Default::default()
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let h = hub(&server, cache.path(), None, false);
    let info = h.info("acme/sr", Some("main")).unwrap();
    assert_eq!(info.sha.as_deref(), Some(COMMIT));
    assert_eq!(info.files, vec!["m.onnx".to_string()]);
    assert_eq!(info.license.as_deref(), Some("bsd-3-clause"));
    let e = h.info("acme/none", None).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    let found = h.search("esrgan", Some("onnx"), 10).unwrap();
    assert_eq!(found[0].id, "qualcomm/Real-ESRGAN-x4plus");
    assert!(
        server
            .log()
            .iter()
            .any(|l| l.contains("/api/models?") && l.contains("filter=onnx"))
    );
}

#[test]
fn download_without_size_or_hash_is_refused_and_leaves_nothing() {
    let server = Server::start();
    let data = body(50_000, 6);
    // A non-LFS file (git ETag) whose size the server does not announce: nothing to check it with.
    server.serve(
        "acme/sr/plain.onnx",
        Served {
            body: data.clone(),
            etag: Some("c".repeat(40)),
            hide_size: true,
            ..Default::default()
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let h = hub(&server, cache.path(), None, false);
    let f = file("acme/sr", "main", "plain.onnx");
    let e = h.download(&f, None, None).unwrap_err();
    assert!(matches!(e, Error::Unverifiable { .. }), "{e}");
    assert!(
        e.to_string().contains("neither a known size nor a sha256"),
        "{e}"
    );
    assert!(tree(cache.path()).is_empty(), "{:?}", tree(cache.path()));
    assert!(!server.log().iter().any(|l| l.starts_with("GET")));
    // The registry's size is enough to check it.
    let got = h.download(&f, None, Some(data.len() as u64)).unwrap();
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
}

#[test]
fn truncated_body_of_known_size_leaves_nothing() {
    let server = Server::start();
    let data = body(80_000, 8);
    // The server announces no size and ends the body early (a complete, close-delimited answer);
    // only the registry knows the size.
    server.serve(
        "acme/sr/cut.onnx",
        Served {
            body: data.clone(),
            etag: Some("d".repeat(40)),
            hide_size: true,
            truncate_first_get: Some(30_000),
            ..Default::default()
        },
    );
    let cache = tempfile::tempdir().unwrap();
    let h = hub(&server, cache.path(), None, false);
    let f = file("acme/sr", "main", "cut.onnx");
    let e = h.download(&f, None, Some(data.len() as u64)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::SizeMismatch {
                expected: 80_000,
                received: 30_000,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("deleted"), "{e}");
    assert!(tree(cache.path()).is_empty(), "{:?}", tree(cache.path()));
    assert!(h.cached(&f).is_none());
    // The registry's size disagrees with the whole body: refused the same way.
    let e = h
        .download(&f, None, Some(data.len() as u64 + 1))
        .unwrap_err();
    assert!(matches!(e, Error::SizeMismatch { .. }), "{e}");
    assert!(tree(cache.path()).is_empty(), "{:?}", tree(cache.path()));
}

#[test]
fn oversize_or_malformed_hub_json_is_refused() {
    let server = Server::start();
    let limit = prism_hub::bounded::API_JSON_LIMIT as usize;
    // Valid JSON, one byte over the limit.
    let head = r#"{"id":"acme/huge","sha":"0123456789abcdef0123456789abcdef01234567","pad":""#;
    let mut huge = head.as_bytes().to_vec();
    huge.resize(limit - 1, b'x');
    huge.extend_from_slice(b"\"}");
    assert_eq!(huge.len(), limit + 1);
    serde_json::from_slice::<serde_json::Value>(&huge).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let h = hub(&server, cache.path(), None, false);
    for hide_size in [false, true] {
        server.serve_api(
            "/api/models/acme/huge",
            Served {
                body: huge.clone(),
                hide_size,
                ..Default::default()
            },
        );
        let e = h.info("acme/huge", None).unwrap_err();
        assert!(
            matches!(e, Error::TooLarge { limit: l, .. } if l == limit as u64),
            "{e}"
        );
        let text = e.to_string();
        assert!(
            text.contains("/api/models/acme/huge") && text.contains(&limit.to_string()),
            "{text}"
        );
    }
    // The same body at the limit is read.
    server.serve_api(
        "/api/models/acme/huge",
        Served {
            body: huge[..head.len()].iter().chain(b"\"}").copied().collect(),
            ..Default::default()
        },
    );
    assert_eq!(h.info("acme/huge", None).unwrap().id, "acme/huge");
    // A search answer over the limit, and answers that are not the expected JSON.
    let mut list = b"[".to_vec();
    list.resize(limit + 10, b' ');
    list.push(b']');
    server.serve_api(
        "/api/models",
        Served {
            body: list,
            hide_size: true,
            ..Default::default()
        },
    );
    let e = h.search("esrgan", None, 5).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    for bad in [
        &b"{\"id\": 3}"[..],
        b"[{\"id\":\"../x\"}]",
        b"\xff\xfe",
        b"{\"id\":\"a/b\",\"downloads\":-1}",
    ] {
        server.serve_api(
            "/api/models/acme/bad",
            Served {
                body: bad.to_vec(),
                ..Default::default()
            },
        );
        let e = h.info("acme/bad", None).unwrap_err();
        assert!(matches!(e, Error::BadResponse { .. }), "{e}");
    }
    let e = h.search("esrgan", None, 0).unwrap_err();
    assert!(matches!(e, Error::Usage(_)), "{e}");
}
