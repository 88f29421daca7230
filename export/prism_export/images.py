"""Real test images (scikit-image's bundled samples) as NCHW float32 tensors in 0..1."""
from __future__ import annotations

import numpy as np
import torch

# (image name, top, left) of the crops used for parity checks
CROPS = (("astronaut", 40, 180), ("chelsea", 60, 150), ("coffee", 120, 260))


def load_rgb(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return img[..., :3]


def crop_tensor(name: str, top: int, left: int, h: int, w: int) -> torch.Tensor:
    img = load_rgb(name)[top:top + h, left:left + w]
    if img.shape[:2] != (h, w):
        raise ValueError(f"crop {name}@{top},{left} {h}x{w} out of bounds")
    chw = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32) / 255.0
    return torch.from_numpy(chw).unsqueeze(0)


def real_crops(h: int = 64, w: int = 64, n: int = 3) -> list[torch.Tensor]:
    return [crop_tensor(name, t, l, h, w) for name, t, l in CROPS[:n]]
