"""Is a Conv-only INT8 QDQ graph faster than FP32 here? Speed only, no quality gate.

Builds QDQ variants of one exported SR model with the quantiser's settings (per-channel INT8
weights, convolutions only, first and last in FP32, calibrated on the calibration photos) and a few
alternatives (INT8 activations, symmetric activations, asymmetric weights, every convolution
quantised) into a temporary directory, then times each against FP32 with bare ONNX Runtime on the
same astronaut crop, interleaved, and reports what ORT's optimised graph made of the convolutions
(fused ``QLinearConv`` or float ``Conv``) and the per-convolution kernel times from its profiler.

    export/.venv/bin/python export/bench/int8_speed.py [--model ID] [--size 128] [--runs 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "export"))
from prism_export import quantize as q  # noqa: E402

VARIANTS = {  # name: (activation type, extra_options, quantise the first/last convolution too)
    "u8 act (shipped recipe)": ("QUInt8", {}, False),
    "s8 act": ("QInt8", {}, False),
    "u8 act, ActivationSymmetric": ("QUInt8", {"ActivationSymmetric": True}, False),
    "u8 act, WeightSymmetric=False": ("QUInt8", {"WeightSymmetric": False}, False),
    "u8 act, every conv": ("QUInt8", {}, True),
}


def build(pre: Path, out: Path, act: str, extra: dict, every: bool) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    names = q.convs(pre)
    quantize_static(str(pre), str(out), q._reader(q.samples(pre, "sr", q.CALIBRATION, 96, 1, seed=1)),
                    quant_format=QuantFormat.QDQ, per_channel=True, activation_type=getattr(QuantType, act),
                    weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"], calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_exclude=[] if every else [names[0], names[-1]],
                    extra_options={"CalibMovingAverage": False, **extra})


def session(path: Path, threads: int, optimized: Path | None = None, profile: str | None = None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if optimized:
        so.optimized_model_filepath = str(optimized)
    if profile:
        so.enable_profiling = True
        so.profile_file_prefix = profile
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def conv_kernels_ms(path: Path, x: np.ndarray, threads: int, prefix: str) -> list[float]:
    """Per-convolution kernel time (ms, mean of 3 runs after a warm-up), sorted."""
    s = session(path, threads, profile=prefix)
    feed = {s.get_inputs()[0].name: x}
    for _ in range(4):
        s.run(None, feed)
    f = s.end_profiling()
    per: Counter = Counter()
    for e in json.load(open(f)):
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and "Conv" in e["args"]["op_name"]:
            per[e["name"]] += e["dur"] / 1e3
    os.remove(f)
    return sorted(round(v / 4, 1) for v in per.values())


def main() -> int:
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="realesr-animevideov3-x2")
    ap.add_argument("--out", type=Path, default=ROOT / "export" / "out")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    fp32 = args.out / args.model / f"{args.model}.fp32.onnx"
    if not fp32.is_file():
        sys.exit(f"{fp32}: not found: export {args.model} first")
    x = q.photo("astronaut")[100:100 + args.size, 150:150 + args.size].transpose(2, 0, 1)
    x = np.ascontiguousarray(x[None], dtype=np.float32) / 255.0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pre = work / "pre.onnx"
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        paths = {"fp32": fp32}
        for i, (name, (act, extra, every)) in enumerate(VARIANTS.items()):
            paths[name] = work / f"v{i}.onnx"
            build(pre, paths[name], act, extra, every)
        sessions, graphs = {}, {}
        for i, (name, path) in enumerate(paths.items()):
            opt = work / f"opt{i}.onnx"
            sessions[name] = session(path, args.threads, optimized=opt)
            ops = Counter(n.op_type for n in onnx.load(str(opt)).graph.node)
            graphs[name] = {k: ops[k] for k in ("Conv", "QLinearConv", "QuantizeLinear", "DequantizeLinear", "PRelu")
                            if ops[k]}
        times: dict[str, list[float]] = {name: [] for name in sessions}
        for s in sessions.values():
            s.run(None, {s.get_inputs()[0].name: x})
        for _ in range(args.runs):  # interleaved
            for name, s in sessions.items():
                t0 = time.perf_counter()
                s.run(None, {s.get_inputs()[0].name: x})
                times[name].append((time.perf_counter() - t0) * 1e3)
        base = statistics.median(times["fp32"])
        print(f"{args.model}, 1x3x{args.size}x{args.size} astronaut crop, {args.threads} thread(s), "
              f"median of {args.runs} interleaved runs")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"  {name:32s} {med:7.1f} ms  ({med / base:.3f} x FP32)  optimised graph: {graphs[name]}")
        for name in ("fp32", next(iter(VARIANTS))):
            ks = conv_kernels_ms(paths[name], x, args.threads, str(work / "prof"))
            print(f"  conv kernels, {name}: {ks} ms (median {statistics.median(ks)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
