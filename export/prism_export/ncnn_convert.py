"""ncnn ``.param`` / ``.bin`` -> PyTorch state dict, for the Real-ESRGAN family.

``.param`` is text: magic ``7767517``, ``layer_count blob_count``, then one
line per layer: ``type name n_bottom n_top bottoms... tops... k=v ...``.
Keys <= -23300 are arrays (``-23310=1,2.0e-01`` -> id 10, [2.0e-01]).

``.bin`` holds, in layer order, each layer's data.  Convolution: a 4-byte tag
(0x01306B47 -> float16 weights follow, 0 -> float32), ``weight_data_size``
weights in (out, in, kh, kw) order, then ``num_output`` float32 biases when
``5=1``.  PReLU: ``0=num_slope`` raw float32 slopes (no tag).
"""
from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

NCNN_MAGIC = 7767517
TAG_FP16 = 0x01306B47
TAG_FP32 = 0
# layer types that carry no weights in the .bin
WEIGHTLESS = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle",
              "ReLU", "Sigmoid", "Crop", "Padding", "Reshape", "Permute", "Noop"}


class NcnnFormatError(ValueError):
    pass


@dataclass
class NcnnLayer:
    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[int, object] = field(default_factory=dict)

    def p(self, key: int, default=None):
        return self.params.get(key, default)


def _parse_value(s: str):
    if any(c in s for c in ".eE") and not s.lstrip("-").isdigit():
        return float(s)
    return int(s)


def parse_param(text: str) -> tuple[list[NcnnLayer], int]:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or int(lines[0]) != NCNN_MAGIC:
        raise NcnnFormatError(f"bad ncnn param magic: {lines[0] if lines else '<empty>'}")
    layer_count, blob_count = (int(x) for x in lines[1].split())
    layers: list[NcnnLayer] = []
    for ln in lines[2:]:
        tok = ln.split()
        ltype, name, nb, nt = tok[0], tok[1], int(tok[2]), int(tok[3])
        bottoms, tops = tok[4:4 + nb], tok[4 + nb:4 + nb + nt]
        if len(tops) != nt:
            raise NcnnFormatError(f"layer {name}: truncated blob list")
        params: dict[int, object] = {}
        for kv in tok[4 + nb + nt:]:
            k, _, v = kv.partition("=")
            key = int(k)
            if key <= -23300:
                items = v.split(",")
                n = int(items[0])
                vals = [_parse_value(x) for x in items[1:]]
                if len(vals) != n:
                    raise NcnnFormatError(f"layer {name}: array param {kv} has {len(vals)} items, header says {n}")
                params[-key - 23300] = vals
            else:
                params[key] = _parse_value(v)
        layers.append(NcnnLayer(ltype, name, bottoms, tops, params))
    if len(layers) != layer_count:
        raise NcnnFormatError(f"param header says {layer_count} layers, found {len(layers)}")
    blobs = {b for l in layers for b in l.tops}
    if len(blobs) != blob_count:
        raise NcnnFormatError(f"param header says {blob_count} blobs, found {len(blobs)}")
    return layers, blob_count


@dataclass
class NcnnConv:
    layer: NcnnLayer
    weight: np.ndarray  # (out, in, kh, kw) float32
    bias: np.ndarray | None
    weight_dtype: str  # "fp16" | "fp32"
    activation: str  # "none" | "leaky_relu(0.2)" | ...


@dataclass
class NcnnWeights:
    layers: list[NcnnLayer]
    convs: list[NcnnConv]
    prelus: list[tuple[NcnnLayer, np.ndarray]]
    order: list[tuple[str, int]]  # ("conv"|"prelu", index) in file order


def _activation(layer: NcnnLayer) -> str:
    act = layer.p(9, 0)
    if act == 0:
        return "none"
    if act == 1:
        return "relu"
    if act == 2:
        slope = layer.p(10, [0.0])
        return f"leaky_relu({slope[0]:g})"
    raise NcnnFormatError(f"layer {layer.name}: unsupported fused activation 9={act}")


