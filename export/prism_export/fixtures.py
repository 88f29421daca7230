"""Tiny test fixtures built from the same classes and exporter as the real models.

``python -m prism_export fixtures DIR`` writes, for each task contract, a seeded
fp32 ONNX file a few KB in size with the same input/output names, dynamic axes and
``prism.*`` metadata keys as the full-size export (so engine tests can run every
code path without the large files):

* ``tiny-srvgg-x4``  SRVGGNetCompact, 4 features, 2 convs, x4
* ``tiny-rrdb-x2``   RRDBNet, 1 RRDB block, 4 features (grow 4), x2 (pixel-unshuffle path)
* ``tiny-rife-v4``   IFNetV4 with IFBlocks of c = 4 (img0, img1, timestep -> frame, flow)

TransformerNet (fixed width) and VGG19 (fixed architecture) have no tiny form.
Each file is checked against PyTorch with onnxruntime before it is kept.
"""
from __future__ import annotations

from pathlib import Path

import torch

from . import images, rife
from .exporter import export_onnx, onnx_parity, torch_reference
from .spec import ModelSpec
from .sr_arch import RRDBNet, SRVGGNetCompact, seeded_init_

LICENCE = "seeded-random (no licence restriction)"


def _sr_spec(id: str, arch: str, model: torch.nn.Module, scale: int, pad: int) -> tuple[ModelSpec, torch.nn.Module]:
    crop = lambda h, w: (images.crop_tensor("astronaut", 40, 180, h, w),)  # noqa: E731
    spec = ModelSpec(id=id, task="upscale", architecture=arch, build=lambda: None,
                     example_inputs=lambda: crop(16, 16), parity_inputs=lambda: [crop(12, 20), crop(16, 8)],
                     metadata={"prism.scale": str(scale), "prism.pad_multiple": str(pad), "prism.value_range": "0..1",
                               "prism.color": "RGB", "prism.licence": LICENCE},
                     precisions=("fp32",), description=f"tiny {arch} test fixture")
    return spec, model


def _tiny_rife() -> tuple[ModelSpec, torch.nn.Module]:
    torch.manual_seed(7)  # ConvTranspose2d keeps its default init: make that deterministic too
    model = rife.IFNetV4(refine=False)
    for i, cin in enumerate((7, 12, 12, 12)):
        setattr(model, f"block{i}", rife.IFBlockV4(cin, c=4))
    seeded_init_(model, 7, conv_std_scale=0.5)
    pair = lambda h, w, s: rife.example_pair(h, w, seed=s) + (torch.full((1, 1, 1, 1), 0.5),)  # noqa: E731
    arch, _, _, extra = rife.MODELS["rife-v4.0"]
    md = rife._metadata("any", {**extra, "prism.licence": LICENCE})
    spec = ModelSpec(id="tiny-rife-v4", task="interpolate", architecture=arch + "-tiny", build=lambda: None,
                     example_inputs=lambda: pair(32, 64, 0), parity_inputs=lambda: [pair(64, 32, 1)],
                     input_names=list(rife.RIFE_INPUTS_T), output_names=list(rife.RIFE_OUTPUTS),
                     dynamic_axes=rife.dynamic_axes(True), metadata=md, precisions=("fp32",),
                     description="tiny IFNetV4 (c = 4) test fixture")
    return spec, model


def tiny_specs() -> list[tuple[ModelSpec, torch.nn.Module]]:
    return [
        _sr_spec("tiny-srvgg-x4", "SRVGGNetCompact", seeded_init_(SRVGGNetCompact(3, 3, 4, 2, 4), 1), 4, 1),
        _sr_spec("tiny-rrdb-x2", "RRDBNet",
                 seeded_init_(RRDBNet(scale=2, num_feat=4, num_block=1, num_grow_ch=4), 2, 0.5), 2, 2),
        _tiny_rife(),
    ]


def write_fixtures(out_dir: Path, log=print) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec, model in tiny_specs():
        model = model.float().eval()
        path = out_dir / f"{spec.id}.fp32.onnx"
        info = {"kind": "seeded-random", "source": f"prism_export.fixtures ({spec.description})"}
        export_onnx(spec, model, info, "fp32", path)
        inputs = spec.get_parity_inputs()
        r = onnx_parity(spec, path, "fp32", inputs, torch_reference(model, inputs))
        if not r["passed"]:
            path.unlink()
            raise AssertionError(f"{spec.id}: {r['problems']}")
        log(f"{path}  {path.stat().st_size} bytes  max_abs={r['max_abs_diff']:.2g}")
        written.append(path)
    return written
