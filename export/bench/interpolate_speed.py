"""CPU speed of frame interpolation, side by side: PyTorch (prism_export.rife with the real
weights) against Prism (the whole `Interpolator::interpolate` call, and the bare ONNX Runtime
session on the same tensors, whose difference is Prism's overhead), at 448x256 and 1280x720.

Usage: ``python export/bench/interpolate_speed.py [MODEL_ID...]`` (default rife-v4.0 rife-hd-v3;
the models must be exported). Prints a table; milliseconds are medians per frame.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from prism_export import rife

ROOT = Path(__file__).resolve().parents[2]
SIZES = ((448, 256, 10), (1280, 720, 4))


def frame(w: int, h: int, shift: int) -> torch.Tensor:
    """The same synthetic pattern the Rust bench uses (values matter little for speed)."""
    x = torch.arange(w).view(1, w) + shift
    y = torch.arange(h).view(h, 1)
    r = (x * 7 + y * 3) % 256
    g = (x // 3 + y * 2) % 256
    b = ((x ^ y) * 5) % 256
    return (torch.stack([r, g, b]).float() / 255.0).unsqueeze(0)


@torch.no_grad()
def torch_ms(model_id: str) -> dict:
    net = rife.MODELS[model_id][1]()[0].eval()
    with_t = rife.MODELS[model_id][2]
    out = {}
    for w, h, runs in SIZES:
        a, b = frame(w, h, 0), frame(w, h, 3)
        ph, pw = ((h - 1) // 32 + 1) * 32, ((w - 1) // 32 + 1) * 32

        def once():
            pa, pb = F.pad(a, (0, pw - w, 0, ph - h)), F.pad(b, (0, pw - w, 0, ph - h))
            res = net(pa, pb, torch.full((1, 1, 1, 1), 0.5)) if with_t else net(pa, pb)
            return res[0][:, :, :h, :w]

        once()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            once()
            times.append((time.perf_counter() - t0) * 1e3)
        out[(w, h)] = sorted(times)[len(times) // 2]
    return out


def main() -> None:
    ids = sys.argv[1:] or ["rife-v4.0", "rife-hd-v3"]
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    proc = subprocess.run(
        ["cargo", "bench", "--quiet", "-p", "prism-interpolate", "--bench", "interpolate", "--", *ids],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    prism = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    print(f"CPU: {threads} threads; PyTorch {torch.__version__}; medians, ms per interpolated frame")
    print(f"{'model':<18}{'size':>10}{'pytorch':>10}{'prism':>10}{'session':>10}{'overhead':>10}")
    for model_id in ids:
        t = torch_ms(model_id)
        for row in (r for r in prism if r["model"] == model_id):
            size = (row["width"], row["height"])
            print(f"{model_id:<18}{size[0]:>5}x{size[1]:<4}{t[size]:>10.1f}{row['prism_ms']:>10.1f}"
                  f"{row['session_ms']:>10.1f}{row['overhead_ms']:>10.1f}")


if __name__ == "__main__":
    main()
