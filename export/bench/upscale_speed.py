"""CPU speed of Prism's upscaler against the PyTorch reference network, side by side.

Same weights (prism_export builds the PyTorch module the ONNX file was exported from), same image
(a real photo crop), same tile grid (`--tile` core plus context per side, runs spread evenly; see
crates/prism-upscale/src/tiling.rs), same thread
count. Reports input megapixels per second for both, and Prism's overhead over pure ONNX Runtime
session time (tiling, blending, conversions), measured inside Prism.

    export/.venv/bin/python export/bench/upscale_speed.py
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "export"))
from prism_export.registry import get_specs  # noqa: E402

# (model, photo, top, left, size, tile core, context per side)
CASES = [
    ("realesr-animevideov3-x4", "astronaut", 100, 150, 256, 96, 16),
    ("realesrgan-x4plus", "astronaut", 100, 150, 128, 96, 64),
]


def grid(length: int, core: int, context: int) -> tuple[int, list[int]]:
    """Run extent and starts along one axis, as `tiling::Axis::new` (pad multiple 1)."""
    extent = core + 2 * context
    if length <= extent:
        return length, [0]
    tiles = -(-(length - 2 * context) // (extent - 2 * context))
    extent = min(extent, -(-(length - 2 * context) // tiles) + 2 * context)
    span = length - extent
    gaps = -(-span // (extent - 2 * context))
    return extent, [(k * span + gaps // 2) // gaps for k in range(gaps + 1)]


def torch_tiled(model, img: np.ndarray, tile: int, overlap: int, scale: int) -> float:
    x = torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32) / 255.0)[None]
    h, w = img.shape[:2]
    out = torch.zeros(1, 3, h * scale, w * scale)
    t0 = time.perf_counter()
    with torch.no_grad():
        th, ys = grid(h, tile, overlap)
        tw, xs = grid(w, tile, overlap)
        for y0 in ys:
            for x0 in xs:
                y = model(x[:, :, y0:y0 + th, x0:x0 + tw]).clamp(0, 1)
                out[:, :, y0 * scale:(y0 + th) * scale, x0 * scale:(x0 + tw) * scale] = y
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "prism-upscale", "--example", "upscale_bench"],
                   check=True, cwd=ROOT)
    bench = ROOT / "target/release/examples/upscale_bench"
    print(f"machine: {platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for model_id, photo, top, left, size, tile, overlap in CASES:
            img = getattr(data, photo)()[top:top + size, left:left + size, :3]
            path = Path(tmp) / f"{photo}.png"
            Image.fromarray(img).save(path)
            spec = get_specs([model_id])[0]
            model, _ = spec.build()
            model = model.eval().float()
            scale = int(spec.metadata["prism.scale"])
            torch_tiled(model, img[:tile, :tile], tile, overlap, scale)  # warm-up
            prism_runs, torch_runs = [], []
            for _ in range(args.rounds):
                out = subprocess.run([str(bench), "--model", model_id, "--image", str(path), "--tile", str(tile),
                                      "--overlap", str(overlap), "--threads", str(args.threads)],
                                     check=True, capture_output=True, text=True).stdout
                prism_runs.append(json.loads(out))
                torch_runs.append(torch_tiled(model, img, tile, overlap, scale))
            p = min(prism_runs, key=lambda r: r["wall_s"])
            t = min(torch_runs)
            mp = size * size / 1e6
            print(f"{model_id}: {size}x{size} -> x{scale}, tile {tile}, overlap {overlap}, {p['runs']} tiles")
            print(f"  PyTorch  {t:7.2f} s  {mp / t:.4f} MP/s (input)")
            print(f"  Prism    {p['wall_s']:7.2f} s  {p['input_mp_per_s']:.4f} MP/s (input)  "
                  f"session {p['session_s']:.2f} s, Prism overhead {p['overhead_pct']:.1f} %  "
                  f"=> {t / p['wall_s']:.2f}x PyTorch")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
