"""FILM frame interpolation (Reda et al., "FILM: Frame Interpolation for Large Motion", ECCV 2022),
film_net written from the official design (google-research/frame-interpolation) with the module
names and tensor shapes of the maintained PyTorch port (dajes/frame-interpolation-pytorch), so its
released TorchScript files (``film_net_fp32.pt`` / ``film_net_fp16.pt``) and state dicts load
unchanged with ``--weights``.

Three stages, all on pyramids stored finest level first:

* ``extract``: a cascaded feature pyramid. One shared 4-level sub-tree extractor (two 3x3 convs +
  LeakyReLU(0.2) per level, channels 64, 128, 256, 512, average pooling between levels) runs on
  each of the 7 image-pyramid levels; level ``i`` concatenates the sub-tree features that land
  there, so from level 3 on every level has the same 960 channels and meaning.
* ``predict_flow``: residual flow from coarse to fine. The coarse levels (3..6) share one
  estimator; the 3 finest (the "specialized levels") have their own. At each level the flow so
  far (upsampled x2, doubled) backward-warps image B's features, and a small CNN predicts the
  residual. Run both ways (A->B, B->A).
* ``fuse``: a U-Net decoder over the 5 finest levels of [warped image 0, its features, warped
  image 1, its features, both flows], warped to time ``dt``: image 0 by ``flow(1->0) * dt``,
  image 1 by ``flow(0->1) * (1 - dt)``. Upsampling is nearest + 2x2 conv (TF "same" padding).

Inputs ``img0``, ``img1`` (NCHW RGB 0..1, H and W multiples of 64) and ``dt`` [N,1]; outputs
``frame`` (not clamped, as the port) and ``flow`` [N,4,H,W]: the finest-level flows the fusion
used, t->img0 in channels 0:2 and t->img1 in 2:4, (x, y) in pixels, backward warp: the layout of
the RIFE exports. No FILM weights are reachable where this repository is built, so the default
network carries seeded random weights (``prism.weights = seeded-random``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .weights import check_state_dict, file_source

PYRAMID_LEVELS = 7
FUSION_LEVELS = 5
SPECIALIZED_LEVELS = 3
SUB_LEVELS = 4
FILTERS = 64
FLOW_CONVS = (3, 3, 3, 3)
FLOW_FILTERS = (32, 64, 128, 256)
PAD_MULTIPLE = 2 ** (PYRAMID_LEVELS - 1)  # the coarsest level must have whole pixels
SEED = 1313

OFFICIAL_URL = "https://github.com/google-research/frame-interpolation"
PORT_URL = "https://github.com/dajes/frame-interpolation-pytorch/releases (film_net_fp32.pt)"


class Conv(nn.Sequential):
    """Conv2d (key ``0``) with TF "same" padding and LeakyReLU(0.2) unless ``act`` is False.

    Odd kernels pad symmetrically; the 2x2 kernel pads one pixel right and bottom, as TF does."""

    def __init__(self, cin: int, cout: int, k: int, act: bool = True):
        super().__init__(nn.Conv2d(cin, cout, k, padding=k // 2 if k % 2 else 0))
        self.k = k
        self.act = act

    def forward(self, x):
        if self.k % 2 == 0:
            x = F.pad(x, (0, 1, 0, 1))
        y = self[0](x)
        return F.leaky_relu(y, 0.2) if self.act else y


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """out(p) = image(p + flow(p)): bilinear, border clamp, pixel centres (align_corners=False).

    Grid arithmetic and sampling run in float32 (pixel coordinates of large frames do not fit
    fp16), the result is cast back; in an fp32 graph the casts vanish."""
    dtype = image.dtype
    img, fl = image.float(), flow.float()
    row = torch.ones_like(img[:, :1, :1, :])  # [N,1,1,W]
    col = torch.ones_like(img[:, :1, :, :1])  # [N,1,H,1]
    w = torch.sum(row, dim=3, keepdim=True)
    h = torch.sum(col, dim=2, keepdim=True)
    gx = torch.cumsum(row, dim=3) - 0.5  # pixel centres 0.5 .. W-0.5
    gy = torch.cumsum(col, dim=2) - 0.5
    x = (gx + fl[:, 0:1]) * (2.0 / w) - 1.0
    y = (gy + fl[:, 1:2]) * (2.0 / h) - 1.0
    grid = torch.cat([x, y], dim=1).permute(0, 2, 3, 1)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.to(dtype)


def image_pyramid(image: torch.Tensor, levels: int) -> List[torch.Tensor]:
    out = [image]
    for _ in range(levels - 1):
        out.append(F.avg_pool2d(out[-1], 2, 2))
    return out


def upsample_flow(flow: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 to ``like``'s size, magnitudes doubled."""
    return F.interpolate(2.0 * flow, size=(like.shape[2], like.shape[3]), mode="bilinear", align_corners=False)


