"""FILM (film_net): the port's weight layout loads, warping semantics, ONNX parity at non-square sizes.

No FILM weights are reachable offline: the network is seeded; the loader test builds a TorchScript
file with the port's parameter names (from the port's own channel arithmetic, not from FilmNet).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from prism_export import exporter, film, rife  # noqa: E402
from prism_export.film_spec import INPUTS, OUTPUTS, dynamic_axes  # noqa: E402
from prism_export.weights import WeightsMismatch  # noqa: E402

torch.set_num_threads(1)


def port_layout() -> dict[str, tuple[int, ...]]:
    """Key -> shape of dajes/frame-interpolation-pytorch's Interpolator() (defaults: 7 levels,
    4 sub-levels, 3 specialized, 64 filters, flow convs (3,3,3,3), flow filters (32,64,128,256))."""
    out: dict[str, tuple[int, ...]] = {}

    def conv(name, cin, cout, k):
        out[f"{name}.0.weight"] = (cout, cin, k, k)
        out[f"{name}.0.bias"] = (cout,)

    cin = 3
    for i in range(4):
        conv(f"extract.extract_sublevels.convs.{i}.0", cin, 64 << i, 3)
        conv(f"extract.extract_sublevels.convs.{i}.1", 64 << i, 64 << i, 3)
        cin = 64 << i
    ins, c = [], 128  # the port: in_channels = filters << 1, then += filters << (i + 2)
    for i in range(4):
        ins.append(c)
        c += 64 << (i + 2)
    for name, cin, f in [("predict_flow._predictor", ins[3], 256)] + [
            (f"predict_flow._predictors.{k}", ins[2 - k], (32, 64, 128)[2 - k]) for k in range(3)]:
        for j in range(3):
            conv(f"{name}._convs.{j}", cin if j == 0 else f, f, 3)
        conv(f"{name}._convs.3", f, f // 2, 1)
        conv(f"{name}._convs.4", f // 2, 2, 1)
    # the port's comment: in_channels = (128, 202, 256, 522, 512, 1162, 1930, 2442)
    fuse = [(1930, 2442, 512), (512, 1162, 256), (256, 522, 128), (128, 202, 64)]
    for k, (up_in, skip_in, f) in enumerate(fuse):
        conv(f"fuse.convs.{k}.0", up_in, f, 2)
        conv(f"fuse.convs.{k}.1", skip_in, f, 3)
        conv(f"fuse.convs.{k}.2", f, f, 3)
    out["fuse.output_conv.weight"] = (3, 64, 1, 1)
    out["fuse.output_conv.bias"] = (3,)
    return out


class ParamTree(nn.Module):
    """A module that only holds parameters under dotted names (what a TorchScript file of the port carries)."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        super().__init__()
        for key, value in tensors.items():
            *path, leaf = key.split(".")
            node = self
            for part in path:
                if not hasattr(node, part):
                    node.add_module(part, nn.Module())
                node = getattr(node, part)
            node.register_parameter(leaf, nn.Parameter(value, requires_grad=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.fixture(scope="module")
def model():
    return film.build()[0]


def test_layout_is_the_ports(model):
    want = port_layout()
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == want
    assert film.count_params(model) == 34_436_667


def test_torchscript_file_in_the_port_layout_loads(tmp_path):
    g = torch.Generator().manual_seed(7)
    tensors = {k: (torch.randn(s, generator=g) * 0.01).half() for k, s in port_layout().items()}
    path = tmp_path / "film_net_fp16.pt"  # the port's default release is a scripted fp16 module
    torch.jit.script(ParamTree(tensors)).save(str(path))
    m, info = film.build(weights_path=str(path))
    assert info["kind"] == "real" and info["source"].startswith("file:film_net_fp16.pt sha256=")
    sd = m.state_dict()
    for k, v in tensors.items():
        assert sd[k].dtype == torch.float32 and torch.equal(sd[k], v.float()), k
    # the same through a plain state dict file
    torch.save({k: v.float() for k, v in tensors.items()}, tmp_path / "sd.pth")
    m2, _ = film.build(weights_path=str(tmp_path / "sd.pth"))
    assert torch.equal(m2.state_dict()["fuse.output_conv.weight"], tensors["fuse.output_conv.weight"].float())


def test_wrong_file_names_every_difference(tmp_path):
    tensors = {k: torch.zeros(s) for k, s in port_layout().items()}
    tensors.pop("fuse.output_conv.bias")
    tensors["fuse.convs.3.0.0.weight"] = torch.zeros(64, 127, 2, 2)
    torch.save(tensors, tmp_path / "bad.pth")
    with pytest.raises(WeightsMismatch) as e:
        film.build(weights_path=str(tmp_path / "bad.pth"))
    assert "fuse.output_conv.bias" in str(e.value) and "fuse.convs.3.0.0.weight" in str(e.value)


def port_warp(image, flow):
    """The port's util.warp (linspace grid, align_corners=False, border), re-derived."""
    n, _, h, w = flow.shape
    gx = torch.linspace(-(1 - 1 / w), 1 - 1 / w, w)[None, None, :] + flow[:, 0] * 2 / w
    gy = torch.linspace(-(1 - 1 / h), 1 - 1 / h, h)[None, :, None] + flow[:, 1] * 2 / h
    return F.grid_sample(image, torch.stack([gx, gy], dim=3), mode="bilinear", padding_mode="border",
                         align_corners=False)


def test_warp_semantics():
    g = torch.Generator().manual_seed(3)
    img = torch.rand(2, 5, 12, 20, generator=g)
    flow = torch.randn(2, 2, 12, 20, generator=g) * 4
    assert torch.allclose(film.warp(img, flow), port_warp(img, flow), atol=1e-5)
    shift = torch.zeros(1, 2, 12, 20)
    shift[:, 0], shift[:, 1] = 3.0, 2.0  # out(p) = img(p + (3, 2))
    out = film.warp(img[:1], shift)
    assert torch.allclose(out[..., :8, :15], img[:1, :, 2:10, 3:18], atol=1e-6)


def test_flow_output_scales_with_dt(model):
    a, b = rife.example_pair(64, 128, seed=5)
    with torch.no_grad():
        _, f0 = model(a, b, torch.zeros(1, 1))
        _, f3 = model(a, b, torch.full((1, 1), 0.3))
        _, f1 = model(a, b, torch.ones(1, 1))
    assert float(f0[:, 0:2].abs().max()) == 0.0 and float(f1[:, 2:4].abs().max()) == 0.0
    assert torch.allclose(f3[:, 0:2], f1[:, 0:2] * 0.3, atol=1e-5)
    assert torch.allclose(f3[:, 2:4], f0[:, 2:4] * 0.7, atol=1e-5)


def _run(path, a, b, dt):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run(OUTPUTS, {"img0": a.numpy(), "img1": b.numpy(), "dt": dt.numpy()})


def _cases():
    a, b = rife.demo_pairs(size=(128, 192))[1]  # real frames (ECCV2022-RIFE demo pair 1)
    c, d = rife.example_pair(64, 192, seed=2)
    return [(a, b, torch.full((1, 1), 0.5)), (c, d, torch.full((1, 1), 0.3))]


def test_onnx_fp32_parity_dynamic_sizes(model, tmp_path):
    path = tmp_path / "film.onnx"
    with torch.no_grad():
        torch.onnx.export(model, film_example(), str(path), input_names=INPUTS, output_names=OUTPUTS,
                          dynamic_axes=dynamic_axes(), opset_version=17, dynamo=False)
    for a, b, dt in _cases():
        with torch.no_grad():
            ref = model(a, b, dt)
        for got, want in zip(_run(path, a, b, dt), ref):
            assert got.shape == tuple(want.shape)
            assert np.abs(got - want.numpy()).max() < 1e-4


def film_example():
    a, b = rife.example_pair(64, 128)
    return (a, b, torch.full((1, 1), 0.5))


def test_exported_files_parity(model):
    """The files `python -m prism_export export film` wrote (FP32 and FP16) against PyTorch FP32."""
    out = exporter.DEFAULT_OUT / "film"
    if not (out / "film.fp16.onnx").exists():
        pytest.skip("film is not exported (python -m prism_export export film)")
    a, b, dt = _cases()[0]
    with torch.no_grad():
        frame, flow = (x.numpy() for x in model(a, b, dt))
    f32, w32 = _run(out / "film.fp32.onnx", a, b, dt)
    assert np.abs(f32 - frame).max() < 1e-4 and np.abs(w32 - flow).max() < 1e-4
    f16, w16 = _run(out / "film.fp16.onnx", a, b, dt)
    assert np.isfinite(f16).all() and np.isfinite(w16).all()
    assert exporter.psnr_db(f16, frame, 1.0) > 40.0
    assert np.abs(w16 - flow).max() < 0.15
