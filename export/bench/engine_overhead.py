"""Engine overhead and start-up: `prism bench` against Python onnxruntime, side by side.

Same model files, input shapes, thread count and optimisation level; the two are run alternately
(several rounds, medians kept) so that machine drift hits both alike.

    cargo xtask bench      # or: export/.venv/bin/python export/bench/engine_overhead.py --prism target/release/prism
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
CASES = [
    ("realesr-animevideov3-x4", [1, 3, 256, 256]),
    ("realesrgan-x4plus", [1, 3, 128, 128]),
]


def physical_cores() -> int:
    try:
        pairs = set()
        block = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines() + [""]:
            if not line.strip():
                if "physical id" in block and "core id" in block:
                    pairs.add((block["physical id"], block["core id"]))
                block = {}
            elif ":" in line:
                k, v = line.split(":", 1)
                block[k.strip()] = v.strip()
        return len(pairs) or os.cpu_count() or 1
    except OSError:
        return os.cpu_count() or 1


def prism_bench(prism: str, model: Path, shape, threads: int, warmup: int, runs: int) -> dict:
    cmd = [prism, "-q", "bench", str(model), "--shape", "x".join(map(str, shape)), "--device", "cpu",
           "--precision", "fp32", "--threads", str(threads), "--warmup", str(warmup), "--runs", str(runs), "--no-cache", "--json"]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def python_bench(model: Path, shape, threads: int, warmup: int, runs: int) -> dict:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    start = time.perf_counter()
    session = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - start) * 1e3
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    name = session.get_inputs()[0].name
    for _ in range(warmup):
        session.run(None, {name: x})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, {name: x})
        times.append((time.perf_counter() - start) * 1e3)
    return {"load_ms": load_ms, "mean_ms": statistics.mean(times), "median_ms": statistics.median(times)}


def wall_ms(cmd, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prism", default=str(ROOT / "target/release/prism"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "export/out/bench/engine_overhead.json"))
    args = ap.parse_args()
    threads = physical_cores()
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, {threads} physical cores; onnxruntime {ort.__version__} (Python) vs prism; {args.rounds} rounds x {args.runs} runs")
    results = {"machine": cpu, "threads": threads, "onnxruntime_python": ort.__version__, "cases": [], "startup": {}}
    for model_id, shape in CASES:
        model = ROOT / f"export/out/{model_id}/{model_id}.fp32.onnx"
        prism_medians, python_medians = [], []
        for _ in range(args.rounds):
            prism_medians.append(prism_bench(args.prism, model, shape, threads, args.warmup, args.runs)["median_ms"])
            python_medians.append(python_bench(model, shape, threads, args.warmup, args.runs)["median_ms"])
        p, q = statistics.median(prism_medians), statistics.median(python_medians)
        case = {"model": model_id, "shape": shape, "prism_median_ms": p, "python_median_ms": q, "ratio": p / q}
        results["cases"].append(case)
        print(f"{model_id:28s} {'x'.join(map(str, shape)):>14s}  prism {p:9.2f} ms  python {q:9.2f} ms  ratio {p / q:.3f}")

    big = ROOT / "export/out/realesrgan-x4plus/realesrgan-x4plus.fp32.onnx"
    cache = ROOT / "target/bench-cache"
    tiny = ["--shape", "1x3x16x16", "--runs", "1", "--warmup", "0", "--device", "cpu", "--threads", str(threads), "--json"]

    def prism_load_ms(extra, env=None) -> float:
        runs = [json.loads(subprocess.run([args.prism, "-q", "bench", str(big), *tiny, *extra], check=True,
                                          capture_output=True, text=True, env=env).stdout)["load_ms"] for _ in range(5)]
        return statistics.median(runs)

    # Session creation in a fresh Python process each time, as Prism's is in a fresh process.
    snippet = ("import sys, time, onnxruntime as ort; so = ort.SessionOptions(); so.intra_op_num_threads = int(sys.argv[2]); "
               "t = time.perf_counter(); ort.InferenceSession(sys.argv[1], so, providers=['CPUExecutionProvider']); "
               "print((time.perf_counter() - t) * 1e3)")
    python_loads = [float(subprocess.run([sys.executable, "-c", snippet, str(big), str(threads)], check=True,
                                         capture_output=True, text=True).stdout) for _ in range(5)]
    env = {**os.environ, "PRISM_CACHE_DIR": str(cache)}
    prism_load_ms([], env)  # writes the optimised-model cache entry
    startup = {
        "prism_devices_wall_ms": wall_ms([args.prism, "-q", "devices"], 10),
        "model_mb": big.stat().st_size / 1e6,
        "prism_info_wall_ms": wall_ms([args.prism, "-q", "info", str(big), "--device", "cpu", "--no-cache"], 5),
        "prism_load_ms": prism_load_ms(["--no-cache"]),
        "prism_load_cached_ms": prism_load_ms([], env),
        "python_session_create_ms": statistics.median(python_loads),
    }
    results["startup"] = startup
    print(f"start-up: `prism devices` {startup['prism_devices_wall_ms']:.0f} ms wall; {startup['model_mb']:.0f} MB model: "
          f"`prism info` {startup['prism_info_wall_ms']:.0f} ms wall, Model::load {startup['prism_load_ms']:.0f} ms "
          f"({startup['prism_load_cached_ms']:.0f} ms from the optimised-model cache), "
          f"Python InferenceSession {startup['python_session_create_ms']:.0f} ms (fresh process each)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
