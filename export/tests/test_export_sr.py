"""End-to-end export of SR models into a tmp dir: files, metadata, dynamic shapes, parity, manifest."""
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from prism_export import exporter, images, registry

SR_IDS = ["realesrgan-x4plus", "realesrgan-x4plus-anime", "realesrgan-x2plus", "esrgan-x4",
          "realesr-animevideov3-x2", "realesr-animevideov3-x3", "realesr-animevideov3-x4",
          "realesr-general-x4v3"]
REAL = {"realesrgan-x4plus", "realesrgan-x4plus-anime", "realesr-animevideov3-x2",
        "realesr-animevideov3-x3", "realesr-animevideov3-x4"}


def test_registry_has_all_sr_models():
    specs = {s.id: s for s in registry.all_specs()}
    for i in SR_IDS:
        assert i in specs, i
        s = specs[i]
        assert s.task == "upscale" and s.input_names == ["input"] and s.output_names == ["output"]
        for k in ("prism.scale", "prism.pad_multiple", "prism.value_range", "prism.color"):
            assert k in s.metadata
    assert specs["realesrgan-x2plus"].metadata["prism.pad_multiple"] == "2"
    assert specs["realesr-animevideov3-x3"].metadata["prism.scale"] == "3"


def _small_x2_build(weights_path=None):
    """realesrgan-x2plus structure (pixel-unshuffle, 12-channel conv_first) with 2 blocks, for speed."""
    from prism_export import sr_arch as A

    ref = A.seeded_init_(A.RRDBNet(scale=2, num_block=2), 5, 0.5)
    model, _ = A.rrdbnet_from_state_dict({"params_ema": ref.state_dict()}, scale=2)
    return model, {"kind": "seeded-random", "source": "test: 2-block x2 RRDBNet seed=5"}


@pytest.mark.parametrize("model_id", ["realesr-animevideov3-x3", "realesrgan-x2plus"])
def test_export_and_verify(tmp_path, model_id):
    import dataclasses

    spec = registry.get_specs([model_id])[0]
    if model_id == "realesrgan-x2plus":  # the full 23-block net is exported by `export --all`
        spec = dataclasses.replace(spec, build=_small_x2_build)
    entry = exporter.process(spec, tmp_path)
    scale = int(spec.metadata["prism.scale"])
    for precision in ("fp32", "fp16"):
        path = tmp_path / entry["files"][precision]["path"]
        assert path.exists() and entry["files"][precision]["size_bytes"] == path.stat().st_size
        m = onnx.load(str(path))
        assert m.opset_import[0].version >= 17
        meta = {p.key: p.value for p in m.metadata_props}
        assert meta["prism.model_id"] == model_id and meta["prism.task"] == "upscale"
        assert meta["prism.precision"] == precision and meta["prism.scale"] == str(scale)
        assert meta["prism.weights"] == ("real" if model_id in REAL else "seeded-random")
        assert meta["prism.exporter"].startswith("prism_export ")
        assert meta["prism.layout"] == "NCHW" and meta["prism.value_range"] == "0..1"
        assert meta["prism.licence"].startswith("BSD-3-Clause" if model_id in REAL else "seeded-random")
        # float32 in and out for both precisions; the fp16 file holds float16 weights
        (inp,), (out,) = m.graph.input, m.graph.output
        assert inp.name == "input" and out.name == "output"
        assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        weight_types = {i.data_type for i in m.graph.initializer if len(i.dims) > 1}
        assert weight_types == {onnx.TensorProto.FLOAT16 if precision == "fp16" else onnx.TensorProto.FLOAT}
        dims = inp.type.tensor_type.shape.dim
        assert dims[0].dim_param and dims[1].dim_value == 3 and dims[2].dim_param and dims[3].dim_param
        assert {n.domain for n in m.graph.node} <= {"", "ai.onnx"}
        # every PyTorch parameter is one graph initializer element (nothing folded in or lost)
        assert entry["files"][precision]["onnx_initializer_elements"] == entry["files"][precision]["parameter_count"]
        par = entry["files"][precision]["parity"]
        assert par["passed"] and par["max_abs_diff"] <= par["tolerance"] and par["all_finite"]
        if precision == "fp16":
            assert par["psnr_floor_db"] == 45.0 and par["psnr_db"] >= 45.0
    assert entry["files"]["fp32"]["parity"]["max_abs_diff"] <= 1e-4
    # the fp16 file takes the same float32 input as the fp32 one and returns float32
    fp16 = exporter.ort_session(tmp_path / entry["files"]["fp16"]["path"])
    x16 = images.crop_tensor("coffee", 30, 40, 16, 20).numpy()
    y16 = fp16.run(None, {"input": x16})[0]
    assert y16.dtype == np.float32 and y16.shape == (1, 3, 16 * scale, 20 * scale) and np.isfinite(y16).all()
    # a fresh size (batch 2, non-square) through the fp32 graph
    sess = exporter.ort_session(tmp_path / entry["files"]["fp32"]["path"])
    x = torch.cat([images.crop_tensor("coffee", 10, 10, 18, 26), images.crop_tensor("chelsea", 10, 10, 18, 26)])
    y = sess.run(None, {"input": x.numpy()})[0]
    assert y.shape == (2, 3, 18 * scale, 26 * scale)
    model, _ = exporter.build_model(spec)
    with torch.no_grad():
        ref = model(x).numpy()
    assert float(np.abs(y - ref).max()) <= 1e-4
    # verify (no export) recomputes the same numbers from the files
    again = exporter.process(spec, tmp_path, do_export=False)
    assert again["files"]["fp32"]["sha256"] == entry["files"]["fp32"]["sha256"]
    exporter.save_manifest(tmp_path, [entry])
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert [e["id"] for e in data] == [model_id]
    assert data[0]["scale"] == scale and data[0]["weights"]["kind"] in ("real", "seeded-random")


