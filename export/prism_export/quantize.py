"""INT8 CPU variants: static QDQ quantisation of exported FP32 files, shipped only behind a gate.

For each model: calibrate on crops of real photos (``CALIBRATION``), per-channel INT8 weights and
UINT8 activations (ONNX Runtime's ``quantize_static``, QDQ format), only convolutions quantised
(PReLU etc. stay FP32: fewer Q/DQ pairs, better held-out figures), first and last convolution kept
in FP32. The configuration (calibration method, and the convolutions kept in FP32 because their
input loses the most to quantisation, measured per tensor) is chosen on calibration photos only.
The chosen file is then gated once on ``HELD_OUT`` photos the calibration never saw: PSNR against
the FP32 file's output >= 40 dB (worst crop) and 99.9th-percentile pixel error <= 8/255. A file
that passes is written as ``ID/ID.int8.onnx`` and listed in the manifest (``files.int8`` with its
``gate`` figures); one that fails is reported (``int8_report.json``) and not written.

    python -m prism_export.quantize realesr-animevideov3-x2 [ID...] [--methods MinMax,Percentile]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GATE_PSNR_DB = 40.0
GATE_P999_255 = 8.0
# Real photos (scikit-image's samples). The held-out ones are never calibrated on.
CALIBRATION = ("rocket", "hubble_deep_field", "immunohistochemistry", "retina", "motorcycle", "camera",
               "coins", "brick", "grass", "page", "moon", "clock")
HELD_OUT = ("astronaut", "chelsea", "coffee")
assert not set(CALIBRATION) & set(HELD_OUT)
METHODS = ("Percentile", "MinMax", "Entropy")
VERSION = "2"  # bump when the recipe changes: cached variants are redone


@dataclass(frozen=True)
class Recipe:
    """How one model is calibrated and gated (crop size in input pixels, crops per photo)."""
    crop: int = 96
    per_photo: int = 2
    held_per_photo: int = 3
    methods: tuple[str, ...] = METHODS
    # How many more convolutions (worst first) the search may keep in FP32, tried in this order.
    keep_fp32: tuple[int, ...] = (0, 4, 9)


RECIPES = {
    "realesr-animevideov3-x2": Recipe(),
    "realesr-animevideov3-x3": Recipe(),
    "realesr-animevideov3-x4": Recipe(),
    # RRDBNet: 351 convolutions; histograms of every tensor would not fit in memory.
    "realesrgan-x4plus": Recipe(crop=48, per_photo=1, held_per_photo=2, methods=("MinMax",), keep_fp32=(0, 8)),
    "realesrgan-x4plus-anime": Recipe(crop=64, per_photo=1, held_per_photo=2, methods=("MinMax",), keep_fp32=(0, 8)),
}


def photo(name: str) -> np.ndarray:
    """HxWx3 uint8 of a scikit-image sample (gray ones repeated to RGB)."""
    from skimage import data

    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3])


def crops(names: tuple[str, ...], size: int, per: int, seed: int) -> list[np.ndarray]:
    """``per`` random ``size`` crops of each photo, NCHW float32 in 0..1 (fixed seed)."""
    rng = np.random.default_rng(seed)
    out = []
    for name in names:
        img = photo(name)
        for _ in range(per):
            t = int(rng.integers(0, img.shape[0] - size + 1))
            left = int(rng.integers(0, img.shape[1] - size + 1))
            chw = img[t:t + size, left:left + size].transpose(2, 0, 1)
            out.append(np.ascontiguousarray(chw[None], dtype=np.float32) / 255.0)
    return out


def session(path: Path | str, threads: int = 2):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def input_name(path: Path | str) -> str:
    return session(path, 1).get_inputs()[0].name


def outputs(path: Path | str, xs: list[np.ndarray]) -> list[np.ndarray]:
    """First output for each input, clipped to 0..1 (what an 8-bit image keeps)."""
    s = session(path)
    name = s.get_inputs()[0].name
    return [np.clip(s.run(None, {name: x})[0], 0.0, 1.0) for x in xs]


def compare(refs: list[np.ndarray], outs: list[np.ndarray]) -> dict[str, float]:
    """Worst-crop PSNR (peak 1) and the 99.9th percentile of |out - ref| over every pixel, in /255."""
    psnrs, diffs = [], []
    for r, o in zip(refs, outs):
        d = np.abs(o.astype(np.float64) - r.astype(np.float64))
        mse = float(np.mean(d * d))
        psnrs.append(float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse))
        diffs.append(d.ravel())
    p999 = float(np.percentile(np.concatenate(diffs), 99.9)) * 255.0
    return {"psnr_db": round(min(psnrs), 2), "p999_abs_255": round(p999, 3),
            "max_abs_255": round(float(max(d.max() for d in diffs)) * 255.0, 2)}


def speed_ms(path: Path | str, x: np.ndarray, runs: int = 3) -> float:
    """Median of ``runs`` timed runs (after one warm-up), 2 threads, CPU."""
    s = session(path)
    feed = {s.get_inputs()[0].name: x}
    s.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s.run(None, feed)
        times.append((time.perf_counter() - t0) * 1e3)
    return round(sorted(times)[len(times) // 2], 1)


def passes(fig: dict[str, float]) -> bool:
    return bool(fig["psnr_db"] >= GATE_PSNR_DB and fig["p999_abs_255"] <= GATE_P999_255)


def _reader(name: str, xs: list[np.ndarray]):
    """An onnxruntime CalibrationDataReader over a list of inputs (read once)."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{name: x} for x in xs])

        def get_next(self):
            return next(self.items, None)

    return Reader()


