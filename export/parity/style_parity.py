"""PyTorch references for Prism's style crate (run by `cargo xtask test` before `cargo test`).

Writes to export/out/parity/style/ (git-ignored):

* content.png, style.png, init.png, fast_input.png: the 8-bit inputs both sides read (real
  scikit-image photos, resized here with PIL so that Rust does no resizing of its own).
* grad.f32: torch.autograd gradient of the full neural-style loss (content + Gram style + total
  variation) at init.png, with the loss terms in reference.json.
* adam_final.f32 + reference.json["adam"]["losses"]: 50 steps of torch.optim.Adam from the content
  image, the loss before each step.
* lbfgs_final.f32 + reference.json["lbfgs"]["losses"]: torch.optim.LBFGS (default: no line
  search, lr 1) for 10 iterations.
* fast_output.f32: the style-mosaic TransformerNet on fast_input.png (reflect-padded to a multiple
  of 4, cropped after, 0..255).

Raw .f32 files are little-endian float32 in C order; shapes are in reference.json. The VGG19 and
TransformerNet weights are the ones the ONNX export uses by default (prism_export.style: the real
Caffe VGG19; seeded TransformerNet); the loss weights are Prism's defaults (prism_style::loss).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from prism_export import style  # noqa: E402

OUT = ROOT / "out" / "parity" / "style"
SIZE = 64
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 5.0, 500.0, 2.5e7  # = LossWeights::default()
CONTENT_LAYERS = {"relu4_2": 1.0}
STYLE_LAYERS = {"relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0, "relu4_1": 1.0, "relu5_1": 1.0}
ADAM_LR, ADAM_STEPS = 0.01, 50
LBFGS_ITERS, LBFGS_HISTORY = 10, 100


def save_png(arr: np.ndarray, name: str) -> torch.Tensor:
    """Resized uint8 HxWx3 -> PNG, and back as a [1,3,H,W] 0..1 tensor of exactly those bytes."""
    Image.fromarray(arr).save(OUT / name)
    back = np.asarray(Image.open(OUT / name).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(back.transpose(2, 0, 1))).unsqueeze(0)


def resized(img: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((w, h), Image.BICUBIC))


def gram(f: torch.Tensor) -> torch.Tensor:
    _, c, h, w = f.shape
    m = f.reshape(c, h * w)
    return m @ m.t() / (c * h * w)


def loss_terms(vgg, x, content_targets, style_targets):
    feats = dict(zip(style.VGG19_OUTPUTS, vgg(x)))
    content = sum(CONTENT_WEIGHT * w * F.mse_loss(feats[n], content_targets[n]) for n, w in CONTENT_LAYERS.items())
    sty = sum(STYLE_WEIGHT * w * F.mse_loss(gram(feats[n]), style_targets[n]) for n, w in STYLE_LAYERS.items())
    tv = TV_WEIGHT * (((x[..., :, 1:] - x[..., :, :-1]) ** 2).mean() + ((x[..., 1:, :] - x[..., :-1, :]) ** 2).mean())
    return content, sty, tv


def terms_json(c, s, t):
    c, s, t = float(c.detach()), float(s.detach()), float(t.detach())
    return {"content": c, "style": s, "tv": t, "total": c + s + t}


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    OUT.mkdir(parents=True, exist_ok=True)
    content = save_png(resized(data.astronaut(), SIZE, SIZE), "content.png")
    # Square, so that Prism's style scale 1 (style long side = content long side) does no resizing.
    sty = save_png(resized(data.coffee()[:, 100:500], SIZE, SIZE), "style.png")
    init = save_png(resized(data.chelsea(), SIZE, SIZE), "init.png")

    vgg, info = style.build_vgg19("max")
    for p in vgg.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        cf = dict(zip(style.VGG19_OUTPUTS, vgg(content)))
        sf = dict(zip(style.VGG19_OUTPUTS, vgg(sty)))
    content_targets = {n: cf[n] for n in CONTENT_LAYERS}
    style_targets = {n: gram(sf[n]) for n in STYLE_LAYERS}
    ref = {"vgg_weights": info, "size": SIZE,
           "weights": {"content": CONTENT_WEIGHT, "style": STYLE_WEIGHT, "tv": TV_WEIGHT,
                       "content_layers": CONTENT_LAYERS, "style_layers": STYLE_LAYERS}}

    # Gradient of the whole loss at init.png.
    x = init.clone().requires_grad_(True)
    c, s, t = loss_terms(vgg, x, content_targets, style_targets)
    (c + s + t).backward()
    x.grad.numpy().astype("<f4").tofile(OUT / "grad.f32")
    ref["grad"] = {"shape": list(x.shape), "loss": terms_json(c, s, t)}

    # Adam from the content image.
    x = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=ADAM_LR)
    losses = []
    for _ in range(ADAM_STEPS):
        opt.zero_grad()
        c, s, t = loss_terms(vgg, x, content_targets, style_targets)
        (c + s + t).backward()
        losses.append(terms_json(c, s, t))
        opt.step()
    x.detach().numpy().astype("<f4").tofile(OUT / "adam_final.f32")
    ref["adam"] = {"lr": ADAM_LR, "steps": ADAM_STEPS, "losses": losses, "shape": list(x.shape)}

    # torch.optim.LBFGS with its defaults (no line search, lr 1) from the content image.
    x = content.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=LBFGS_ITERS, history_size=LBFGS_HISTORY,
                            tolerance_grad=0.0, tolerance_change=0.0)
    losses = []

    def closure():
        opt.zero_grad()
        c, s, t = loss_terms(vgg, x, content_targets, style_targets)
        (c + s + t).backward()
        losses.append(terms_json(c, s, t))
        return c + s + t

    opt.step(closure)
    x.detach().numpy().astype("<f4").tofile(OUT / "lbfgs_final.f32")
    ref["lbfgs"] = {"iterations": LBFGS_ITERS, "history": LBFGS_HISTORY, "losses": losses}

    # Fast style: TransformerNet (style-mosaic, seeded) on a size that is not a multiple of 4.
    net, tinfo = style.build_transformer("style-mosaic")
    fin = save_png(resized(data.coffee(), 90, 62), "fast_input.png") * 255.0
    _, _, h, w = fin.shape
    ph, pw = (-h) % 4, (-w) % 4
    with torch.no_grad():
        padded = F.pad(fin, (0, pw, 0, ph), mode="reflect")
        out = net(padded)[:, :, :h, :w]
    out.numpy().astype("<f4").tofile(OUT / "fast_output.f32")
    ref["fast"] = {"model": "style-mosaic", "weights": tinfo, "shape": list(out.shape)}

    (OUT / "reference.json").write_text(json.dumps(ref, indent=1))
    print(f"style parity references written to {OUT}")


if __name__ == "__main__":
    main()