def read_weights(param_text: str, bin_bytes: bytes) -> NcnnWeights:
    layers, _ = parse_param(param_text)
    off = 0
    convs: list[NcnnConv] = []
    prelus: list[tuple[NcnnLayer, np.ndarray]] = []
    order: list[tuple[str, int]] = []

    def take(n: int) -> bytes:
        nonlocal off
        if off + n > len(bin_bytes):
            raise NcnnFormatError(f"unexpected end of .bin at offset {off} (+{n}), size {len(bin_bytes)}")
        b = bin_bytes[off:off + n]
        off += n
        return b

    for layer in layers:
        if layer.type == "Convolution":
            out_ch, k = int(layer.p(0)), int(layer.p(1))
            kh = int(layer.p(11, k))
            size = int(layer.p(6))
            for key, want in ((2, 1), (3, 1)):  # dilation, stride
                if int(layer.p(key, 1)) != want:
                    raise NcnnFormatError(f"{layer.name}: unsupported param {key}={layer.p(key)}")
            if int(layer.p(8, 0)) != 0:
                raise NcnnFormatError(f"{layer.name}: int8 quantised convolution not supported")
            if size % (out_ch * k * kh):
                raise NcnnFormatError(f"{layer.name}: weight_data_size {size} not divisible by {out_ch}*{kh}*{k}")
            in_ch = size // (out_ch * k * kh)
            (tag,) = struct.unpack("<I", take(4))
            if tag == TAG_FP16:
                nbytes = size * 2
                raw = take((nbytes + 3) // 4 * 4)[:nbytes]
                w = np.frombuffer(raw, dtype="<f2").astype(np.float32)
                dtype = "fp16"
            elif tag == TAG_FP32:
                w = np.frombuffer(take(size * 4), dtype="<f4").astype(np.float32)
                dtype = "fp32"
            else:
                raise NcnnFormatError(f"{layer.name}: unsupported weight storage tag 0x{tag:08X} at offset {off - 4}")
            bias = None
            if int(layer.p(5, 0)) == 1:
                bias = np.frombuffer(take(out_ch * 4), dtype="<f4").astype(np.float32)
            order.append(("conv", len(convs)))
            convs.append(NcnnConv(layer, w.reshape(out_ch, in_ch, kh, k), bias, dtype, _activation(layer)))
        elif layer.type == "PReLU":
            n = int(layer.p(0, 1))
            slopes = np.frombuffer(take(n * 4), dtype="<f4").astype(np.float32)
            order.append(("prelu", len(prelus)))
            prelus.append((layer, slopes))
        elif layer.type not in WEIGHTLESS:
            raise NcnnFormatError(f"layer {layer.name}: type {layer.type} not supported by this converter")
    if off != len(bin_bytes):
        raise NcnnFormatError(f".bin has {len(bin_bytes) - off} trailing bytes after {off}")
    return NcnnWeights(layers, convs, prelus, order)


def _assign_conv(sd: "OrderedDict[str, torch.Tensor]", name: str, module: nn.Conv2d, c: NcnnConv) -> None:
    if tuple(module.weight.shape) != c.weight.shape:
        raise NcnnFormatError(f"{c.layer.name} -> {name}: shape {c.weight.shape} != {tuple(module.weight.shape)}")
    if (module.bias is None) != (c.bias is None):
        raise NcnnFormatError(f"{c.layer.name} -> {name}: bias presence mismatch")
    sd[f"{name}.weight"] = torch.from_numpy(c.weight.copy())
    if c.bias is not None:
        sd[f"{name}.bias"] = torch.from_numpy(c.bias.copy())


def rrdbnet_state_dict_from_ncnn(model, w: NcnnWeights) -> "OrderedDict[str, torch.Tensor]":
    """Map the ncnn convs (in file order) onto ``model.conv_sequence()``."""
    if w.prelus:
        raise NcnnFormatError("RRDBNet ncnn model must not contain PReLU layers")
    seq = model.conv_sequence()
    if len(seq) != len(w.convs):
        raise NcnnFormatError(f"ncnn model has {len(w.convs)} convolutions, RRDBNet expects {len(seq)}")
    sd: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for (name, module, lrelu), c in zip(seq, w.convs):
        want = "leaky_relu(0.2)" if lrelu else "none"
        if c.activation != want:
            raise NcnnFormatError(f"{c.layer.name} -> {name}: activation {c.activation}, expected {want}")
        _assign_conv(sd, name, module, c)
    interps = [l for l in w.layers if l.type == "Interp"]
    if len(interps) != 2 or any(int(l.p(0)) != 1 or l.p(1) != 2.0 for l in interps):
        raise NcnnFormatError("RRDBNet ncnn model should have exactly two nearest x2 Interp layers")
    return sd


def srvgg_state_dict_from_ncnn(model, w: NcnnWeights) -> "OrderedDict[str, torch.Tensor]":
    """Map interleaved Convolution/PReLU layers onto ``model.body``."""
    body = list(model.body)
    if len(body) != len(w.order):
        raise NcnnFormatError(f"ncnn model has {len(w.order)} weighted layers, SRVGG body has {len(body)}")
    sd: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for i, ((kind, j), module) in enumerate(zip(w.order, body)):
        if kind == "conv":
            if not isinstance(module, nn.Conv2d):
                raise NcnnFormatError(f"body.{i}: ncnn has Convolution, model has {type(module).__name__}")
            c = w.convs[j]
            if c.activation != "none":
                raise NcnnFormatError(f"{c.layer.name}: unexpected fused activation {c.activation}")
            _assign_conv(sd, f"body.{i}", module, c)
        else:
            layer, slopes = w.prelus[j]
            if not isinstance(module, nn.PReLU) or module.weight.numel() != slopes.size:
                raise NcnnFormatError(f"body.{i}: ncnn PReLU({slopes.size}) does not match {module}")
            sd[f"body.{i}.weight"] = torch.from_numpy(slopes.copy())
    shuffles = [l for l in w.layers if l.type == "PixelShuffle"]
    if len(shuffles) != 1 or int(shuffles[0].p(0)) != model.upscale:
        raise NcnnFormatError(f"expected one PixelShuffle by {model.upscale}")
    final_resize = [l for l in w.layers if l.type == "Interp" and int(l.p(0)) == 3]
    got = float(final_resize[0].p(1)) if final_resize else None
    if got != model.out_resize:
        raise NcnnFormatError(f"ncnn final bicubic resize {got} != model out_resize {model.out_resize}")
    return sd


def io_blob_names(param_text: str) -> tuple[str, str]:
    """(input blob, output blob): the Input layer's top and the blob nobody consumes."""
    layers, _ = parse_param(param_text)
    inputs = [l.tops[0] for l in layers if l.type == "Input"]
    consumed = {b for l in layers for b in l.bottoms}
    outs = [t for l in layers for t in l.tops if t not in consumed]
    if len(inputs) != 1 or len(outs) != 1:
        raise NcnnFormatError(f"expected one input and one output blob, got {inputs} / {outs}")
    return inputs[0], outs[0]


def run_ncnn(param_text: str, bin_bytes: bytes, chw: np.ndarray, threads: int = 2) -> np.ndarray:
    """Run the ncnn model on the CPU in fp32 (no Vulkan, no fp16 storage/arithmetic)."""
    import os
    import tempfile

    import ncnn

    in_blob, out_blob = io_blob_names(param_text)
    with tempfile.TemporaryDirectory() as d:
        pp, bp = os.path.join(d, "m.param"), os.path.join(d, "m.bin")
        with open(pp, "w") as f:
            f.write(param_text)
        with open(bp, "wb") as f:
            f.write(bin_bytes)
        net = ncnn.Net()
        net.opt.use_vulkan_compute = False
        net.opt.use_fp16_storage = False
        net.opt.use_fp16_packed = False
        net.opt.use_fp16_arithmetic = False
        net.opt.use_bf16_storage = False
        net.opt.num_threads = threads
        if net.load_param(pp) != 0 or net.load_model(bp) != 0:
            raise RuntimeError("ncnn failed to load the model")
        ex = net.create_extractor()
        ex.input(in_blob, ncnn.Mat(np.ascontiguousarray(chw, dtype=np.float32)))
        ret, out = ex.extract(out_blob)
        if ret != 0:
            raise RuntimeError(f"ncnn extract failed: {ret}")
        result = np.array(out).copy()
        del ex, net
        return result