def convs(path: Path | str) -> list[str]:
    import onnx

    return [n.name for n in onnx.load(str(path), load_external_data=False).graph.node if n.op_type == "Conv"]


def quantize_file(pre: Path, out: Path, xs: list[np.ndarray], method: str, fp32_nodes: list[str]) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(str(pre), str(out), _reader(input_name(pre), xs), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
                    calibrate_method=getattr(CalibrationMethod, method), nodes_to_exclude=fp32_nodes,
                    extra_options={"CalibMovingAverage": False})


def worst_inputs(qdq: Path, xs: list[np.ndarray], candidates: list[str], k: int) -> list[str]:
    """The ``k`` convolutions (of ``candidates``) whose input activation loses most to its own
    quantisation (lowest SQNR between the tensor before Q and after DQ), measured on ``xs``."""
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (collect_activations, create_activation_matching,
                                                         compute_signal_to_quantization_noice_ratio as sqnr,
                                                         modify_model_output_intermediate_tensors)

    if k <= 0:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        aug = Path(tmp) / "aug.onnx"
        modify_model_output_intermediate_tensors(str(qdq), str(aug))
        acts = collect_activations(str(aug), _reader(input_name(qdq), xs[:2]))
    errors = {k: sqnr(m["pre_qdq"], m["post_qdq"]) for k, m in create_activation_matching(acts).items()}
    graph = onnx.load(str(qdq), load_external_data=False).graph
    producer = {o: n for n in graph.node for o in n.output}
    scored = []
    for n in graph.node:
        if n.op_type != "Conv" or n.name not in candidates:
            continue
        # Conv <- DequantizeLinear <- QuantizeLinear <- the float tensor
        dq = producer.get(n.input[0])
        q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        tensor = q.input[0] if q is not None and q.op_type == "QuantizeLinear" else None
        if tensor in errors:
            scored.append((errors[tensor], n.name))
    return [name for _, name in sorted(scored)[:k]]


@dataclass
class Outcome:
    method: str
    fp32_nodes: list[str]
    calibration: dict[str, float]
    held_out: dict[str, float] = field(default_factory=dict)
    tried: list[dict[str, Any]] = field(default_factory=list)