def test_weights_path_pth_in_original_layout(tmp_path):
    from prism_export import sr_arch as A

    ref = A.seeded_init_(A.RRDBNet(scale=4, num_feat=16, num_block=2, num_grow_ch=8), 7, 0.5)
    pth = tmp_path / "ESRGAN_small.pth"
    torch.save(A.to_layout(ref.state_dict(), "esrgan-original"), pth)
    spec = registry.get_specs(["esrgan-x4"])[0]
    model, info = exporter.build_model(spec, str(pth))
    assert info["kind"] == "real" and "layout=esrgan-original" in info["source"]
    x = images.crop_tensor("astronaut", 0, 0, 12, 12)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))


def test_cli_list_and_bad_args():
    run = lambda *a: subprocess.run([sys.executable, "-m", "prism_export", *a], capture_output=True, text=True,
                                    cwd=str(exporter.EXPORT_DIR))
    r = run("list")
    assert r.returncode == 0, r.stderr
    for i in SR_IDS:
        assert i in r.stdout
    assert run("export", "no-such-model").returncode == 2
    assert run("export").returncode == 2
    assert run("export", "--weights", "x.pth", "esrgan-x4", "realesrgan-x4plus").returncode == 2


def test_cli_export_with_weights_file(tmp_path):
    """`export esrgan-x4 --weights X.pth` end to end, with a small 2019-layout state dict in `params_ema`."""
    from prism_export import sr_arch as A

    ref = A.seeded_init_(A.RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4), 11, 0.5)
    pth = tmp_path / "RRDB_small.pth"
    torch.save({"params_ema": A.to_layout(ref.state_dict(), "esrgan-2019")}, pth)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "prism_export", "export", "esrgan-x4", "--weights", str(pth),
                        "--out", str(out)], capture_output=True, text=True, cwd=str(exporter.EXPORT_DIR))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[esrgan-x4] export fp32" in r.stdout and "parity onnxruntime fp16" in r.stdout
    (entry,) = json.loads((out / "manifest.json").read_text())
    assert entry["weights"]["kind"] == "real" and "layout=esrgan-2019" in entry["weights"]["source"]
    assert entry["files"]["fp32"]["parameter_count"] == sum(p.numel() for p in ref.parameters())
    m = onnx.load(str(out / entry["files"]["fp16"]["path"]))
    meta = {p.key: p.value for p in m.metadata_props}
    assert meta["prism.weights"] == "real" and meta["prism.weights_source"].startswith("file:RRDB_small.pth sha256=")
    x = images.crop_tensor("chelsea", 30, 30, 20, 24)
    y = exporter.ort_session(out / entry["files"]["fp32"]["path"]).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        assert float(np.abs(y - ref(x).numpy()).max()) <= 1e-4


def test_verify_catches_wrong_weights(tmp_path):
    """verify must fail when the files no longer match what the spec builds."""
    import dataclasses

    spec = registry.get_specs(["realesr-animevideov3-x4"])[0]
    exporter.process(spec, tmp_path)

    def perturbed_build(weights_path=None):
        model, info = spec.build()
        with torch.no_grad():
            model.body[-1].bias.add_(0.01)
        return model, info

    bad = dataclasses.replace(spec, build=perturbed_build)
    with pytest.raises(exporter.ParityError) as err:
        exporter.process(bad, tmp_path, do_export=False)
    fp32 = err.value.entry["files"]["fp32"]["parity"]
    assert not fp32["passed"] and 0.005 < fp32["max_abs_diff"] < 0.02
