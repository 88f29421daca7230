"""Frame-interpolation quality against ground truth: RIFE v4.6 vs v4.0 (and v4.0-refine, HD v3).

Ground truth comes from real photographs (scikit-image data) moved by a known camera motion:
frame(t) shows the photo scaled by ``1 + t (zoom - 1)`` about the crop centre and shifted by
``t * shift`` (cubic spline resampling), so every point moves linearly in t and frame(0.5) is the
true middle frame of frame(0) and frame(1). Each model makes the middle frame from frames 0 and 1
(PyTorch, the export definitions that the parity tests tie to ONNX/Prism and, for v4.6, to the
code shipped with its weights); PSNR and SSIM are measured against frame(0.5) inside a margin
that leaves out content entering or leaving the view. A 50/50 blend is the baseline.

    export/.venv/bin/python export/bench/interpolate_quality.py [--json] [--demo DIR]

``--demo DIR`` also writes each model's middle frame of the three real ECCV2022-RIFE demo pairs
(no ground truth; for looking at) and a side-by-side sheet per pair.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from skimage import data
from skimage.metrics import structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from prism_export import rife  # noqa: E402

MODELS = ["rife-v4.0", "rife-v4.6", "rife-v4.0-refine", "rife-hd-v3"]
PHOTOS = [("astronaut", 120, 60), ("chelsea", 20, 30), ("coffee", 60, 100), ("rocket", 80, 120),
          ("motorcycle_left", 100, 150)]
SIZE = (256, 384)  # H, W of every frame (multiples of 32: no padding)
# (name, zoom at t=1, (dy, dx) shift at t=1 in pixels)
MOTIONS = [("pan 3 px", 1.0, (1.5, 2.5)), ("pan 12 px", 1.0, (6.0, 10.0)),
           ("pan 31 px", 1.0, (16.0, 26.0)), ("zoom-in 6% + pan", 1.06, (4.0, -6.0)),
           ("zoom-out 5%", 0.95, (0.0, 0.0))]


def frame(img: np.ndarray, top_left, zoom: float, shift, t: float) -> torch.Tensor:
    h, w = SIZE
    y0, x0 = top_left
    c = np.array([y0 + h / 2.0, x0 + w / 2.0])
    s = 1.0 + t * (zoom - 1.0)
    d = np.array(shift) * t
    # output o samples input i = c + (o - c - d) / s
    offset = c - (c + d) / s
    chans = [ndimage.affine_transform(img[..., k], np.full(2, 1.0 / s), offset=offset, order=3,
                                      mode="reflect") for k in range(3)]
    a = np.clip(np.stack(chans, 0)[:, y0:y0 + h, x0:x0 + w], 0, 1)
    return torch.from_numpy(np.ascontiguousarray(a)).unsqueeze(0).float()


def margin(zoom: float, shift) -> int:
    h, w = SIZE
    return int(math.ceil(max(abs(shift[0]), abs(shift[1])) + abs(zoom - 1.0) * max(h, w) / 2)) + 8


def metrics(x: torch.Tensor, gt: torch.Tensor, m: int) -> tuple[float, float]:
    a = x[0].clamp(0, 1).double().numpy()[:, m:-m, m:-m]
    b = gt[0].double().numpy()[:, m:-m, m:-m]
    mse = float(np.mean((a - b) ** 2))
    return -10.0 * math.log10(mse), float(structural_similarity(a, b, channel_axis=0, data_range=1.0))


@torch.no_grad()
def middle(model_id: str, net, f0, f1):
    if rife.MODELS[model_id][2]:
        return net(f0, f1, torch.full((1, 1, 1, 1), 0.5))[0]
    return net(f0, f1)[0]


def demo(out: Path, nets) -> None:
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    for k, (i0, i1) in enumerate(rife.demo_pairs()):
        tiles = [i0]
        for mid, net in nets.items():
            m = middle(mid, net, i0, i1)
            tiles.append(m)
            png = (m[0].clamp(0, 1).numpy().transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
            Image.fromarray(png).save(out / f"I{k}-{mid}.png")
        tiles.append(i1)
        sheet = torch.cat(tiles, 3)[0].clamp(0, 1).numpy().transpose(1, 2, 0)
        Image.fromarray((sheet * 255 + 0.5).astype(np.uint8)).save(out / f"I{k}-sheet.png")
    print(f"demo frames: {out} (sheet: img0 | " + " | ".join(nets) + " | img1)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--demo", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    nets = {mid: rife.MODELS[mid][1]()[0].eval() for mid in MODELS}
    rows = []
    start = time.time()
    for photo, y0, x0 in PHOTOS:
        img = (data.stereo_motorcycle()[0] if photo == "motorcycle_left" else getattr(data, photo)())
        img = img.astype(np.float32) / 255.0
        for motion, zoom, shift in MOTIONS:
            f0, gt, f1 = (frame(img, (y0, x0), zoom, shift, t) for t in (0.0, 0.5, 1.0))
            m = margin(zoom, shift)
            row = {"photo": photo, "motion": motion, "blend": metrics(0.5 * (f0 + f1), gt, m)}
            for mid, net in nets.items():
                row[mid] = metrics(middle(mid, net, f0, f1), gt, m)
            rows.append(row)
            print(f"{photo:16s} {motion:18s} blend {row['blend'][0]:5.2f} | "
                  + " | ".join(f"{k} {row[k][0]:5.2f} dB {row[k][1]:.4f}" for k in MODELS), flush=True)
    print(f"\n{len(rows)} triplets, {SIZE[1]}x{SIZE[0]}, {time.time() - start:.0f} s")
    summary = {}
    for key in ["blend"] + MODELS:
        p = [r[key][0] for r in rows]
        s = [r[key][1] for r in rows]
        summary[key] = {"psnr": float(np.mean(p)), "ssim": float(np.mean(s))}
        print(f"mean {key:18s} PSNR {np.mean(p):6.2f} dB  SSIM {np.mean(s):.4f}")
    for motion, _, _ in MOTIONS:
        sel = [r for r in rows if r["motion"] == motion]
        print(f"  {motion:18s} " + "  ".join(
            f"{k} {np.mean([r[k][0] for r in sel]):5.2f} dB / {np.mean([r[k][1] for r in sel]):.4f}"
            for k in ("rife-v4.0", "rife-v4.6")))
    wins = sum(r["rife-v4.6"][0] >= r["rife-v4.0"][0] for r in rows)
    print(f"rife-v4.6 PSNR >= rife-v4.0 on {wins}/{len(rows)} triplets")
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
    if args.demo:
        demo(args.demo, {k: nets[k] for k in ("rife-v4.0", "rife-v4.6")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