def search(fp32: Path, recipe: Recipe, work: Path, log=print) -> tuple[Path, Outcome]:
    """The best configuration on calibration photos only; returns its file and figures."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = work / "pre.onnx"
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    cal = crops(CALIBRATION, recipe.crop, recipe.per_photo, seed=1)
    check = crops(CALIBRATION, recipe.crop, 1, seed=7)  # other crops of the calibration photos
    ref = outputs(pre, check)
    names = convs(pre)
    edge = [names[0], names[-1]]
    tried, best = [], None
    for method in recipe.methods:
        base = work / f"{method}.0.onnx"
        t0 = time.perf_counter()
        quantize_file(pre, base, cal, method, edge)
        ranked = None
        for k in recipe.keep_fp32:
            path = base
            extra: list[str] = []
            if k:
                ranked = ranked or worst_inputs(base, check, names[1:-1], max(recipe.keep_fp32))
                extra = ranked[:k]
                path = work / f"{method}.{k}.onnx"
                quantize_file(pre, path, cal, method, edge + extra)
            fig = compare(ref, outputs(path, check))
            tried.append({"method": method, "extra_fp32": extra, **fig})
            log(f"  {method:10s} fp32 {len(edge) + len(extra):2d} convs: calibration-photo crops {fig['psnr_db']} dB, "
                f"p99.9 {fig['p999_abs_255']}/255 ({time.perf_counter() - t0:.0f}s)")
            key = (passes(fig), fig["psnr_db"] - 10.0 * len(extra) / len(names))
            if best is None or key > best[0]:
                best = (key, path, Outcome(method, edge + extra, fig))
            if passes(fig):
                break  # fewer FP32 convolutions are faster; more would only trade speed
    assert best is not None
    best[2].tried = tried
    return best[1], best[2]


def cache_key(fp32_sha: str, recipe: Recipe) -> str:
    import onnxruntime

    blob = json.dumps([VERSION, fp32_sha, recipe.__dict__, CALIBRATION, HELD_OUT, GATE_PSNR_DB, GATE_P999_255,
                       onnxruntime.__version__], sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def quantize_model(model_id: str, out_dir: Path, recipe: Recipe | None = None, force: bool = False,
                   log=print) -> dict[str, Any]:
    """Quantise, gate and (when it passes) ship one exported model; returns its report."""
    from . import exporter

    recipe = recipe or RECIPES.get(model_id) or Recipe()
    entry = next((e for e in exporter.load_manifest(out_dir) if e["id"] == model_id), None)
    if entry is None or "fp32" not in entry.get("files", {}):
        raise FileNotFoundError(f"{model_id}: no FP32 export in {out_dir / exporter.MANIFEST}: export it first")
    fp32 = out_dir / entry["files"]["fp32"]["path"]
    fp32_sha = exporter.sha256_file(fp32)
    key = cache_key(fp32_sha, recipe)
    rel = exporter.file_relpath(model_id, "int8")
    target = out_dir / rel
    old = entry["files"].get("int8") or {}
    if not force and old.get("gate", {}).get("key") == key and target.is_file() \
            and exporter.sha256_file(target) == old.get("sha256"):
        log(f"[{model_id}] int8 up to date ({old['gate']['psnr_db']} dB, p99.9 {old['gate']['p999_abs_255']}/255)")
        return {"id": model_id, **old["gate"]}
    t0 = time.perf_counter()
    log(f"[{model_id}] int8: searching on {len(CALIBRATION)} calibration photos ({recipe.crop} px crops)")
    with tempfile.TemporaryDirectory() as tmp:
        path, outcome = search(fp32, recipe, Path(tmp), log)
        held = crops(HELD_OUT, recipe.crop * 2 if recipe.crop < 96 else recipe.crop, recipe.held_per_photo, seed=3)
        fig = compare(outputs(fp32, held), outputs(path, held))
        fig["fp32_ms"], fig["int8_ms"] = speed_ms(fp32, held[0]), speed_ms(path, held[0])
        fig["speed_input"] = list(held[0].shape)
        gate = {"key": key, "passed": passes(fig), **fig, "psnr_floor_db": GATE_PSNR_DB,
                "p999_limit_255": GATE_P999_255, "held_out": list(HELD_OUT), "held_out_crops": len(held),
                "calibration": list(CALIBRATION), "method": outcome.method, "fp32_nodes": outcome.fp32_nodes,
                "source_sha256": fp32_sha, "seconds": round(time.perf_counter() - t0, 1)}
        verdict = "PASSED" if gate["passed"] else "FAILED (not shipped)"
        log(f"[{model_id}] int8 gate on held-out {', '.join(HELD_OUT)}: {fig['psnr_db']} dB (>= {GATE_PSNR_DB}), "
            f"p99.9 {fig['p999_abs_255']}/255 (<= {GATE_P999_255}), max {fig['max_abs_255']}/255; "
            f"{fig['int8_ms']} ms vs FP32 {fig['fp32_ms']} ms: {verdict}")
        if gate["passed"]:
            _ship(out_dir, model_id, path, target, rel, gate)
        else:
            target.unlink(missing_ok=True)
            _unlist(out_dir, model_id)
    _report(out_dir, model_id, {**gate, "tried": outcome.tried})
    return {"id": model_id, **gate}


def _save_int8(path: Path, target: Path) -> None:
    """``path`` as ``target`` with ``prism.precision = int8`` (atomic replace)."""
    import onnx

    m = onnx.load(str(path))
    meta = {p.key: p.value for p in m.metadata_props}
    meta["prism.precision"] = "int8"
    del m.metadata_props[:]
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    tmp = target.with_suffix(".new.onnx")
    onnx.save(m, str(tmp))
    os.replace(tmp, target)


def write_fixture(fp32: Path, target: Path) -> None:
    """A small INT8 test fixture (``tests/fixtures/tiny/tiny-srvgg-x4.int8.onnx``): MinMax, first and
    last convolution in FP32, calibrated on the calibration photos; no gate (the tests write their
    own manifests)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        pre, out = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        names = convs(pre)
        quantize_file(pre, out, crops(CALIBRATION, 32, 1, seed=1), "MinMax", [names[0], names[-1]])
        _save_int8(out, target)


