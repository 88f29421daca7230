//! The registry's downloadable models end to end, against the loopback Hub server: every entry says
//! where its weights come from, the ONNX Model Zoo fast-style files are fetched through the model
//! manager under their real repository and path and verified against the registry's sha256, and a
//! file that does not match the registry's hash is refused and leaves nothing in the cache.

mod common;
#[path = "common/hub_server.rs"]
mod hub_server;

use std::path::Path;

use hub_server::{Served, Server, sha, tree};
use prism_core::Precision;
use prism_hub::{Error, ManagerOptions, ModelManager, Registry, Source};

fn builtin() -> Registry {
    Registry::parse(
        prism_hub::registry::BUILTIN,
        Path::new("models/registry.toml"),
    )
    .unwrap()
}

fn manager(registry: Registry, server: &Server, cache: &Path) -> ModelManager {
    let mut options = ManagerOptions::default();
    options.hub.endpoint = Some(server.url.clone());
    options.hub.token = None;
    options.hub.cache_dir = Some(cache.to_path_buf());
    options.hub.offline = Some(false);
    options.hub.progress = false;
    ModelManager::with_registry(registry, options)
}

fn only(mut registry: Registry, id: &str) -> Registry {
    registry.models.retain(|m| m.id == id);
    assert_eq!(registry.models.len(), 1, "{id} missing");
    registry
}

/// Files under `dir`, locks excluded.
#[test]
fn every_model_says_where_its_weights_come_from() {
    let r = builtin();
    for m in &r.models {
        assert!(
            prism_hub::registry::WEIGHT_KINDS.contains(&m.weights.kind.as_str()),
            "{}",
            m.id
        );
        assert!(!m.weights.source.is_empty(), "{}", m.id);
        if !m.exported() {
            assert!(m.weights.is_real(), "{}: a downloaded file is real", m.id);
        }
    }
    // The seeded SR networks can be made real from their official files.
    for id in ["realesrgan-x2plus", "realesr-general-x4v3"] {
        let m = r.get(id).unwrap();
        assert!(
            m.upstream
                .iter()
                .all(|u| u.sha256.is_some() && u.size.is_some()),
            "{id}"
        );
        assert!(!m.upstream.is_empty(), "{id}");
    }
    let roles: Vec<_> = r
        .get("realesr-general-x4v3")
        .unwrap()
        .upstream
        .iter()
        .map(|u| u.role.as_deref())
        .collect();
    assert_eq!(roles, vec![None, Some("wdn")]);
}

#[test]
fn zoo_style_files_carry_their_io_contract_and_hashes() {
    let r = builtin();
    let zoo: Vec<_> = r
        .models
        .iter()
        .filter(|m| m.architecture == "transformernet-onnx-zoo")
        .collect();
    let ids: Vec<&str> = zoo.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "style-mosaic-zoo",
            "style-candy-zoo",
            "style-rain-princess-zoo",
            "style-udnie-zoo",
            "style-pointilism-zoo"
        ]
    );
    for m in zoo {
        assert_eq!(
            (m.task.as_str(), m.weights.kind.as_str()),
            ("style", "real")
        );
        assert_eq!(m.io.inputs, ["input1"]);
        assert_eq!(m.io.outputs, ["output1"]);
        assert_eq!(m.io.value_range.as_deref(), Some("0..255"));
        let v = m.variant("fp32").unwrap();
        let hub = v.hub.as_ref().unwrap();
        let name = m.id.trim_start_matches("style-").trim_end_matches("-zoo");
        assert_eq!(hub.repo, "onnxmodelzoo/legacy_models");
        assert_eq!(
            hub.file,
            format!("validated/vision/style_transfer/fast_neural_style/model/{name}-9.onnx")
        );
        assert_eq!(v.size, Some(6_728_029));
        assert!(v.sha256.is_some());
    }
}

#[test]
fn zoo_file_downloads_verified_and_a_wrong_hash_is_refused() {
    let server = Server::start();
    let data = std::fs::read(common::fixture("tiny_conv.fp32.onnx")).unwrap();
    let real = only(builtin(), "style-mosaic-zoo");
    let hub = real.models[0].variants[0].hub.clone().unwrap();
    let path = format!("{}/{}", hub.repo, hub.file);
    server.serve(
        &path,
        Served {
            body: data.clone(),
            redirect: true,
            ..Default::default()
        },
    );
    // The registry entry as it is, with the served file's hash and size.
    let mut known = real.clone();
    known.models[0].variants[0].sha256 = Some(sha(&data));
    known.models[0].variants[0].size = Some(data.len() as u64);
    let cache = tempfile::tempdir().unwrap();
    let m = manager(known.clone(), &server, cache.path());
    let got = m.resolve("style-mosaic-zoo", Precision::Fp32).unwrap();
    assert_eq!(got.source, Source::Download);
    assert_eq!(got.sha256.as_deref(), Some(sha(&data).as_str()));
    assert!(
        got.path.ends_with("mosaic-9.onnx"),
        "{}",
        got.path.display()
    );
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    let again = m.resolve("style-mosaic-zoo", Precision::Fp32).unwrap();
    assert_eq!(again.source, Source::Cache);

    // The registry's real hash is not these bytes: the Hub announces another sha256, so nothing is
    // transferred.
    let cache = tempfile::tempdir().unwrap();
    let e = manager(real, &server, cache.path())
        .resolve("style-mosaic-zoo", Precision::Fp32)
        .unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    assert!(tree(cache.path()).is_empty(), "{:?}", tree(cache.path()));

    // A server that announces no sha256 (a git ETag): the bytes are hashed and deleted on mismatch.
    server.serve(
        &path,
        Served {
            body: data.clone(),
            etag: Some("b".repeat(40)),
            ..Default::default()
        },
    );
    let mut wrong = known;
    wrong.models[0].variants[0].sha256 = Some(sha(b"another file"));
    let cache = tempfile::tempdir().unwrap();
    let e = manager(wrong, &server, cache.path())
        .resolve("style-mosaic-zoo", Precision::Fp32)
        .unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    assert!(e.to_string().contains("deleted"), "{e}");
    assert!(tree(cache.path()).is_empty(), "{:?}", tree(cache.path()));
}

