"""Typed interface of the `prism` package (checked against the module by tests/test_stubs.py)."""

from os import PathLike
from pathlib import Path
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

ImageArray = Union[npt.NDArray[np.uint8], npt.NDArray[np.uint16], npt.NDArray[np.float32]]
"""HxW or HxWxC (C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA); float32 in 0..1."""
Progress = Callable[[int, int], Optional[bool]]
"""`progress(done, total)`: return False (or raise) to stop the run."""
StrPath = Union[str, PathLike]

SESSION_OPTIONS: List[str]

class PrismError(Exception):
    exit_code: int

class UsageError(PrismError): ...
class RuntimeLibraryError(PrismError): ...
class ProviderUnavailableError(PrismError): ...
class ModelError(PrismError): ...
class InputError(PrismError): ...
class Cancelled(PrismError): ...

class Upscaler:
    def __init__(
        self,
        model: str = "realesrgan-x4plus",
        *,
        tile: Union[int, Literal["auto", "whole"], None] = None,
        overlap: Optional[int] = None,
        memory_budget: Optional[int] = None,
        tiles_per_run: Optional[int] = None,
        outscale: Optional[float] = None,
        width: Optional[int] = None,
        height: Optional[int] = None,
        max_passes: int = 2,
        alpha: Literal["model", "resample"] = "model",
        premultiply: bool = False,
        tta: bool = False,
        device: str = "auto",
        precision: str = "auto",
        threads: Optional[int] = None,
        opt_level: Literal["disable", "basic", "extended", "all"] = "all",
        no_cache: bool = False,
        deterministic: bool = False,
        cuda_mem_limit: Optional[int] = None,
        trt_fp16: bool = True,
        trt_opt_level: int = 3,
        ort_lib: Optional[StrPath] = None,
    ) -> None: ...
    def upscale(self, image: ImageArray, progress: Optional[Progress] = None) -> ImageArray: ...
    @property
    def scale(self) -> int: ...
    @property
    def model_path(self) -> Path: ...
    @property
    def provider(self) -> str: ...
    @property
    def tile(self) -> int: ...
    @property
    def overlap(self) -> int: ...
    @property
    def suffix(self) -> str:
        """The output-name suffix `prism upscale` gives (`_x4`, `_x1.5`, `_up`)."""

class Interpolator:
    def __init__(
        self,
        model: str = "rife-v4.6",
        *,
        scale: float = 1.0,
        ensemble: bool = False,
        tta: bool = False,
        nearest_timestep: bool = False,
        device: str = "auto",
        precision: str = "auto",
        threads: Optional[int] = None,
        opt_level: Literal["disable", "basic", "extended", "all"] = "all",
        no_cache: bool = False,
        deterministic: bool = False,
        cuda_mem_limit: Optional[int] = None,
        trt_fp16: bool = True,
        trt_opt_level: int = 3,
        ort_lib: Optional[StrPath] = None,
    ) -> None: ...
    def interpolate(
        self, a: ImageArray, b: ImageArray, t: float = 0.5, progress: Optional[Progress] = None
    ) -> ImageArray: ...
    def interpolate_many(
        self,
        a: ImageArray,
        b: ImageArray,
        timesteps: Sequence[float],
        progress: Optional[Progress] = None,
    ) -> List[ImageArray]: ...
    def frames_between(
        self, a: ImageArray, b: ImageArray, n: int, progress: Optional[Progress] = None
    ) -> List[ImageArray]: ...
    @property
    def model_path(self) -> Path: ...
    @property
    def provider(self) -> str: ...
    @property
    def timesteps(self) -> Literal["any", "0.5"]: ...

class FastStyle:
    def __init__(
        self,
        model: Optional[str] = None,
        *,
        style: Union[int, str, None] = None,
        style_image: Union[ImageArray, StrPath, None] = None,
        device: str = "auto",
        precision: str = "auto",
        threads: Optional[int] = None,
        opt_level: Literal["disable", "basic", "extended", "all"] = "all",
        no_cache: bool = False,
        deterministic: bool = False,
        cuda_mem_limit: Optional[int] = None,
        trt_fp16: bool = True,
        trt_opt_level: int = 3,
        ort_lib: Optional[StrPath] = None,
    ) -> None: ...
    def stylize(
        self,
        image: ImageArray,
        *,
        content_scale: float = 1.0,
        strength: float = 1.0,
        preserve_colors: bool = False,
    ) -> ImageArray: ...
    @property
    def label(self) -> str: ...
    @property
    def suffix(self) -> str: ...
    @property
    def weights(self) -> str: ...
    @property
    def provider(self) -> str: ...

def neural_style(
    content: ImageArray,
    style: Union[ImageArray, Sequence[ImageArray]],
    *,
    blend: Optional[Sequence[float]] = None,
    size: Optional[int] = None,
    steps: int = 300,
    optimizer: Literal["lbfgs", "l-bfgs", "adam"] = "lbfgs",
    lr: Optional[float] = None,
    history: int = 100,
    line_search: Literal["armijo", "none"] = "armijo",
    content_weight: float = 5.0,
    style_weight: float = 500.0,
    tv_weight: float = 2.5e7,
    content_layers: str = "relu4_2",
    style_layers: str = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1",
    init: Union[Literal["content", "noise"], ImageArray, None] = None,
    seed: int = 0,
    style_scale: float = 1.0,
    original_colors: bool = False,
    pool: Literal["max", "avg"] = "max",
    scales: int = 1,
    progress: Optional[Progress] = None,
    device: str = "auto",
    precision: str = "auto",
    threads: Optional[int] = None,
    opt_level: Literal["disable", "basic", "extended", "all"] = "all",
    no_cache: bool = False,
    deterministic: bool = False,
    cuda_mem_limit: Optional[int] = None,
    trt_fp16: bool = True,
    trt_opt_level: int = 3,
    ort_lib: Optional[StrPath] = None,
) -> ImageArray: ...
def read_image(path: StrPath, *, max_pixels: int = 178956970) -> ImageArray: ...
def write_image(path: StrPath, image: ImageArray, *, quality: int = 95) -> None: ...
def resolve_model(model: str) -> Path: ...
def list_models(task: Optional[str] = None) -> List[Dict[str, Any]]: ...
def download_model(model: str) -> List[Dict[str, Any]]: ...
def runtime_info(ort_lib: Optional[StrPath] = None) -> Dict[str, Any]: ...
def set_runtime_library(path: Optional[StrPath]) -> None: ...