def _ship(out_dir: Path, model_id: str, path: Path, target: Path, rel: str, gate: dict[str, Any]) -> None:
    from . import exporter

    _save_int8(path, target)
    record = {"path": rel, "sha256": exporter.sha256_file(target), "size_bytes": target.stat().st_size,
              "gate": gate}
    exporter.update_manifest_entry(out_dir, model_id, lambda e: e["files"].__setitem__("int8", record))


def _unlist(out_dir: Path, model_id: str) -> None:
    from . import exporter

    exporter.update_manifest_entry(out_dir, model_id, lambda e: e["files"].pop("int8", None))


def _report(out_dir: Path, model_id: str, gate: dict[str, Any]) -> None:
    """Every model's last gate result (passed or not) in ``int8_report.json``."""
    import fcntl

    with open(out_dir / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = out_dir / "int8_report.json"
        data = json.loads(p.read_text()) if p.exists() else {}
        data[model_id] = gate
        tmp = p.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(p)


def main(argv: list[str] | None = None) -> int:
    from . import exporter

    ap = argparse.ArgumentParser(prog="python -m prism_export.quantize", description=__doc__.split("\n\n")[0])
    ap.add_argument("ids", nargs="*")
    ap.add_argument("--fixture", nargs=2, type=Path, metavar=("FP32", "INT8"), help="write a test fixture and stop")
    ap.add_argument("--out", type=Path, default=exporter.DEFAULT_OUT)
    ap.add_argument("--methods", help="comma-separated calibration methods (default: the model's recipe)")
    ap.add_argument("--force", action="store_true", help="redo even when the cached variant is up to date")
    args = ap.parse_args(argv)
    if args.fixture:
        write_fixture(*args.fixture)
        return 0
    failed = []
    for model_id in args.ids:
        recipe = RECIPES.get(model_id) or Recipe()
        if args.methods:
            recipe = Recipe(**{**recipe.__dict__, "methods": tuple(args.methods.split(","))})
        try:
            quantize_model(model_id, args.out.resolve(), recipe, force=args.force)
        except Exception as e:  # report and go on with the others
            failed.append(f"{model_id}: {type(e).__name__}: {e}")
            print(f"[{model_id}] ERROR {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    for f in failed:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
