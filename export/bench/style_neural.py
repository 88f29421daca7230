"""Neural-style step time and peak memory of `prism style neural`, per working size.

    export/.venv/bin/python export/bench/style_neural.py --prism target/release/prism [--sizes 128 256 512 1024]

Each size runs the CLI twice (1 and 3 L-BFGS steps, fixed step so every step costs exactly one
forward + one VJP); the time per step is the difference / 2, the peak memory is the larger run's
maximum resident set size (the process: ONNX Runtime arenas included). The multi-scale run
(`--scales 3`) shows that the peak is set by the largest scale.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from skimage import data  # noqa: F401  (for the image folder)
import skimage

DATA = Path(skimage.__file__).parent / "data"


def run(prism: str, size: int, steps: int, scales: int = 1) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [prism, "-q", "style", "neural", str(DATA / "astronaut.png"), "--style", str(DATA / "coffee.png"),
               "-o", os.path.join(tmp, "out.png"), "--size", str(size), "--steps", str(steps),
               "--line-search", "none", "--print-every", "0", "--scales", str(scales), "--device", "cpu"]
        t0 = time.perf_counter()
        # a fresh process per run, so RUSAGE_CHILDREN's maximum is this run's (the largest so far)
        code = f"import resource,subprocess,sys; subprocess.run(sys.argv[1:], check=True); " \
               f"print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        return wall, int(out.stdout.strip().splitlines()[-1]) / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prism", default="target/release/prism")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    args = ap.parse_args()
    print(f"{'size':>6} {'s/step':>8} {'peak MiB':>9}")
    for size in args.sizes:
        t1, _ = run(args.prism, size, 1)
        t3, peak = run(args.prism, size, 3)
        print(f"{size:>6} {(t3 - t1) / 2:>8.2f} {peak:>9.0f}", flush=True)
    big = max(args.sizes)
    t, peak = run(args.prism, big, 1, scales=3)
    print(f"multi-scale 3 levels up to {big}: 1 step per level, {t:.1f} s, peak {peak:.0f} MiB")


if __name__ == "__main__":
    main()
