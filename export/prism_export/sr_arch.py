"""Super-resolution architectures: RRDBNet (ESRGAN / Real-ESRGAN) and SRVGGNetCompact.

Written from the ESRGAN (Wang et al. 2018) and Real-ESRGAN (Wang et al. 2021)
papers.  Parameter names follow Real-ESRGAN's layout (``conv_first``,
``body.N.rdbK.convJ``, ``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr``,
``conv_last`` / ``body.N`` for SRVGG) so official weight files load unchanged;
:func:`canonicalize_rrdb_state_dict` maps the two older ESRGAN layouts onto it.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .weights import check_state_dict


# --------------------------------------------------------------------------- RRDBNet
class ResidualDenseBlock(nn.Module):
    """Five 3x3 convs with dense connections; output = x + 0.2 * conv5(...)."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = F.leaky_relu(self.conv1(x), 0.2)
        x2 = F.leaky_relu(self.conv2(torch.cat((x, x1), 1)), 0.2)
        x3 = F.leaky_relu(self.conv3(torch.cat((x, x1, x2), 1)), 0.2)
        x4 = F.leaky_relu(self.conv4(torch.cat((x, x1, x2, x3), 1)), 0.2)
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs, residual scaled by 0.2."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN generator.

    ``scale`` is the net output scale.  As in Real-ESRGAN, scale 2 and 1 are
    implemented by pixel-unshuffling the input (by 2 / 4) and running the x4
    network, so the input H/W must be a multiple of :attr:`pad_multiple`.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, scale: int = 4,
                 num_feat: int = 64, num_block: int = 23, num_grow_ch: int = 32) -> None:
        super().__init__()
        if scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet scale must be 1, 2 or 4, got {scale}")
        self.scale = scale
        self.unshuffle = {4: 1, 2: 2, 1: 4}[scale]
        self.pad_multiple = self.unshuffle
        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle ** 2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.leaky_relu(self.conv_up1(F.interpolate(feat, scale_factor=2.0, mode="nearest")), 0.2)
        feat = F.leaky_relu(self.conv_up2(F.interpolate(feat, scale_factor=2.0, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))

    def conv_sequence(self) -> list[tuple[str, nn.Conv2d, bool]]:
        """Convolutions in graph order with 'followed by LeakyReLU(0.2)' flags."""
        seq: list[tuple[str, nn.Conv2d, bool]] = [("conv_first", self.conv_first, False)]
        for i, block in enumerate(self.body):
            for r in ("rdb1", "rdb2", "rdb3"):
                rdb = getattr(block, r)
                for j in range(1, 6):
                    seq.append((f"body.{i}.{r}.conv{j}", getattr(rdb, f"conv{j}"), j < 5))
        seq += [("conv_body", self.conv_body, False), ("conv_up1", self.conv_up1, True),
                ("conv_up2", self.conv_up2, True), ("conv_hr", self.conv_hr, True),
                ("conv_last", self.conv_last, False)]
        return seq


_TAIL_2019 = {"trunk_conv": "conv_body", "upconv1": "conv_up1", "upconv2": "conv_up2",
              "HRconv": "conv_hr", "conv_first": "conv_first", "conv_last": "conv_last"}
_TAIL_ORIG = {"model.0": "conv_first", "model.3": "conv_up1", "model.6": "conv_up2",
              "model.8": "conv_hr", "model.10": "conv_last"}


def unwrap_state_dict(sd: Mapping) -> "OrderedDict[str, torch.Tensor]":
    """Strip ``params_ema`` / ``params`` / ``state_dict`` wrappers and ``module.`` prefixes."""
    for key in ("params_ema", "params", "state_dict", "model"):
        if isinstance(sd, Mapping) and key in sd and isinstance(sd[key], Mapping):
            sd = sd[key]
            break
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        while k.startswith("module."):
            k = k[len("module."):]
        out[k] = v
    return out


def detect_rrdb_layout(sd: Mapping[str, torch.Tensor]) -> str:
    keys = set(sd)
    if "conv_first.weight" in keys and any(k.startswith("body.") for k in keys):
        return "real-esrgan"
    if "conv_first.weight" in keys and any(k.startswith("RRDB_trunk.") for k in keys):
        return "esrgan-2019"
    if "model.0.weight" in keys and any(k.startswith("model.1.sub.") for k in keys):
        return "esrgan-original"
    raise ValueError(f"unrecognised RRDBNet state dict layout; first keys: {sorted(keys)[:8]}")


def canonicalize_rrdb_state_dict(sd: Mapping) -> tuple["OrderedDict[str, torch.Tensor]", str]:
    """Return (state dict in Real-ESRGAN key layout, detected layout name)."""
    sd = unwrap_state_dict(sd)
    layout = detect_rrdb_layout(sd)
    if layout == "real-esrgan":
        return OrderedDict(sd), layout
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    if layout == "esrgan-2019":
        pat = re.compile(r"^RRDB_trunk\.(\d+)\.RDB([123])\.conv([1-5])\.(weight|bias)$")
        for k, v in sd.items():
            m = pat.match(k)
            if m:
                out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = v
                continue
            mod, _, param = k.rpartition(".")
            # unknown keys pass through unchanged: check_state_dict lists them as unexpected
            out[f"{_TAIL_2019[mod]}.{param}" if mod in _TAIL_2019 else k] = v
        return out, layout
    # original ESRGAN (sequential) layout
    blocks = {int(m[1]) for k in sd if (m := re.match(r"^model\.1\.sub\.(\d+)\.RDB", k))}
    n = len(blocks)
    if blocks != set(range(n)):
        raise ValueError(f"non-contiguous RRDB block indices in original ESRGAN state dict: {sorted(blocks)}")
    pat = re.compile(r"^model\.1\.sub\.(\d+)\.RDB([123])\.conv([1-5])\.0\.(weight|bias)$")
    for k, v in sd.items():
        m = pat.match(k)
        if m:
            out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = v
            continue
        mod, _, param = k.rpartition(".")
        if mod == f"model.1.sub.{n}":
            out[f"conv_body.{param}"] = v
        elif mod in _TAIL_ORIG:
            out[f"{_TAIL_ORIG[mod]}.{param}"] = v
        else:  # unknown: passed through, listed as unexpected by check_state_dict
            out[k] = v
    return out, layout


def rrdbnet_from_state_dict(sd: Mapping, scale: int | None = None) -> tuple[RRDBNet, str]:
    """Build an RRDBNet whose hyper-parameters are inferred from ``sd`` and load it strictly."""
    sd, layout = canonicalize_rrdb_state_dict(sd)
    what = f"RRDBNet ({layout} layout)"
    try:
        w_first = sd["conv_first.weight"]
        num_feat, in_ch = int(w_first.shape[0]), int(w_first.shape[1])
        num_grow_ch = int(sd["body.0.rdb1.conv1.weight"].shape[0])
        num_out_ch = int(sd["conv_last.weight"].shape[0])
    except KeyError:  # cannot infer the size: list the differences from the default net
        check_state_dict(RRDBNet(scale=scale or 4), sd, what)
        raise
    num_block = len({k.split(".")[1] for k in sd if k.startswith("body.")})
    inferred = {3: 4, 12: 2, 48: 1}.get(in_ch)
    if inferred is None:
        raise ValueError(f"conv_first has {in_ch} input channels; expected 3, 12 or 48")
    if scale is not None and scale != inferred:
        raise ValueError(f"state dict is for scale {inferred} (conv_first in={in_ch}), asked for {scale}")
    model = RRDBNet(3, num_out_ch, inferred, num_feat, num_block, num_grow_ch)
    check_state_dict(model, sd, what)
    model.load_state_dict(sd, strict=True)
    return model.eval(), layout


def to_layout(sd: Mapping[str, torch.Tensor], layout: str) -> "OrderedDict[str, torch.Tensor]":
    """Rename a Real-ESRGAN-layout RRDBNet state dict into another layout (tests, tooling)."""
    if layout == "real-esrgan":
        return OrderedDict(sd)
    n = len({k.split(".")[1] for k in sd if k.startswith("body.")})
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    inv_2019 = {v: k for k, v in _TAIL_2019.items()}
    inv_orig = {v: k for k, v in _TAIL_ORIG.items()}
    pat = re.compile(r"^body\.(\d+)\.rdb([123])\.conv([1-5])\.(weight|bias)$")
    for k, v in sd.items():
        m = pat.match(k)
        mod, _, param = k.rpartition(".")
        if layout == "esrgan-2019":
            out[f"RRDB_trunk.{m[1]}.RDB{m[2]}.conv{m[3]}.{m[4]}" if m else f"{inv_2019[mod]}.{param}"] = v
        elif layout == "esrgan-original":
            if m:
                out[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{m[3]}.0.{m[4]}"] = v
            elif mod == "conv_body":
                out[f"model.1.sub.{n}.{param}"] = v
            else:
                out[f"{inv_orig[mod]}.{param}"] = v
        else:
            raise ValueError(layout)
    return out


# --------------------------------------------------------------------------- SRVGGNetCompact
class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact VGG-style SR net.

    ``body`` = conv(in, feat), PReLU, [conv(feat, feat), PReLU] * num_conv,
    conv(feat, out * s^2); output = pixel_shuffle(body(x), s) + nearest_upsample(x, s).
    ``out_resize`` (optional) applies a final bicubic resize by that factor,
    which is how realesr-animevideov3 x2/x3 are built (x4 net, then 0.5 / 0.75).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64,
                 num_conv: int = 16, upscale: int = 4, out_resize: float | None = None) -> None:
        super().__init__()
        self.upscale = upscale
        self.out_resize = out_resize
        layers: list[nn.Module] = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), nn.PReLU(num_parameters=num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.PReLU(num_parameters=num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.body = nn.Sequential(*layers)

    @property
    def scale(self) -> int:
        s = self.upscale * (self.out_resize or 1.0)
        if abs(s - round(s)) > 1e-6:
            raise ValueError(f"non-integer net scale {s}")
        return int(round(s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.pixel_shuffle(self.body(x), self.upscale)
        out = out + F.interpolate(x, scale_factor=float(self.upscale), mode="nearest")
        if self.out_resize is not None:
            out = F.interpolate(out, scale_factor=self.out_resize, mode="bicubic", align_corners=False)
        return out


def srvgg_from_state_dict(sd: Mapping, upscale: int | None = None,
                          out_resize: float | None = None) -> SRVGGNetCompact:
    sd = unwrap_state_dict(sd)
    conv_idx = sorted(int(k.split(".")[1]) for k in sd if k.startswith("body.") and k.endswith(".bias"))
    if not conv_idx:
        raise ValueError("not an SRVGGNetCompact state dict (no body.N.bias)")
    first, last = sd[f"body.{conv_idx[0]}.weight"], sd[f"body.{conv_idx[-1]}.weight"]
    num_feat, num_in = int(first.shape[0]), int(first.shape[1])
    num_conv = len(conv_idx) - 2
    out_ch = int(last.shape[0])
    s2 = out_ch // 3
    s = int(round(s2 ** 0.5))
    if s * s * 3 != out_ch:
        raise ValueError(f"last conv has {out_ch} channels; not 3*s^2")
    if upscale is not None and upscale != s:
        raise ValueError(f"state dict upscale {s} != requested {upscale}")
    model = SRVGGNetCompact(num_in, 3, num_feat, num_conv, s, out_resize)
    check_state_dict(model, sd, "SRVGGNetCompact")
    model.load_state_dict(sd, strict=True)
    return model.eval()


def blend_state_dicts(main: Mapping[str, torch.Tensor], wdn: Mapping[str, torch.Tensor],
                      strength: float) -> "OrderedDict[str, torch.Tensor]":
    """Denoise-strength interpolation: w = s * w_main + (1 - s) * w_wdn."""
    if set(main) != set(wdn):
        raise ValueError("main and wdn state dicts have different keys")
    return OrderedDict((k, strength * main[k] + (1.0 - strength) * wdn[k]) for k in main)


def seeded_init_(model: nn.Module, seed: int, conv_std_scale: float = 1.0) -> nn.Module:
    """Deterministic random init (Kaiming-normal convs scaled down, small biases)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                std = (2.0 / fan_in) ** 0.5 * conv_std_scale
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * std)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.01)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(0.1 + 0.2 * torch.rand(m.weight.shape, generator=g))
    return model.eval()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
