"""Which libonnxruntime Prism loads: the `onnxruntime` wheel's, when one is installed.

Order: an `ort_lib=` argument; `ORT_DYLIB_PATH`; the `onnxruntime` (or `onnxruntime-gpu`) wheel
found on the import path, if it is 1.31 or newer; then Prism's own search (beside the
executable, `VIRTUAL_ENV`, a provisioned `.prism/runtime`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import warnings
from pathlib import Path
from typing import Optional

REQUIRED = (1, 31)
# libonnxruntime.so.1.31.1 (Linux), libonnxruntime.1.31.1.dylib (macOS), onnxruntime.dll.
_LIBRARY = re.compile(r"^(libonnxruntime(\.[0-9.]+)?\.(so|dylib)(\.[0-9.]+)?|onnxruntime\.dll)$")


def _version(text: str) -> tuple:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def wheel_library() -> Optional[Path]:
    """The `onnxruntime` wheel's library, without importing the package; None if absent or old."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    capi = Path(list(spec.submodule_search_locations)[0]) / "capi"
    if not capi.is_dir():
        return None
    found = sorted(p for p in capi.iterdir() if p.is_file() and _LIBRARY.match(p.name))
    if not found:
        return None
    version = None
    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            version = importlib.metadata.version(dist)
            break
        except importlib.metadata.PackageNotFoundError:
            continue
    if version is not None and _version(version) < REQUIRED:
        warnings.warn(
            f"the installed onnxruntime {version} is older than {REQUIRED[0]}.{REQUIRED[1]}, "
            "which Prism needs; using Prism's own search for ONNX Runtime instead",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return found[0]


def default_library() -> Optional[Path]:
    """The library the package hands to Prism when a call gives no `ort_lib`."""
    if os.environ.get("ORT_DYLIB_PATH"):
        return None  # Prism's search reads it first.
    return wheel_library()
