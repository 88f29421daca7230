"""Shared fixtures: the `prism` command to compare against, and small real test pictures.

Run from the repository root (export manifests are found from the current folder):
    PRISM_CLI=target/debug/prism export/.venv/bin/python -m pytest crates/prism-python/tests
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[3]
# One thread on CPU on both sides: the comparisons are exact, and the CI machine is small.
SESSION = {"device": "cpu", "threads": 1}
CLI_SESSION = ["--device", "cpu", "--threads", "1"]


@pytest.fixture(scope="session")
def cli() -> Path:
    path = Path(os.environ.get("PRISM_CLI", ROOT / "target" / "debug" / "prism"))
    if not path.is_file():
        pytest.fail(f"{path}: no prism executable (cargo build -p prism-cli, or set PRISM_CLI)")
    return path


def run_cli(cli: Path, *args: object) -> subprocess.CompletedProcess:
    """Runs `prism ARGS` in the repository root; returns the finished process."""
    return subprocess.run(
        [str(cli), "-q", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def cli_error(done: subprocess.CompletedProcess) -> str:
    """The message of the CLI's `error: ...` line."""
    lines = [l for l in done.stderr.splitlines() if l.startswith("error: ")]
    assert lines, f"no error line in: {done.stderr!r}"
    return lines[-1][len("error: "):]


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def photo(height: int, width: int, dy: int = 0, dx: int = 0) -> np.ndarray:
    """A crop of scikit-image's astronaut photo (real picture, RGB uint8), shifted by dy, dx."""
    from skimage import data

    y, x = 60 + dy, 190 + dx
    return np.ascontiguousarray(data.astronaut()[y : y + height, x : x + width])


def save(array: np.ndarray, path: Path) -> Path:
    Image.fromarray(array).save(path)
    return path
