"""INT8 CPU variants: static QDQ quantisation of exported FP32 files, shipped only behind a gate.

For each model: calibrate on crops of real photos (``CALIBRATION``; for RIFE, pairs of crops of one
photo a few pixels apart, as a camera pan moves them), per-channel INT8 weights and UINT8
activations (ONNX Runtime's ``quantize_static``, QDQ format), only convolutions quantised (PReLU
etc. stay FP32: fewer Q/DQ pairs, better held-out figures), first and last convolution kept in
FP32. The configuration (calibration method, and the convolutions kept in FP32 because their input
loses the most to quantisation, measured per tensor) is chosen on calibration photos only. The
chosen file is then gated once on ``HELD_OUT`` photos the calibration never saw, against the FP32
file's output: SR and RIFE (the frame) PSNR >= 40 dB (worst crop) and 99.9th-percentile pixel error
<= 8/255; style networks SSIM >= 0.98 (worst crop). A file that passes is written as
``ID/ID.int8.onnx`` and listed in the manifest (``files.int8`` with its ``gate`` figures); one that
fails is reported (``int8_report.json``) and not written.

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
GATE_SSIM = 0.98  # style networks: their outputs are pictures, not reconstructions
# Real photos (scikit-image's samples). The held-out ones are never calibrated on.
CALIBRATION = ("rocket", "hubble_deep_field", "immunohistochemistry", "retina", "motorcycle", "camera",
               "coins", "brick", "grass", "page", "moon", "clock")
HELD_OUT = ("astronaut", "chelsea", "coffee")
assert not set(CALIBRATION) & set(HELD_OUT)
METHODS = ("Percentile", "MinMax", "Entropy")
VERSION = "3"  # bump when the recipe changes: cached variants are redone


@dataclass(frozen=True)
class Recipe:
    """How one model is calibrated and gated (crop size in input pixels, crops per photo).

    ``kind``: ``sr`` (one image in), ``rife`` (img0, img1, timestep; the frame is gated) or
    ``style`` (a photo, and one-hot style weights where the network takes them; SSIM gate)."""
    kind: str = "sr"
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
    # 160 px: a multiple of 32 that fits the smallest calibration photo (page, 191 px) with the pan.
    "rife-v4.6": Recipe(kind="rife", crop=160, per_photo=1, held_per_photo=2, keep_fp32=(0, 6, 12)),
    "rife-v4.0": Recipe(kind="rife", crop=160, per_photo=1, held_per_photo=2, keep_fp32=(0, 6, 12)),
    "style-mosaic": Recipe(kind="style", crop=160, per_photo=2, held_per_photo=4),
    # 36 calibration and 27 held-out crops: every one of the 26 styles is calibrated and gated.
    "style-multistyle26": Recipe(kind="style", crop=160, per_photo=3, held_per_photo=9),
}
PAN = 8  # RIFE calibration pairs: the second crop moved by up to this many pixels each way


def photo(name: str) -> np.ndarray:
    """HxWx3 uint8 of a scikit-image sample (gray ones repeated to RGB)."""
    from skimage import data

    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3])


def _cut(img: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    chw = img[top:top + size, left:left + size].transpose(2, 0, 1)
    return np.ascontiguousarray(chw[None], dtype=np.float32) / 255.0


def _windows(names: tuple[str, ...], size: int, per: int, seed: int, margin: int = 0):
    """(photo, top, left) of ``per`` random ``size`` windows of each photo, ``margin`` px inside."""
    rng = np.random.default_rng(seed)
    for name in names:
        img = photo(name)
        for _ in range(per):
            top = int(rng.integers(margin, img.shape[0] - size - margin + 1))
            left = int(rng.integers(margin, img.shape[1] - size - margin + 1))
            yield img, top, left


def crops(names: tuple[str, ...], size: int, per: int, seed: int) -> list[np.ndarray]:
    """``per`` random ``size`` crops of each photo, NCHW float32 in 0..1 (fixed seed)."""
    return [_cut(img, top, left, size) for img, top, left in _windows(names, size, per, seed)]


def value_scale(s) -> float:
    """What 1.0 of a 0..1 image is in session ``s``'s inputs and outputs (``prism.value_range``)."""
    meta = s.get_modelmeta().custom_metadata_map
    return 255.0 if meta.get("prism.value_range") == "0..255" else 1.0


