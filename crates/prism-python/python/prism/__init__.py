"""Prism: super-resolution, frame interpolation and style transfer on ONNX Runtime, without PyTorch.

    import numpy as np, prism
    big = prism.Upscaler("realesrgan-x4plus").upscale(np.asarray(image))

Arrays are HxW or HxWxC (C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) of uint8, uint16 or float32
(0..1); results keep the input's dtype and channels. Options, defaults and error messages are the
`prism` command's; errors are `PrismError` subclasses with the CLI's `exit_code`.
"""

import json as _json
from typing import Any as _Any
from typing import Dict as _Dict
from typing import List as _List
from typing import Optional as _Optional

from . import _prism, _runtime
from ._prism import (
    SESSION_OPTIONS,
    Cancelled,
    FastStyle,
    InputError,
    Interpolator,
    ModelError,
    PrismError,
    ProviderUnavailableError,
    RuntimeLibraryError,
    Upscaler,
    UsageError,
    __version__,
    neural_style,
    read_image,
    resolve_model,
    write_image,
)

__all__ = [
    "SESSION_OPTIONS",
    "Cancelled",
    "FastStyle",
    "InputError",
    "Interpolator",
    "ModelError",
    "PrismError",
    "ProviderUnavailableError",
    "RuntimeLibraryError",
    "Upscaler",
    "UsageError",
    "__version__",
    "download_model",
    "list_models",
    "neural_style",
    "read_image",
    "resolve_model",
    "runtime_info",
    "set_runtime_library",
    "write_image",
]


def set_runtime_library(path: _Optional[str]) -> None:
    """Use this libonnxruntime when a call gives no `ort_lib` (None: Prism's own search).

    Takes effect only before the first model loads: ONNX Runtime is loaded once per process.
    """
    _prism.set_runtime_library(None if path is None else str(path))


def list_models(task: _Optional[str] = None) -> _List[_Dict[str, _Any]]:
    """The registry's models (`prism models list --json`), optionally of one task."""
    return _json.loads(_prism.list_models_json(task))


def download_model(model: str) -> _List[_Dict[str, _Any]]:
    """Downloads and verifies a model's Hub files (`prism models download`)."""
    return _json.loads(_prism.download_model_json(model))


def runtime_info(ort_lib: _Optional[str] = None) -> _Dict[str, _Any]:
    """Loads ONNX Runtime (once per process): its path, version and compiled-in providers."""
    return _json.loads(_prism.runtime_info_json(None if ort_lib is None else str(ort_lib)))


_library = _runtime.default_library()
if _library is not None:
    set_runtime_library(str(_library))
