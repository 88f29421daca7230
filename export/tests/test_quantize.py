"""INT8 variants (prism_export.quantize): the gate's figures, and shipping only what passes.

Runs on the tiny SRVGG fixture (4 convolutions), so the whole search takes seconds."""
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from prism_export import exporter, quantize

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests/fixtures/tiny/tiny-srvgg-x4.fp32.onnx"
FAST = quantize.Recipe(crop=32, per_photo=1, held_per_photo=1, methods=("MinMax",), keep_fp32=(0, 1))


def test_held_out_photos_are_never_calibrated_on():
    assert not set(quantize.CALIBRATION) & set(quantize.HELD_OUT)
    cal = quantize.crops(quantize.CALIBRATION, 32, 1, seed=1)
    held = quantize.crops(quantize.HELD_OUT, 32, 1, seed=3)
    assert len(cal) == len(quantize.CALIBRATION) and all(x.shape == (1, 3, 32, 32) for x in cal + held)
    assert all(0.0 <= x.min() and x.max() <= 1.0 for x in cal)
    # Real photos, not flat fields: each crop has texture.
    assert min(float(x.std()) for x in held) > 0.02


def test_gate_figures_and_thresholds():
    ref = [np.full((1, 3, 8, 8), 0.5, np.float32)]
    # Uniform error of 0.01: PSNR exactly 40 dB, every pixel 2.55/255 off.
    fig = quantize.compare(ref, [ref[0] + 0.01])
    assert fig["psnr_db"] == pytest.approx(40.0, abs=0.01)
    assert fig["p999_abs_255"] == pytest.approx(2.55, abs=0.01)
    assert quantize.passes(fig)
    assert not quantize.passes(quantize.compare(ref, [ref[0] + 0.0105]))  # 39.6 dB
    # Rare large errors: one pixel in 12288 far off passes; 30 (0.24 %) pass PSNR but fail p99.9.
    big = [np.full((1, 3, 64, 64), 0.5, np.float32)]
    out = big[0].copy().ravel()
    out[:1] += 0.2
    fig = quantize.compare(big, [out.reshape(big[0].shape)])
    assert fig["max_abs_255"] == pytest.approx(51.0, abs=0.01) and fig["p999_abs_255"] < 1
    assert quantize.passes(fig)
    out[:30] = 0.7
    fig = quantize.compare(big, [out.reshape(big[0].shape)])
    assert fig["psnr_db"] > 40 and fig["p999_abs_255"] > 8 and not quantize.passes(fig)
    # The worst crop decides, not the mean.
    two = quantize.compare(ref * 2, [ref[0], ref[0] + 0.02])
    assert two["psnr_db"] == pytest.approx(33.98, abs=0.01)


def _export_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "tiny").mkdir(parents=True)
    shutil.copy(TINY, out / "tiny/tiny.fp32.onnx")
    entry = {"id": "tiny", "files": {"fp32": {"path": "tiny/tiny.fp32.onnx",
                                              "sha256": exporter.sha256_file(out / "tiny/tiny.fp32.onnx")}}}
    (out / "manifest.json").write_text(json.dumps([entry]))
    return out


def _listed(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())[0]["files"]


def test_only_a_passing_variant_is_shipped(tmp_path, monkeypatch):
    out = _export_dir(tmp_path)
    logs = []
    rec = quantize.quantize_model("tiny", out, FAST, log=logs.append)
    int8 = out / "tiny/tiny.int8.onnx"
    report = json.loads((out / "int8_report.json").read_text())["tiny"]
    assert report["passed"] == rec["passed"] and report["tried"]
    assert rec["held_out"] == list(quantize.HELD_OUT) and rec["method"] == "MinMax"
    if rec["passed"]:
        files = _listed(out)
        assert files["int8"]["gate"]["psnr_db"] == rec["psnr_db"] >= quantize.GATE_PSNR_DB
        assert files["int8"]["sha256"] == exporter.sha256_file(int8)
        m = onnx.load(str(int8))
        assert {p.key: p.value for p in m.metadata_props}["prism.precision"] == "int8"
        assert any(n.op_type == "QuantizeLinear" for n in m.graph.node)
        # Cached: the same FP32 file and recipe are not redone.
        again = quantize.quantize_model("tiny", out, FAST, log=logs.append)
        assert "up to date" in logs[-1] and again["psnr_db"] == rec["psnr_db"]
    # A gate it cannot meet: reported, the file deleted and the manifest no longer lists it.
    monkeypatch.setattr(quantize, "GATE_PSNR_DB", 500.0)
    rec = quantize.quantize_model("tiny", out, FAST, force=True, log=logs.append)
    assert not rec["passed"] and "FAILED" in logs[-1]
    assert not int8.exists() and "int8" not in _listed(out)
    assert json.loads((out / "int8_report.json").read_text())["tiny"]["passed"] is False