def samples(path: Path | str, kind: str, names: tuple[str, ...], size: int, per: int,
            seed: int) -> list[dict[str, np.ndarray]]:
    """Input feeds of ``path`` made from ``per`` crops of each photo (see ``Recipe.kind``)."""
    s = session(path, 1)
    inputs = s.get_inputs()
    styles = inputs[1].shape[0] if kind == "style" and len(inputs) == 2 else 0
    inputs = [i.name for i in inputs]
    scale = value_scale(s)
    rng = np.random.default_rng(seed + 1000)
    feeds = []
    for img, top, left in _windows(names, size, per, seed, PAN if kind == "rife" else 0):
        x = _cut(img, top, left, size) * scale
        if kind == "rife":
            dy, dx = (int(v) for v in rng.integers(-PAN, PAN + 1, 2))
            feeds.append({inputs[0]: x, inputs[1]: _cut(img, top + dy, left + dx, size),
                          inputs[2]: np.full((1, 1, 1, 1), 0.5, np.float32)})
        elif styles:  # style image + style weights: the styles in turn, one per crop
            weights = np.zeros(styles, np.float32)
            weights[len(feeds) % styles] = 1.0
            feeds.append({inputs[0]: x, inputs[1]: weights})
        else:
            feeds.append({inputs[0]: x})
    return feeds


def session(path: Path | str, threads: int = 2):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def outputs(path: Path | str, feeds: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """First output (the picture) for each feed, as 0..1 and clipped (what an 8-bit image keeps)."""
    s = session(path)
    scale = value_scale(s)
    first = s.get_outputs()[0].name
    return [np.clip(s.run([first], feed)[0] / scale, 0.0, 1.0) for feed in feeds]


def compare(refs: list[np.ndarray], outs: list[np.ndarray]) -> dict[str, float]:
    """Worst-crop PSNR (peak 1) and SSIM, and the 99.9th percentile of |out - ref| over every
    pixel, in /255."""
    from skimage.metrics import structural_similarity

    psnrs, ssims, diffs = [], [], []
    for r, o in zip(refs, outs):
        d = np.abs(o.astype(np.float64) - r.astype(np.float64))
        mse = float(np.mean(d * d))
        psnrs.append(float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse))
        ssims.append(structural_similarity(r[0], o[0], channel_axis=0, data_range=1.0))
        diffs.append(d.ravel())
    p999 = float(np.percentile(np.concatenate(diffs), 99.9)) * 255.0
    return {"psnr_db": round(min(psnrs), 2), "p999_abs_255": round(p999, 3),
            "max_abs_255": round(float(max(d.max() for d in diffs)) * 255.0, 2), "ssim": round(float(min(ssims)), 4)}


