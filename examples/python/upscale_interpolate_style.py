"""Upscale, interpolate and stylise with the `prism` Python package: no PyTorch.

    python examples/python/upscale_interpolate_style.py a.png b.png OUT_DIR
"""

import sys
from pathlib import Path

import prism

a, b = prism.read_image(sys.argv[1]), prism.read_image(sys.argv[2])
out = Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
prism.write_image(out / "a_x4.png", prism.Upscaler("realesr-animevideov3-x4").upscale(a))
prism.write_image(out / "mid.png", prism.Interpolator("rife-v4.6").interpolate(a, b, 0.5))
prism.write_image(out / "a_style7.png", prism.FastStyle(style=7).stylize(a))