class SubTreeExtractor(nn.Module):
    """``convs.i``: two 3x3 convs with ``FILTERS << i`` channels; average pooling between levels."""

    def __init__(self, cin: int = 3, filters: int = FILTERS, levels: int = SUB_LEVELS):
        super().__init__()
        blocks = []
        for i in range(levels):
            c = filters << i
            blocks.append(nn.Sequential(Conv(cin, c, 3), Conv(c, c, 3)))
            cin = c
        self.convs = nn.ModuleList(blocks)

    def forward(self, image: torch.Tensor, n: int) -> List[torch.Tensor]:
        out, x = [], image
        for i, block in enumerate(self.convs):
            if i >= n:
                break
            x = block(x)
            out.append(x)
            if i < n - 1:
                x = F.avg_pool2d(x, 2, 2)
        return out


class FeatureExtractor(nn.Module):
    def __init__(self):
        super().__init__()
        self.extract_sublevels = SubTreeExtractor()

    def forward(self, pyramid: List[torch.Tensor]) -> List[torch.Tensor]:
        n = len(pyramid)
        subs = [self.extract_sublevels(img, min(n - i, SUB_LEVELS)) for i, img in enumerate(pyramid)]
        # level i: the sub-tree started at level i - j contributes its j-th level
        return [torch.cat([subs[i - j][j] for j in range(min(i, SUB_LEVELS - 1) + 1)], dim=1) for i in range(n)]


def feature_channels(level: int) -> int:
    """Channels of the cascaded feature pyramid at ``level``: 64, 192, 448, then 960."""
    return sum(FILTERS << j for j in range(min(level, SUB_LEVELS - 1) + 1))