def speed_ms(path: Path | str, feed: dict[str, np.ndarray], runs: int = 3) -> float:
    """Median of ``runs`` timed runs (after one warm-up), 2 threads, CPU."""
    s = session(path)
    s.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s.run(None, feed)
        times.append((time.perf_counter() - t0) * 1e3)
    return round(sorted(times)[len(times) // 2], 1)


def passes(fig: dict[str, float], kind: str = "sr") -> bool:
    if kind == "style":
        return bool(fig["ssim"] >= GATE_SSIM)
    return bool(fig["psnr_db"] >= GATE_PSNR_DB and fig["p999_abs_255"] <= GATE_P999_255)


def _reader(feeds: list[dict[str, np.ndarray]]):
    """An onnxruntime CalibrationDataReader over a list of feeds (read once)."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(feeds)

        def get_next(self):
            return next(self.items, None)

    return Reader()


def convs(path: Path | str) -> list[str]:
    import onnx

    return [n.name for n in onnx.load(str(path), load_external_data=False).graph.node if n.op_type == "Conv"]


def quantize_file(pre: Path, out: Path, feeds: list[dict[str, np.ndarray]], method: str,
                  fp32_nodes: list[str]) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(str(pre), str(out), _reader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
                    calibrate_method=getattr(CalibrationMethod, method), nodes_to_exclude=fp32_nodes,
                    extra_options={"CalibMovingAverage": False})


def worst_inputs(qdq: Path, feeds: list[dict[str, np.ndarray]], candidates: list[str], k: int) -> list[str]:
    """The ``k`` convolutions (of ``candidates``) whose input activation loses most to its own
    quantisation (lowest SQNR between the tensor before Q and after DQ), measured on ``feeds``."""
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (collect_activations, create_activation_matching,
                                                         compute_signal_to_quantization_noice_ratio as sqnr,
                                                         modify_model_output_intermediate_tensors)

    if k <= 0:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        aug = Path(tmp) / "aug.onnx"
        modify_model_output_intermediate_tensors(str(qdq), str(aug))
        acts = collect_activations(str(aug), _reader(feeds[:2]))
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
    cal = samples(fp32, recipe.kind, CALIBRATION, recipe.crop, recipe.per_photo, seed=1)
    check = samples(fp32, recipe.kind, CALIBRATION, recipe.crop, 1, seed=7)  # other crops of them
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
                f"p99.9 {fig['p999_abs_255']}/255, SSIM {fig['ssim']} ({time.perf_counter() - t0:.0f}s)")
            score = 100.0 * fig["ssim"] if recipe.kind == "style" else fig["psnr_db"]
            key = (passes(fig, recipe.kind), score - 10.0 * len(extra) / len(names))
            if best is None or key > best[0]:
                best = (key, path, Outcome(method, edge + extra, fig))
            if passes(fig, recipe.kind):
                break  # fewer FP32 convolutions are faster; more would only trade speed
    assert best is not None
    best[2].tried = tried
    return best[1], best[2]


def cache_key(fp32_sha: str, recipe: Recipe) -> str:
    import onnxruntime

    blob = json.dumps([VERSION, fp32_sha, recipe.__dict__, CALIBRATION, HELD_OUT, GATE_PSNR_DB, GATE_P999_255,
                       GATE_SSIM, PAN, onnxruntime.__version__], sort_keys=True, default=list)
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
        size = recipe.crop * 2 if recipe.crop < 96 else recipe.crop
        held = samples(fp32, recipe.kind, HELD_OUT, size, recipe.held_per_photo, seed=3)
        fig = compare(outputs(fp32, held), outputs(path, held))
        fig["fp32_ms"], fig["int8_ms"] = speed_ms(fp32, held[0]), speed_ms(path, held[0])
        fig["speed_input"] = list(next(iter(held[0].values())).shape)
        floors = {"ssim_floor": GATE_SSIM} if recipe.kind == "style" else \
            {"psnr_floor_db": GATE_PSNR_DB, "p999_limit_255": GATE_P999_255}
        gate = {"key": key, "kind": recipe.kind, "passed": passes(fig, recipe.kind), **fig, **floors,
                "held_out": list(HELD_OUT), "held_out_crops": len(held),
                "calibration": list(CALIBRATION), "method": outcome.method, "fp32_nodes": outcome.fp32_nodes,
                "source_sha256": fp32_sha, "seconds": round(time.perf_counter() - t0, 1)}
        verdict = "PASSED" if gate["passed"] else "FAILED (not shipped)"
        limits = f"SSIM {fig['ssim']} (>= {GATE_SSIM}), {fig['psnr_db']} dB" if recipe.kind == "style" else \
            f"{fig['psnr_db']} dB (>= {GATE_PSNR_DB}), p99.9 {fig['p999_abs_255']}/255 (<= {GATE_P999_255})"
        log(f"[{model_id}] int8 gate on held-out {', '.join(HELD_OUT)}: {limits}, max {fig['max_abs_255']}/255; "
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
        quantize_file(pre, out, samples(pre, "sr", CALIBRATION, 32, 1, seed=1), "MinMax", [names[0], names[-1]])
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
