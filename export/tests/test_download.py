"""``python -m prism_export export ID --download`` against a loopback HTTP server.

The server holds a real small weight file: realesr-animevideov3-x4's real weights (converted from the
ncnn release) saved in the official ``.pth`` layout (``{"params": state_dict}``). A test registry
names it with its sha256 and size; ``PRISM_WEIGHTS_MIRROR`` points the download at the server.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import threading
from functools import partial
from pathlib import Path

import pytest
import torch

from prism_export import download
from prism_export.__main__ import main

FILE = "realesr-animevideov3.pth"
URL = f"https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.5.0/{FILE}"


class Server:
    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        log = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                log.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_registry(path: Path, model_id: str, files: list[tuple[str, str, int, str | None]]) -> None:
    lines = [f'[[model]]\nid = "{model_id}"\ntask = "upscale"\narchitecture = "SRVGGNetCompact"\n'
             f'license = "BSD-3-Clause"\nweights = {{ kind = "real", source = "test" }}\n']
    for url, sha, size, role in files:
        lines.append(f'[[model.upstream]]\nurl = "{url}"\nsha256 = "{sha}"\nsize = {size}\n'
                     + (f'role = "{role}"\n' if role else ""))
    lines.append(f'[[model.variant]]\nprecision = "fp32"\nexport = "{model_id}/{model_id}.fp32.onnx"\n')
    path.write_text("".join(lines))


@pytest.fixture
def served(tmp_path, monkeypatch, weight_wheel):
    """A served real .pth, a registry naming it, and empty caches; yields (server, pth, registry)."""
    from prism_export import sr

    root = tmp_path / "served"
    root.mkdir()
    model, _ = sr.build_srvgg_ncnn("realesr-animevideov3-x4", None)
    pth = root / FILE
    torch.save({"params": model.state_dict()}, pth)
    server = Server(root)
    registry = tmp_path / "registry.toml"
    monkeypatch.setenv("PRISM_REGISTRY", str(registry))
    monkeypatch.setenv("PRISM_WEIGHTS_MIRROR", server.url)
    monkeypatch.setenv("PRISM_EXPORT_CACHE", str(tmp_path / "cache"))
    yield server, pth, registry
    server.close()


def test_download_is_verified_cached_and_exported_with(served, tmp_path):
    server, pth, registry = served
    write_registry(registry, "realesr-animevideov3-x4", [(URL, sha256(pth), pth.stat().st_size, None)])
    got = Path(download.weights_argument("realesr-animevideov3-x4"))
    assert got == download.cache_dir() / FILE
    assert sha256(got) == sha256(pth)
    assert server.requests == [f"/{FILE}"]
    download.weights_argument("realesr-animevideov3-x4")
    assert len(server.requests) == 1, "a verified cached file is not downloaded again"

    out = tmp_path / "out"
    assert main(["export", "realesr-animevideov3-x4", "--download", "--out", str(out), "--threads", "1"]) == 0
    entry = next(e for e in json.loads((out / "manifest.json").read_text())
                 if e["id"] == "realesr-animevideov3-x4")
    assert entry["weights"]["kind"] == "real"
    assert entry["weights"]["source"] == f"file:{FILE} sha256={sha256(pth)}"
    assert (out / "realesr-animevideov3-x4" / "realesr-animevideov3-x4.fp32.onnx").is_file()


def test_wrong_hash_or_size_is_refused_and_deleted(served, tmp_path, capsys):
    server, pth, registry = served
    size = pth.stat().st_size
    write_registry(registry, "realesr-animevideov3-x4", [(URL, "0" * 64, size, None)])
    with pytest.raises(download.DownloadError, match="sha256 .* the registry says 0{64}; the file was deleted"):
        download.weights_argument("realesr-animevideov3-x4")
    assert list(download.cache_dir().iterdir()) == [], "nothing is kept after a mismatch"
    assert main(["export", "realesr-animevideov3-x4", "--download", "--out", str(tmp_path / "o")]) == 1
    assert "the registry says 0000" in capsys.readouterr().err
    assert not (tmp_path / "o" / "manifest.json").exists()

    write_registry(registry, "realesr-animevideov3-x4", [(URL, sha256(pth), size + 1, None)])
    with pytest.raises(download.DownloadError, match=f"size {size} bytes, the registry says {size + 1}"):
        download.weights_argument("realesr-animevideov3-x4")
    assert list(download.cache_dir().iterdir()) == []


def test_corrupted_cache_is_fetched_again(served):
    server, pth, registry = served
    write_registry(registry, "realesr-animevideov3-x4", [(URL, sha256(pth), pth.stat().st_size, None)])
    cached = download.cache_dir() / FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x" * pth.stat().st_size)  # right size, wrong bytes
    assert Path(download.weights_argument("realesr-animevideov3-x4", log=lambda _m: None)) == cached
    assert sha256(cached) == sha256(pth) and server.requests == [f"/{FILE}"]


def test_denoise_blend_gets_main_then_wdn_and_unlisted_models_fail(served):
    server, _, registry = served
    root = Path(server.httpd.RequestHandlerClass.keywords["directory"])
    for name, data in (("main.pth", b"main"), ("wdn.pth", b"wdn!")):
        (root / name).write_bytes(data)
    h = {n: hashlib.sha256(d).hexdigest() for n, d in (("main.pth", b"main"), ("wdn.pth", b"wdn!"))}
    write_registry(registry, "realesr-general-x4v3", [
        ("https://example.org/v/wdn.pth", h["wdn.pth"], 4, "wdn"),
        ("https://example.org/v/main.pth", h["main.pth"], 4, None),
    ])
    arg = download.weights_argument("realesr-general-x4v3", log=lambda _m: None)
    assert [Path(p).name for p in arg.split(",")] == ["main.pth", "wdn.pth"]
    with pytest.raises(download.DownloadError, match="not in"):
        download.weights_argument("esrgan-x4")