def test_reexport_keeps_the_variant_only_while_its_source_is_unchanged(tmp_path):
    out = tmp_path
    gate = {"passed": True, "source_sha256": "a" * 64}
    old = {"id": "m", "files": {"fp32": {"sha256": "a" * 64}, "int8": {"path": "m/m.int8.onnx", "gate": gate}}}
    exporter.save_manifest(out, [old])
    exporter.save_manifest(out, [{"id": "m", "files": {"fp32": {"sha256": "a" * 64}}}])
    assert "int8" in _listed(out)
    exporter.save_manifest(out, [{"id": "m", "files": {"fp32": {"sha256": "b" * 64}}}])
    assert "int8" not in _listed(out)


def test_style_is_gated_by_ssim():
    rng = np.random.default_rng(0)
    ref = [rng.random((1, 3, 64, 64), dtype=np.float32) * 0.8 + 0.1]
    # A slight uniform shift: the same picture (SSIM ~1) though PSNR is under 40 dB.
    fig = quantize.compare(ref, [ref[0] + 0.015])
    assert fig["psnr_db"] < quantize.GATE_PSNR_DB and fig["ssim"] > 0.99
    assert quantize.passes(fig, "style") and not quantize.passes(fig, "sr")
    # Noise that changes the texture: fails.
    fig = quantize.compare(ref, [np.clip(ref[0] + rng.normal(0, 0.08, ref[0].shape), 0, 1).astype(np.float32)])
    assert fig["ssim"] < quantize.GATE_SSIM and not quantize.passes(fig, "style")


def test_rife_samples_are_pairs_of_one_photo_panned(tmp_path):
    from onnx import TensorProto, helper

    # A graph with RIFE's inputs: frame = (img0 + img1) * timestep.
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in
          [("img0", [1, 3, "h", "w"]), ("img1", [1, 3, "h", "w"]), ("timestep", [1, 1, 1, 1])]]
    graph = helper.make_graph([helper.make_node("Add", ["img0", "img1"], ["s"]),
                               helper.make_node("Mul", ["s", "timestep"], ["frame"])], "rife-like", io,
                              [helper.make_tensor_value_info("frame", TensorProto.FLOAT, None)])
    path = tmp_path / "rife.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    feeds = quantize.samples(path, "rife", quantize.HELD_OUT, 64, 2, seed=3)
    assert len(feeds) == 2 * len(quantize.HELD_OUT)
    p = quantize.PAN
    for f in feeds:
        a, b = f["img0"], f["img1"]
        assert a.shape == b.shape == (1, 3, 64, 64) and f["timestep"].item() == 0.5
        # b is a moved by (dy, dx), |dy|, |dx| <= PAN: the overlap matches exactly for one shift.
        shifts = [(dy, dx) for dy in range(-p, p + 1) for dx in range(-p, p + 1)
                  if np.array_equal(a[..., max(dy, 0):64 + min(dy, 0), max(dx, 0):64 + min(dx, 0)],
                                    b[..., max(-dy, 0):64 + min(-dy, 0), max(-dx, 0):64 + min(-dx, 0)])]
        assert len(shifts) == 1, shifts
    moved = [f for f in feeds if not np.array_equal(f["img0"], f["img1"])]
    assert len(moved) >= len(feeds) - 1  # a zero pan is possible, not for most pairs
    assert len(quantize.outputs(path, feeds[:1])) == 1
