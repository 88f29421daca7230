"""ModelSpec for FILM (film_net), kept apart from film.py so the network imports without the exporter."""
from __future__ import annotations

import torch

from . import film, rife
from .spec import ModelSpec

# Parity sizes: not square, multiples of 64 (the pyramid's pad multiple).
PARITY_SIZES = ((64, 128), (128, 192))
INPUTS = ["img0", "img1", "dt"]
OUTPUTS = ["frame", "flow"]
LICENCE = ("Apache-2.0 (film_net code: google-research/frame-interpolation; the exported weights here "
           "are seeded random, real ones via --weights)")
# Peak resident memory of one CPU FP32 run of `prism interpolate` (README, FILM): base + per padded
# pixel, an upper bound of the measured 614 MiB (448x256), 3452 MiB (1280x720) and 10124 MiB
# (1920x1080; ONNX Runtime's arena grows in doubling steps, so the need is not linear).
MEMORY_BASE_MIB = 240
MEMORY_BYTES_PER_PIXEL = 5200


def _dt(img, t: float):
    return torch.full((img.shape[0], 1), t)


def dynamic_axes():
    img = {0: "batch", 2: "height", 3: "width"}
    return {"img0": dict(img), "img1": dict(img), "dt": {0: "batch"}, "frame": dict(img), "flow": dict(img)}


def example_inputs(h: int = 64, w: int = 128):
    a, b = rife.example_pair(h, w)
    return (a, b, _dt(a, 0.5))


def parity_inputs():
    cases = []
    for i, (h, w) in enumerate(PARITY_SIZES):
        a, b = rife.example_pair(h, w, seed=i + 1)
        cases.append((a, b, _dt(a, 0.5 if i == 0 else 0.3)))
    try:  # a real frame pair: the ECCV2022-RIFE demo pair 0, resized to 128x192
        a, b = rife.demo_pairs(size=(128, 192))[0]
        cases.append((a, b, _dt(a, 0.5)))
    except Exception:  # no network and no cache: synthetic cases only
        pass
    return cases


def metadata():
    return {
        "prism.pad_multiple": str(film.PAD_MULTIPLE),
        "prism.timestep": "any",
        # trained for the middle frame: other timesteps by recursive bisection unless asked otherwise
        "prism.timestep_mode": "bisect",
        "prism.value_range": "0..1",
        "prism.flow_output": "flow",
        "prism.flow_layout": "t->img0 (x,y) in ch 0:2, t->img1 (x,y) in ch 2:4, pixels, backward warp",
        "prism.memory_base_mib": str(MEMORY_BASE_MIB),
        "prism.memory_bytes_per_pixel": str(MEMORY_BYTES_PER_PIXEL),
        "prism.licence": LICENCE,
    }


def make_specs() -> list[ModelSpec]:
    return [ModelSpec(
        id="film",
        task="interpolate",
        architecture="film-net",
        build=film.build,
        example_inputs=example_inputs,
        fp16_example_inputs=lambda: example_inputs(64, 64),  # PyTorch fp16 convs are slow on CPU
        input_names=list(INPUTS),
        output_names=list(OUTPUTS),
        dynamic_axes=dynamic_axes(),
        metadata=metadata(),
        tol_fp32=1e-4,
        tol_fp16=0.15,
        parity_inputs=parity_inputs,
        accepts_weights_path=True,
        description=("FILM film_net (Reda et al. 2022; dajes/frame-interpolation-pytorch layout): "
                     "seeded random weights, real ones via --weights film_net_fp32.pt"),
        opset=17,
    )]
