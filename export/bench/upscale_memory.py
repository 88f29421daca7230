"""Peak memory of `Upscaler` on large synthetic inputs (4K and 8K squares), against the bound the
crate documents: process after warm-up (runtime, model, session arena) + input image + output
image + one FP32 strip of output rows + one run's tensors.

The network here is a small x4 model built by this script (3x3 conv to 48 channels + depth-to-space
x4, random weights, no prism metadata so the scale is found by a probe run): memory behaviour does
not depend on the weights, and a real x4 network would need hours for 8K x 8K on a CPU.

    export/.venv/bin/python export/bench/upscale_memory.py
"""
import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]


def tiny_x4(path: Path) -> None:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((48, 3, 3, 3)) * 0.1).astype(np.float32)
    b = np.full(48, 0.5, np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w", "b"], ["features"], pads=[1, 1, 1, 1]),
         helper.make_node("DepthToSpace", ["features"], ["output"], blocksize=4, mode="CRD")],
        "tiny_x4",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 3, "H", "W"])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="4096,8192")
    ap.add_argument("--tile", default="auto")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "prism-upscale", "--example", "upscale_bench"],
                   check=True, cwd=ROOT)
    bench = ROOT / "target/release/examples/upscale_bench"
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "tiny_x4.onnx"
        tiny_x4(model)
        for size in args.sizes.split(","):
            out = subprocess.run([str(bench), "--model", str(model), "--size", f"{size}x{size}", "--tile", args.tile],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out)
            print(f"{size}x{size} -> {r['output'][0]}x{r['output'][1]} (tile {r['tile']}): "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB, bound {r['bound_mib']:.0f} MiB "
                  f"(input {r['input_mib']:.0f} + output {r['output_mib']:.0f} + warm process "
                  f"{r['rss_after_warmup_mib']:.0f} + strip/run), within bound: {r['within_bound']}, "
                  f"{r['wall_s']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