/// `prism models list|info|download` and `prism info` say where weights come from, and
/// `prism models download ID` fetches a zoo file from a Hub-protocol server and verifies it.
#[test]
fn cli_shows_provenance_and_downloads_a_verified_zoo_file() {
    let server = Server::start();
    let data = std::fs::read(common::fixture("tiny_conv.fp32.onnx")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let real = only(builtin(), "style-mosaic-zoo");
    let hub = real.models[0].variants[0].hub.clone().unwrap();
    server.serve(
        &format!("{}/{}", hub.repo, hub.file),
        Served {
            body: data.clone(),
            redirect: true,
            ..Default::default()
        },
    );
    // The builtin registry text with mosaic's hash and size replaced by the served file's.
    let text = prism_hub::registry::BUILTIN
        .replace(
            real.models[0].variants[0].sha256.as_deref().unwrap(),
            &sha(&data),
        )
        .replace("size = 6728029\n", &format!("size = {}\n", data.len()));
    let registry = dir.path().join("registry.toml");
    std::fs::write(&registry, text).unwrap();
    let run = |args: &[&str], registry: &Path| {
        let out = common::prism()
            .args(args)
            .env("PRISM_REGISTRY", registry)
            .env("HF_ENDPOINT", &server.url)
            .env("HF_HUB_CACHE", dir.path().join("hub"))
            .env_remove("HF_HUB_OFFLINE")
            .env_remove("HF_TOKEN")
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };

    let (code, list, err) = run(&["models", "list", "--json"], &registry);
    assert_eq!(code, Some(0), "{err}");
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let kind = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap()["weights"]["kind"]
            .clone()
    };
    assert_eq!(kind("realesrgan-x2plus"), "seeded-random");
    assert_eq!(kind("style-mosaic-zoo"), "real");

    let (code, info, err) = run(&["models", "info", "realesrgan-x2plus"], &registry);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        info.contains("weights: seeded-random (torch.Generator"),
        "{info}"
    );
    assert!(info.contains("official weights: https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.1/RealESRGAN_x2plus.pth"), "{info}");
    assert!(
        info.contains("export realesrgan-x2plus --download"),
        "{info}"
    );
    let (code, _, err) = run(&["models", "download", "realesrgan-x2plus"], &registry);
    assert_ne!(code, Some(0));
    assert!(err.contains("--download"), "{err}");

    let (code, out, err) = run(&["models", "download", "style-mosaic-zoo"], &registry);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!("sha256 {}", sha(&data))) && out.contains("mosaic-9.onnx"),
        "{out}"
    );
    let (code, out, err) = run(&["info", "style-mosaic-zoo", "--no-session"], &registry);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("weights     real (ONNX Model Zoo mosaic-9.onnx"),
        "{out}"
    );

    // The real registry's hash does not match the served bytes: refused, and nothing is cached.
    std::fs::remove_dir_all(dir.path().join("hub")).unwrap();
    let builtin_file = dir.path().join("builtin.toml");
    std::fs::write(&builtin_file, prism_hub::registry::BUILTIN).unwrap();
    let (code, _, err) = run(&["models", "download", "style-mosaic-zoo"], &builtin_file);
    assert_ne!(code, Some(0));
    assert!(err.contains("sha256") || err.contains("checksum"), "{err}");
    assert!(tree(&dir.path().join("hub")).is_empty());
}

/// `prism models cache clear` removes only what the registry names from a shared Hub cache; `--all`
/// takes everything, and only with `--yes` when it cannot ask.
#[test]
fn cache_clear_keeps_other_tools_models_unless_all() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hub");
    let ours = builtin().get("style-mosaic-zoo").unwrap().variants[0]
        .hub
        .clone()
        .unwrap()
        .repo;
    let ours = cache.join(format!("models--{}", ours.replace('/', "--")));
    let foreign = cache.join("models--other--repo");
    for d in [&ours, &foreign] {
        std::fs::create_dir_all(d.join("blobs")).unwrap();
        std::fs::write(d.join("blobs").join("a".repeat(64)), b"weights").unwrap();
    }
    let run = |args: &[&str]| {
        let out = common::prism()
            .args(args)
            .env("HF_HUB_CACHE", &cache)
            .env("HF_HUB_OFFLINE", "1")
            .env_remove("PRISM_REGISTRY")
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, out, err) = run(&["models", "cache", "clear"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!ours.exists(), "{out}");
    assert!(foreign.join("blobs").read_dir().unwrap().next().is_some());
    assert!(out.contains("kept 1 repositories"), "{out}");

    // `--all` cannot ask without a terminal: refused with exit 2, nothing removed.
    let (code, _, err) = run(&["models", "cache", "clear", "--all"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--yes"), "{err}");
    assert!(foreign.exists());
    let (code, _, err) = run(&["models", "cache", "clear", "--yes"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(foreign.exists());

    let (code, out, err) = run(&["models", "cache", "clear", "--all", "--yes"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!foreign.exists(), "{out}");
    assert!(tree(&cache).is_empty(), "{:?}", tree(&cache));

    let (code, _, err) = run(&["models", "search", "--limit", "0"]);
    assert_eq!(code, Some(2), "{err}");
}
