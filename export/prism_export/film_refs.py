"""PyTorch reference frames of FILM for Prism's tests (``tests/interpolate_film.rs``).

Runs ``prism_export.film.FilmNet`` with the export's seeded weights on a real frame pair (ECCV2022-
RIFE demo pair 1, cropped to 301x203), padding as Prism does (zeros right and bottom to 64, crop
after), and writes into ``OUT`` (default ``export/out/parity/film``): ``a.png``, ``b.png`` (the
8-bit inputs), ``t05.png`` (dt = 0.5), ``t025-bisect.png`` (t = 0.5, then dt = 0.5 between img0
and that padded, unclamped result: FILM's recursive bisection) and ``t025-direct.png`` (dt =
0.25), 16-bit PNGs. Usage: ``python -m prism_export.film_refs [OUT]``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import film

ROOT = Path(__file__).resolve().parents[2]
CROP = (13, 21, 203, 301)  # top, left, height, width


def main(out: Path) -> None:
    sys.path.insert(0, str(ROOT / "export/parity"))
    from interpolate_refs import load_pairs, pad, save_png16, to_tensor

    torch.set_num_threads(2)
    out.mkdir(parents=True, exist_ok=True)
    top, left, h, w = CROP
    a8, b8 = (x[top:top + h, left:left + w] for x in load_pairs()[1])
    Image.fromarray(a8).save(out / "a.png")
    Image.fromarray(b8).save(out / "b.png")
    net = film.build()[0]
    pa, pb = pad(to_tensor(a8), film.PAD_MULTIPLE), pad(to_tensor(b8), film.PAD_MULTIPLE)

    def dt(t):
        return torch.full((1, 1), t)

    with torch.no_grad():
        mid, _ = net(pa, pb, dt(0.5))
        quarter, _ = net(pa, mid, dt(0.5))
        direct, _ = net(pa, pb, dt(0.25))
    for name, x in (("t05", mid), ("t025-bisect", quarter), ("t025-direct", direct)):
        save_png16(out / f"{name}.png", x[:, :, :h, :w])
    print(f"FILM references in {out} (seeded weights; bisect vs direct differ by "
          f"{float(np.abs((quarter - direct)[:, :, :h, :w].numpy()).max()):.4f})")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "export/out/parity/film")
