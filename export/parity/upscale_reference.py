"""PyTorch reference outputs for Prism's upscaling parity tests (tests/upscale.rs).

Runs the export environment's own network definitions (prism_export.sr / sr_arch) with the real
weights on crops of real photographs (scikit-image data) and writes, per case, the input (PNG for
8-bit, .npy for 16-bit) and the reference output (.npy float32, CHW, clamped to 0..1) into
export/out/parity/upscale/ with a cases.json index. Prism never sees this code: the Rust tests
decode the inputs, upscale them through ONNX Runtime and compare.

Usage: export/.venv/bin/python export/parity/upscale_reference.py [--out DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))

from prism_export import images  # noqa: E402
from prism_export.registry import get_specs  # noqa: E402

# (case name, model id, image, top, left, height, width, kind)
# kind: rgb8 | gray8 | rgba8 (alpha through the model as gray) | rgb16 (16-bit input)
CASES = (
    ("x4plus_astronaut", "realesrgan-x4plus", "astronaut", 40, 180, 64, 256, "rgb8"),
    ("x4plus_anime_chelsea", "realesrgan-x4plus-anime", "chelsea", 60, 150, 64, 192, "rgb8"),
    ("animev3x4_coffee", "realesr-animevideov3-x4", "coffee", 120, 260, 96, 112, "rgb8"),
    ("animev3x3_coffee", "realesr-animevideov3-x3", "coffee", 100, 200, 64, 72, "rgb8"),
    ("animev3x2_astronaut", "realesr-animevideov3-x2", "astronaut", 200, 200, 64, 64, "rgb8"),
    ("animev3x4_camera_gray", "realesr-animevideov3-x4", "camera", 100, 180, 64, 64, "gray8"),
    ("animev3x4_logo_rgba", "realesr-animevideov3-x4", "logo", 150, 170, 64, 80, "rgba8"),
    ("animev3x4_chelsea_camera_alpha", "realesr-animevideov3-x4", "chelsea+camera", 60, 150, 64, 80, "rgba8"),
    ("animev3x4_chelsea_16bit", "realesr-animevideov3-x4", "chelsea", 40, 120, 48, 64, "rgb16"),
)


def raw_image(name: str) -> np.ndarray:
    """A scikit-image sample; `rgb+gray` is an RGBA image with the second photo as alpha."""
    from skimage import data

    if "+" in name:
        rgb, alpha = (getattr(data, n)() for n in name.split("+"))
        h, w = min(rgb.shape[0], alpha.shape[0]), min(rgb.shape[1], alpha.shape[1])
        return np.dstack([rgb[:h, :w, :3], alpha[:h, :w]])
    return getattr(data, name)()


def run(model: torch.nn.Module, chw: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))[None])[0]
    return out.clamp(0, 1).numpy().astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=HERE.parents[1] / "out" / "parity" / "upscale")
    args = ap.parse_args()
    out: Path = args.out
    stamp = out / ".stamp"
    fingerprint = hashlib.sha256(HERE.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == fingerprint and (out / "cases.json").is_file():
        print(f"upscale parity references up to date in {out}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    torch.set_grad_enabled(False)
    models: dict[str, torch.nn.Module] = {}
    index = []
    for name, model_id, image, top, left, h, w, kind in CASES:
        if model_id not in models:
            spec = get_specs([model_id])[0]
            model, _info = spec.build()
            models[model_id] = model.eval().float()
        model = models[model_id]
        raw = raw_image(image)[top:top + h, left:left + w]
        assert raw.shape[:2] == (h, w), f"{name}: crop out of bounds"
        case = {"name": name, "model": model_id, "kind": kind, "height": h, "width": w}
        if kind == "rgb8":
            rgb = raw[..., :3]
            Image.fromarray(rgb).save(out / f"{name}.png")
            ref = run(model, rgb.transpose(2, 0, 1) / 255.0)
            case["input"] = f"{name}.png"
        elif kind == "gray8":
            Image.fromarray(raw).save(out / f"{name}.png")
            g = raw.astype(np.float32) / 255.0
            y = run(model, np.stack([g, g, g]))
            # Gray output: Rec. 601 luma of the RGB output, as Prism's bridge does.
            ref = (0.299 * y[0] + 0.587 * y[1] + 0.114 * y[2])[None]
            case["input"] = f"{name}.png"
        elif kind == "rgba8":
            Image.fromarray(raw, "RGBA").save(out / f"{name}.png")
            rgba = raw.astype(np.float32) / 255.0
            ref = run(model, rgba[..., :3].transpose(2, 0, 1))
            a = rgba[..., 3]
            alpha = run(model, np.stack([a, a, a])).mean(axis=0)
            np.save(out / f"{name}.alpha.npy", alpha.astype(np.float32))
            case["input"] = f"{name}.png"
            case["alpha_reference"] = f"{name}.alpha.npy"
            case["alpha_constant"] = bool(a.min() == a.max())
        elif kind == "rgb16":
            # Values no 8-bit image has: the 8-bit crop through a gamma, quantised to 16 bits.
            x = (raw[..., :3].astype(np.float64) / 255.0) ** 0.8
            rgb16 = np.round(x * 65535.0).astype(np.uint16)
            np.save(out / f"{name}.input.npy", rgb16)
            ref = run(model, rgb16.transpose(2, 0, 1).astype(np.float32) / 65535.0)
            case["input"] = f"{name}.input.npy"
        else:
            raise ValueError(kind)
        np.save(out / f"{name}.ref.npy", ref)
        case["reference"] = f"{name}.ref.npy"
        index.append(case)
        print(f"  {name}: {model_id} {h}x{w} -> {ref.shape[1]}x{ref.shape[2]}")
    # A "foreign" model: the exported animevideov3-x4 graph with every prism.* metadata entry
    # removed, so Prism has to find its scale by a probe run.
    import onnx

    src = HERE.parents[1] / "out" / "realesr-animevideov3-x4" / "realesr-animevideov3-x4.fp32.onnx"
    foreign = onnx.load(str(src))
    del foreign.metadata_props[:]
    onnx.save(foreign, str(out / "foreign-x4-no-metadata.onnx"))
    (out / "cases.json").write_text(json.dumps(index, indent=1))
    stamp.write_text(fingerprint)
    print(f"wrote {len(index)} upscale parity references to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