class FlowEstimator(nn.Module):
    """``_convs``: n 3x3 convs, a 1x1 conv to half the filters, a 1x1 conv to 2 channels (no activation)."""

    def __init__(self, cin: int, n: int, filters: int):
        super().__init__()
        convs = []
        for _ in range(n):
            convs.append(Conv(cin, filters, 3))
            cin = filters
        convs.append(Conv(filters, filters // 2, 1))
        convs.append(Conv(filters // 2, 2, 1, act=False))
        self._convs = nn.ModuleList(convs)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x = torch.cat([a, b], dim=1)
        for conv in self._convs:
            x = conv(x)
        return x


class PyramidFlowEstimator(nn.Module):
    """``_predictor`` serves levels >= 3 (shared weights); ``_predictors`` levels 2, 1, 0 in that order."""

    def __init__(self):
        super().__init__()
        estimators = [FlowEstimator(2 * feature_channels(i), FLOW_CONVS[i], FLOW_FILTERS[i])
                      for i in range(len(FLOW_CONVS))]
        self._predictor = estimators[-1]
        self._predictors = nn.ModuleList(estimators[:-1][::-1])

    def forward(self, feats_a: List[torch.Tensor], feats_b: List[torch.Tensor]) -> List[torch.Tensor]:
        """Residual flow pyramid (finest first) of flow a->b: b(p + flow(p)) ~ a(p)."""
        n = len(feats_a)
        specialized = len(self._predictors)
        v = self._predictor(feats_a[-1], feats_b[-1])
        residuals = [v]
        for i in range(n - 2, -1, -1):
            v = upsample_flow(v, feats_a[i])
            predictor = self._predictor if i >= specialized else self._predictors[specialized - 1 - i]
            r = predictor(feats_a[i], warp(feats_b[i], v))
            residuals.insert(0, r)
            v = v + r
        return residuals


def flow_pyramid(residuals: List[torch.Tensor]) -> List[torch.Tensor]:
    """Residual pyramid -> flow pyramid (finest first)."""
    flow = residuals[-1]
    out = [flow]
    for r in residuals[-2::-1]:
        flow = r + upsample_flow(flow, r)
        out.insert(0, flow)
    return out


def fusion_channels(level: int) -> int:
    """Channels of the aligned pyramid at ``level``: 2 x (RGB + features + flow)."""
    return 2 * (3 + feature_channels(level) + 2)


class Fusion(nn.Module):
    """``convs.k`` for level ``3 - k`` (coarse to fine): [2x2 conv after nearest x2 (no
    activation), 3x3 conv over the skip concat, 3x3 conv]; ``output_conv``: 1x1 to RGB."""

    def __init__(self):
        super().__init__()
        levels = []
        cin = fusion_channels(FUSION_LEVELS - 1)
        for i in range(FUSION_LEVELS - 2, -1, -1):
            c = FILTERS << min(i, SPECIALIZED_LEVELS)
            levels.append(nn.ModuleList([Conv(cin, c, 2, act=False), Conv(fusion_channels(i) + c, c, 3), Conv(c, c, 3)]))
            cin = c
        self.convs = nn.ModuleList(levels)
        self.output_conv = nn.Conv2d(FILTERS, 3, 1)

    def forward(self, pyramid: List[torch.Tensor]) -> torch.Tensor:
        x = pyramid[-1]
        for k, (up, c1, c2) in enumerate(self.convs):
            skip = pyramid[len(self.convs) - 1 - k]
            x = up(F.interpolate(x, size=(skip.shape[2], skip.shape[3]), mode="nearest"))
            x = c2(c1(torch.cat([skip, x], dim=1)))
        return self.output_conv(x)


class FilmNet(nn.Module):
    """film_net. forward(img0, img1, dt) -> (frame, flow)."""

    def __init__(self):
        super().__init__()
        self.extract = FeatureExtractor()
        self.predict_flow = PyramidFlowEstimator()
        self.fuse = Fusion()

    def forward(self, img0, img1, dt):
        t = dt.reshape(-1, 1, 1, 1).to(img0.dtype)
        pyr0, pyr1 = image_pyramid(img0, PYRAMID_LEVELS), image_pyramid(img1, PYRAMID_LEVELS)
        feat0, feat1 = self.extract(pyr0), self.extract(pyr1)
        fwd = flow_pyramid(self.predict_flow(feat0, feat1))[:FUSION_LEVELS]  # 0->1: img1(p + f) ~ img0(p)
        bwd = flow_pyramid(self.predict_flow(feat1, feat0))[:FUSION_LEVELS]  # 1->0: img0(p + f) ~ img1(p)
        aligned = []
        for i in range(FUSION_LEVELS):
            to0 = bwd[i] * t          # t -> img0
            to1 = fwd[i] * (1.0 - t)  # t -> img1
            w0 = warp(torch.cat([pyr0[i], feat0[i]], dim=1), to0)
            w1 = warp(torch.cat([pyr1[i], feat1[i]], dim=1), to1)
            aligned.append(torch.cat([w0, w1, to0, to1], dim=1))
            if i == 0:
                flow = torch.cat([to0, to1], dim=1)
        return self.fuse(aligned), flow

    def load_port(self, sd: Dict[str, torch.Tensor]) -> "FilmNet":
        sd = {(k[7:] if k.startswith("module.") else k): v.float() for k, v in sd.items()}
        check_state_dict(self, sd, "FILM film_net (dajes/frame-interpolation-pytorch layout)")
        self.load_state_dict(sd, strict=True)
        return self


def read_weights(path) -> Dict[str, torch.Tensor]:
    """A TorchScript file of the port (``torch.jit.save``) or a plain state dict."""
    path = Path(path)
    try:
        return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
    except RuntimeError:
        pass
    sd = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise ValueError(f"{path.name}: neither a TorchScript module nor a state dict")
    return sd


def seeded(model: nn.Module, seed: int = SEED) -> nn.Module:
    """Deterministic weights: PyTorch's default initialisation from a fixed generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.reset_parameters()
    return model


def build(weights_path: Optional[str] = None) -> Tuple[nn.Module, Dict[str, str]]:
    model = FilmNet()
    if weights_path:
        model.load_port(read_weights(weights_path))
        return model.eval(), {"kind": "real", "source": file_source(weights_path)}
    seeded(model)
    return model.eval(), {"kind": "seeded-random",
                          "source": f"torch seed {SEED} (real: {PORT_URL}, from {OFFICIAL_URL})"}


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def specs():
    from .film_spec import make_specs  # the models import without the exporter package
    return make_specs()
