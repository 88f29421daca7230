"""Super-resolution quality on real photographs: PSNR / SSIM of Prism's upscale against the
originals, beside bicubic and Lanczos baselines.

Each photo (scikit-image data) is cropped to 256x256, downscaled x4 with bicubic (PIL, antialiased),
upscaled back x4 by `prism upscale` with each model, and compared with the original crop.
Note: Real-ESRGAN models are trained for perceptual quality on real degradations, not for PSNR;
they can score below bicubic on PSNR while looking much sharper.

    export/.venv/bin/python export/bench/upscale_quality.py [--prism target/release/prism]
"""
import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = [("astronaut", 100, 150), ("chelsea", 20, 100), ("coffee", 100, 200), ("rocket", 100, 200)]
MODELS = ["realesrgan-x4plus", "realesr-animevideov3-x4"]
SIZE = 256


def metrics(ref: np.ndarray, img: np.ndarray) -> tuple[float, float]:
    return (peak_signal_noise_ratio(ref, img, data_range=255),
            structural_similarity(ref, img, channel_axis=2, data_range=255))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prism", default=str(ROOT / "target/release/prism"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, top, left in PHOTOS:
            hr = getattr(data, name)()[top:top + SIZE, left:left + SIZE, :3]
            lr = Image.fromarray(hr).resize((SIZE // 4, SIZE // 4), Image.BICUBIC)
            lr_path = tmp / f"{name}.png"
            lr.save(lr_path)
            results = {
                "bicubic": np.asarray(lr.resize((SIZE, SIZE), Image.BICUBIC)),
                "lanczos": np.asarray(lr.resize((SIZE, SIZE), Image.LANCZOS)),
            }
            for model in MODELS:
                out = tmp / f"{name}_{model}.png"
                subprocess.run([args.prism, "upscale", str(lr_path), "-o", str(out), "--model", model,
                                "--device", "cpu", "--no-progress", "-q"], check=True)
                results[model] = np.asarray(Image.open(out).convert("RGB"))
            for method, img in results.items():
                psnr, ssim = metrics(hr, img)
                rows.append({"photo": name, "method": method, "psnr_db": round(psnr, 2), "ssim": round(ssim, 4)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    methods = ["bicubic", "lanczos"] + MODELS
    print(f"x4 upscale of {SIZE // 4}x{SIZE // 4} bicubic-downscaled crops, PSNR dB / SSIM against the {SIZE}x{SIZE} originals")
    print(f"{'photo':<16}" + "".join(f"{m:>28}" for m in methods))
    for name, _, _ in PHOTOS:
        cells = []
        for m in methods:
            r = next(r for r in rows if r["photo"] == name and r["method"] == m)
            cells.append(f"{r['psnr_db']:>19.2f} / {r['ssim']:.3f}")
        print(f"{name:<16}" + "".join(cells))
    print(f"{'mean':<16}" + "".join(
        f"{np.mean([r['psnr_db'] for r in rows if r['method'] == m]):>19.2f} / "
        f"{np.mean([r['ssim'] for r in rows if r['method'] == m]):.3f}" for m in methods))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
