"""Official weight files for ``python -m prism_export export ID --download``.

Where each file lives (url, sha256, size) is written once, in ``models/registry.toml``
(``[[model.upstream]]``); this module reads it from there, downloads the file into
``$PRISM_EXPORT_CACHE/weights/upstream`` (default ``export/.cache/weights/upstream``), verifies size
and sha256 before anything uses it (a mismatch deletes the file and fails), and returns the
``--weights`` argument the model's builder takes.

``PRISM_REGISTRY`` names another registry file (as for the Rust side). ``PRISM_WEIGHTS_MIRROR``
replaces every url's scheme, host and folder: ``$PRISM_WEIGHTS_MIRROR/<file name>`` (a local mirror;
the tests point it at a loopback server).
"""
from __future__ import annotations

import os
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

from .weights import _sha256

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REGISTRY = REPO_ROOT / "models" / "registry.toml"


class DownloadError(RuntimeError):
    """A weight file could not be fetched or failed its check."""


def cache_dir() -> Path:
    """``$PRISM_EXPORT_CACHE/weights/upstream`` (default ``export/.cache/weights/upstream``)."""
    env = os.environ.get("PRISM_EXPORT_CACHE")
    return (Path(env) if env else REPO_ROOT / "export" / ".cache") / "weights" / "upstream"


def registry_path() -> Path:
    env = os.environ.get("PRISM_REGISTRY")
    return Path(env) if env else DEFAULT_REGISTRY


def load_registry(path: Path | None = None) -> dict[str, dict]:
    """Registry entries by id."""
    path = path or registry_path()
    with open(path, "rb") as f:
        models = tomllib.load(f).get("model", [])
    return {m["id"]: m for m in models}


def upstream_files(model_id: str, registry: dict[str, dict] | None = None) -> list[dict]:
    """The model's ``[[model.upstream]]`` files, main first; a clear error when there are none."""
    registry = registry if registry is not None else load_registry()
    entry = registry.get(model_id)
    if entry is None:
        raise DownloadError(f"{model_id}: not in {registry_path()}")
    files = entry.get("upstream", [])
    if not files:
        raise DownloadError(f"{model_id}: {registry_path()} lists no official weight file for it "
                            f"(weights: {entry.get('weights', {}).get('source', '?')})")
    return sorted(files, key=lambda u: u.get("role", "main") != "main")


def url_of(upstream: dict) -> str:
    mirror = os.environ.get("PRISM_WEIGHTS_MIRROR", "").rstrip("/")
    name = upstream["url"].rsplit("/", 1)[-1]
    return f"{mirror}/{name}" if mirror else upstream["url"]


def _check(path: Path, upstream: dict, what: str) -> None:
    """Size and sha256 as the registry states them; a mismatch deletes ``path``."""
    size, want = upstream.get("size"), upstream.get("sha256")
    got_size = path.stat().st_size
    problem = None
    if size is not None and got_size != size:
        problem = f"size {got_size} bytes, the registry says {size}"
    elif want is not None:
        got = _sha256(path)
        if got != want:
            problem = f"sha256 {got}, the registry says {want}"
    if problem:
        path.unlink(missing_ok=True)
        raise DownloadError(f"{what}: {problem}; the file was deleted")


def fetch(upstream: dict, folder: Path | None = None, log=print) -> Path:
    """The verified local copy of one upstream file, downloading it once."""
    folder = folder or cache_dir()
    name = upstream["url"].rsplit("/", 1)[-1]
    if not name or "/" in name or name in (".", ".."):
        raise DownloadError(f"bad file name in url {upstream['url']!r}")
    dest = folder / name
    if dest.is_file():
        try:
            _check(dest, upstream, f"cached {dest}")
            return dest
        except DownloadError as e:
            log(f"  {e}; downloading it again")
    if upstream.get("sha256") is None:
        if upstream.get("size") is None:
            raise DownloadError(f"{name}: the registry gives neither a sha256 nor a size; refusing an unverifiable file")
        log(f"  warning: no sha256 known for {name}; it is checked by size only")
    url = url_of(upstream)
    folder.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    log(f"  downloading {url} -> {dest}")
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "prism-export"})
        with urllib.request.urlopen(req, timeout=60) as resp, open(part, "wb") as out:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
    except (urllib.error.URLError, OSError) as e:
        part.unlink(missing_ok=True)
        raise DownloadError(f"cannot download {url}: {e}") from e
    _check(part, upstream, f"downloaded {url}")
    os.replace(part, dest)
    return dest


def weights_argument(model_id: str, log=print) -> str:
    """What ``--weights`` would be for ``model_id``: its verified file(s), comma-joined, main first."""
    return ",".join(str(fetch(u, log=log)) for u in upstream_files(model_id))
