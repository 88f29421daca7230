"""Export ModelSpecs to ONNX (fp32 + fp16), verify parity, write the manifest."""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import time
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from . import __version__
from .spec import ModelSpec, check_weights_info

EXPORT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_OUT = EXPORT_DIR / "out"
MANIFEST = "manifest.json"


def log(msg: str) -> None:
    print(msg, flush=True)


class Step:
    """Prints one line per step: '[id] step ... 1.23s'."""

    def __init__(self, model_id: str, what: str) -> None:
        self.model_id, self.what = model_id, what

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb):
        dt = time.perf_counter() - self.t0
        status = "" if exc_type is None else f"  FAILED: {exc_type.__name__}: {exc}"
        extra = f"  {self.note}" if getattr(self, "note", None) else ""
        log(f"[{self.model_id}] {self.what} ... {dt:.2f}s{extra}{status}")
        return False


def exporter_string() -> str:
    return f"prism_export {__version__}, torch {torch.__version__.split('+')[0]}"


def file_relpath(model_id: str, precision: str) -> str:
    return f"{model_id}/{model_id}.{precision}.onnx"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def initializer_elements(path: Path) -> int:
    """Total element count of the graph initializers (what a runtime reports as parameters)."""
    m = onnx.load(str(path), load_external_data=False)
    return int(sum(int(np.prod(i.dims, dtype=np.int64)) for i in m.graph.initializer))


def count_parameters(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def _cast_inputs(inputs: tuple[Any, ...], dtype: torch.dtype) -> tuple[Any, ...]:
    return tuple(x.to(dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in inputs)


class Fp16Graph(torch.nn.Module):
    """FP16 weights and compute behind a float32 interface.

    Float inputs are cast to float16 inside the graph and float outputs back to
    float32, so a caller feeds the fp16 file exactly what it feeds the fp32 one.
    Parts of ``model`` that cast to float32 themselves (RIFE's warp grid and
    GridSample) keep doing so."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).half()

    def forward(self, *inputs):
        out = self.model(*_cast_inputs(inputs, torch.float16))
        if isinstance(out, (tuple, list)):
            return tuple(o.float() if o.is_floating_point() else o for o in out)
        return out.float()


# Keys every exported file must carry (common ones are added here, family ones come from the spec).
REQUIRED_METADATA = ("prism.model_id", "prism.task", "prism.architecture", "prism.layout", "prism.value_range",
                     "prism.licence", "prism.precision", "prism.weights", "prism.weights_source")
USER_WEIGHTS_LICENCE = "as given by the source of the user-supplied weight file (--weights)"


def build_model(spec: ModelSpec, weights_path: str | None = None):
    if weights_path and not spec.accepts_weights_path:
        raise ValueError(f"{spec.id} does not accept --weights")
    model, info = spec.build(weights_path=weights_path) if weights_path else spec.build()
    check_weights_info(spec.id, info)
    if weights_path:
        info = {**info, "licence": USER_WEIGHTS_LICENCE}
    model = model.float().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, info


def onnx_metadata(spec: ModelSpec, info: dict[str, str], precision: str) -> dict[str, str]:
    meta = {
        "prism.model_id": spec.id,
        "prism.task": spec.task,
        "prism.architecture": spec.architecture,
        "prism.layout": "NCHW",  # every Prism model: float32 NCHW tensors in and out
    }
    meta.update(spec.metadata)
    meta.update({k: v for k, v in info.items() if k.startswith("prism.")})  # set by the weights (e.g. prism.normalize)
    meta.update({
        "prism.precision": precision,
        "prism.weights": info["kind"],
        "prism.weights_source": info["source"],
        "prism.exporter": exporter_string(),
    })
    if "licence" in info:  # user-supplied weights: the spec's licence does not apply
        meta["prism.licence"] = info["licence"]
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    if missing:
        raise ValueError(f"{spec.id}: metadata lacks {missing}")
    return meta


def export_onnx(spec: ModelSpec, model: torch.nn.Module, info: dict[str, str], precision: str,
                path: Path, dynamo: bool = False) -> None:
    if precision == "fp16":
        model = Fp16Graph(model)
        inputs = _cast_inputs((spec.fp16_example_inputs or spec.example_inputs)(), torch.float32)
    else:
        inputs = _cast_inputs(spec.example_inputs(), torch.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    sink = io.StringIO()
    with warnings.catch_warnings(), redirect_stdout(sink), redirect_stderr(sink):
        warnings.simplefilter("ignore")
        kwargs: dict[str, Any] = dict(input_names=list(spec.input_names), output_names=list(spec.output_names),
                                      opset_version=spec.opset)
        if dynamo:
            kwargs.update(dynamo=True, dynamic_axes=spec.dynamic_axes, external_data=False)
        else:
            kwargs.update(dynamo=False, dynamic_axes=spec.dynamic_axes, do_constant_folding=True)
        with torch.no_grad():
            torch.onnx.export(model, inputs, str(tmp), **kwargs)
    m = onnx.load(str(tmp))
    del m.metadata_props[:]
    for k, v in onnx_metadata(spec, info, precision).items():
        m.metadata_props.add(key=k, value=v)
    m.producer_name = "prism_export"
    m.producer_version = __version__
    _check_graph(spec, m, precision)
    onnx.checker.check_model(m, full_check=True)
    # Atomic replace (other processes may be reading the file); an identical
    # re-export leaves the existing file untouched.
    new = path.with_suffix(".new.onnx")
    onnx.save(m, str(new))
    tmp.unlink(missing_ok=True)
    if path.exists() and sha256_file(path) == sha256_file(new):
        new.unlink()
    else:
        os.replace(new, path)


def _check_graph(spec: ModelSpec, m: onnx.ModelProto, precision: str) -> None:
    """Names, float32 I/O for both precisions, dynamic axes, weight dtype, standard ops only."""
    want = onnx.TensorProto.FLOAT16 if precision == "fp16" else onnx.TensorProto.FLOAT
    names_in = [i.name for i in m.graph.input]
    names_out = [o.name for o in m.graph.output]
    if names_in != list(spec.input_names) or names_out != list(spec.output_names):
        raise AssertionError(f"graph io {names_in} -> {names_out} != spec {spec.input_names} -> {spec.output_names}")
    for vi in list(m.graph.input) + list(m.graph.output):
        et = vi.type.tensor_type.elem_type
        if et in (onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE):
            raise AssertionError(f"{vi.name}: element type {onnx.TensorProto.DataType.Name(et)} in {precision} "
                                 f"model (graph inputs/outputs must be float32)")
        dims = vi.type.tensor_type.shape.dim
        for axis, name in spec.dynamic_axes.get(vi.name, {}).items():
            if dims[axis].dim_value:
                raise AssertionError(f"{vi.name} axis {axis} ({name}) is static ({dims[axis].dim_value})")
    for init in m.graph.initializer:
        if init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE) \
                and init.data_type != want and len(init.dims) > 1:
            raise AssertionError(f"initializer {init.name} is {onnx.TensorProto.DataType.Name(init.data_type)} "
                                 f"in a {precision} model")
    if precision == "fp16" and not any(i.data_type == onnx.TensorProto.FLOAT16 and len(i.dims) > 1
                                       for i in m.graph.initializer):
        raise AssertionError("fp16 model has no float16 weights")
    domains = {n.domain for n in m.graph.node}
    if domains - {"", "ai.onnx"}:
        raise AssertionError(f"non-standard op domains in graph: {domains}")


def ort_session(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def torch_reference(model: torch.nn.Module, inputs: list[tuple[Any, ...]]) -> list[list[np.ndarray]]:
    refs = []
    with torch.no_grad():
        for inp in inputs:
            out = model(*_cast_inputs(inp, torch.float32))
            outs = out if isinstance(out, (tuple, list)) else (out,)
            refs.append([o.float().numpy() for o in outs])
    return refs


def psnr_db(out: np.ndarray, ref: np.ndarray, peak: float | None) -> float:
    """PSNR of ``out`` against ``ref``; ``peak`` is the full-scale value (1 for 0..1, 255 for
    0..255), None = the reference's max |value| (feature maps have no fixed range)."""
    p = float(np.abs(ref).max()) if peak is None else peak
    mse = float(np.mean((out.astype(np.float64) - ref.astype(np.float64)) ** 2))
    if mse == 0.0:
        return float("inf")
    return 10.0 * float(np.log10(p * p / mse)) if p > 0 else float("-inf")


def onnx_parity(spec: ModelSpec, path: Path, precision: str, inputs: list[tuple[Any, ...]],
                refs: list[list[np.ndarray]]) -> dict[str, Any]:
    """Run the file on float32 inputs (both precisions take float32) and compare with PyTorch fp32:
    max/mean abs diff, all outputs finite, and the worst PSNR over the parity inputs of the outputs
    in ``spec.psnr_outputs``. fp16 files must reach ``spec.fp16_psnr_floor()``."""
    sess = ort_session(path)
    max_abs, sum_abs, n = 0.0, 0.0, 0
    worst_psnr = float("inf")
    psnr_names = spec.psnr_outputs or spec.output_names[:1]
    shapes, problems = [], []
    for inp, ref in zip(inputs, refs):
        feed = {}
        for name, x in zip(spec.input_names, inp):
            a = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
            feed[name] = a.astype(np.float32) if np.issubdtype(a.dtype, np.floating) else a
        outs = sess.run(list(spec.output_names), feed)
        for name, o, r in zip(spec.output_names, outs, ref):
            if o.dtype != np.float32:
                raise AssertionError(f"{spec.id} {precision}: output {name} is {o.dtype}, expected float32")
            if o.shape != r.shape:
                raise AssertionError(f"{spec.id} {precision}: ONNX output shape {o.shape} != PyTorch {r.shape}")
            bad = int(np.size(o) - np.count_nonzero(np.isfinite(o)))
            if bad:
                problems.append(f"output {name} has {bad} NaN/Inf values at input shape {list(np.shape(inp[0]))}")
                continue
            d = np.abs(o - r)
            max_abs = max(max_abs, float(d.max()))
            sum_abs += float(d.sum())
            n += d.size
            if name in psnr_names:
                worst_psnr = min(worst_psnr, psnr_db(o, r, spec.psnr_peak))
        shapes.append([list(np.shape(x)) for x in inp])
    tol = spec.tol_fp16 if precision == "fp16" else spec.tol_fp32
    floor = spec.fp16_psnr_floor() if precision == "fp16" else None
    if max_abs > tol:
        problems.append(f"max abs diff {max_abs:.3g} > {tol:g}")
    if floor is not None and worst_psnr < floor:
        problems.append(f"PSNR {worst_psnr:.1f} dB < floor {floor:g} dB")
    return {"reference": "pytorch-fp32", "runtime": "onnxruntime-cpu", "max_abs_diff": max_abs,
            "mean_abs_diff": sum_abs / max(n, 1), "tolerance": tol, "all_finite": not any("NaN" in p for p in problems),
            "psnr_db": None if worst_psnr == float("inf") else round(worst_psnr, 2),
            "psnr_outputs": list(psnr_names), "psnr_floor_db": floor,
            "passed": not problems, "problems": problems, "input_shapes": shapes}


def load_manifest(out_dir: Path) -> list[dict[str, Any]]:
    p = out_dir / MANIFEST
    if p.exists():
        data = json.loads(p.read_text())
        if isinstance(data, list):
            return data
    return []


def save_manifest(out_dir: Path, entries: list[dict[str, Any]]) -> None:
    """Merge ``entries`` (by id) into out_dir/manifest.json; locked, atomic replace."""
    import fcntl

    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = {e["id"]: e for e in load_manifest(out_dir)}
        for e in entries:
            # A gated INT8 variant (prism_export.quantize) stays listed while its FP32 source is unchanged.
            int8 = existing.get(e["id"], {}).get("files", {}).get("int8")
            if int8 and int8.get("gate", {}).get("source_sha256") == e["files"].get("fp32", {}).get("sha256"):
                e["files"].setdefault("int8", int8)
            existing[e["id"]] = e
        merged = sorted(existing.values(), key=lambda e: e["id"])
        tmp = out_dir / f"{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(merged, indent=2) + "\n")
        tmp.replace(out_dir / MANIFEST)


def update_manifest_entry(out_dir: Path, model_id: str, change) -> None:
    """Apply ``change(entry)`` to one listed entry of out_dir/manifest.json; locked, atomic replace."""
    import fcntl

    with open(out_dir / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = load_manifest(out_dir)
        for e in entries:
            if e["id"] == model_id:
                change(e)
        tmp = out_dir / f"{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(entries, indent=2) + "\n")
        tmp.replace(out_dir / MANIFEST)


def manifest_entry(spec: ModelSpec, info: dict[str, str], params: int, out_dir: Path,
                   parity: dict[str, dict[str, Any]], extra: dict[str, float] | None) -> dict[str, Any]:
    md = spec.metadata
    entry: dict[str, Any] = {
        "id": spec.id,
        "task": spec.task,
        "architecture": spec.architecture,
        "description": spec.description,
        "scale": int(md["prism.scale"]) if "prism.scale" in md else None,
        "pad_multiple": int(md["prism.pad_multiple"]) if "prism.pad_multiple" in md else None,
        "weights": {"kind": info["kind"], "source": info["source"]},
        "inputs": list(spec.input_names),
        "outputs": list(spec.output_names),
        "metadata": {**md, **{k: v for k, v in info.items() if k.startswith("prism.")}},
        "exporter": exporter_string(),
        "files": {},
    }
    for precision in spec.precisions:
        rel = file_relpath(spec.id, precision)
        p = out_dir / rel
        entry["files"][precision] = {
            "path": rel,
            "sha256": sha256_file(p),
            "size_bytes": p.stat().st_size,
            "parameter_count": params,
            "onnx_initializer_elements": initializer_elements(p),
            "parity": parity.get(precision),
        }
    if extra is not None:
        entry["reference_checks"] = {k: {"max_abs_diff": v, "tolerance": spec.tol_extra,
                                         "passed": bool(v <= spec.tol_extra)} for k, v in extra.items()}
    return entry


def process(spec: ModelSpec, out_dir: Path, weights_path: str | None = None, do_export: bool = True,
            dynamo: bool = False) -> dict[str, Any]:
    """Export (optional) + verify one spec; returns its manifest entry. Raises on parity failure."""
    t0 = time.perf_counter()
    with Step(spec.id, "build PyTorch model") as st:
        model, info = build_model(spec, weights_path)
        params = count_parameters(model)
        st.note = f"{params:,} params, weights {info['kind']} ({info['source']})"
    if do_export:
        for precision in spec.precisions:
            path = out_dir / file_relpath(spec.id, precision)
            with Step(spec.id, f"export {precision} -> {path.relative_to(out_dir)}") as st:
                export_onnx(spec, model, info, precision, path, dynamo=dynamo)
                st.note = f"{path.stat().st_size / 1e6:.1f} MB"
    else:
        for precision in spec.precisions:
            path = out_dir / file_relpath(spec.id, precision)
            if not path.exists():
                raise FileNotFoundError(f"{path} missing: run `export {spec.id}` first")
            with Step(spec.id, f"check metadata of {path.name}"):
                m = onnx.load(str(path), load_external_data=False)
                got = {p.key: p.value for p in m.metadata_props}
                want = onnx_metadata(spec, info, precision)
                diff = {k: (got.get(k), v) for k, v in want.items() if k != "prism.exporter" and got.get(k) != v}
                if diff:
                    raise AssertionError(f"metadata mismatch (file, expected): {diff}")
    with Step(spec.id, "PyTorch reference on parity inputs"):
        inputs = spec.get_parity_inputs()
        refs = torch_reference(model, inputs)
    parity: dict[str, dict[str, Any]] = {}
    failures = []
    for precision in spec.precisions:
        path = out_dir / file_relpath(spec.id, precision)
        with Step(spec.id, f"parity onnxruntime {precision} vs PyTorch fp32") as st:
            r = onnx_parity(spec, path, precision, inputs, refs)
            parity[precision] = r
            st.note = (f"max_abs={r['max_abs_diff']:.3g} mean_abs={r['mean_abs_diff']:.3g} "
                       f"tol={r['tolerance']:g} psnr={r['psnr_db']} dB {'OK' if r['passed'] else 'FAIL'}")
            failures.extend(f"{precision}: {p}" for p in r["problems"])
    extra = None
    if spec.extra_check is not None and not weights_path:
        with Step(spec.id, "reference check") as st:
            extra = spec.extra_check(model, inputs)
            st.note = " ".join(f"{k}={v:.3g}" for k, v in extra.items())
            for k, v in extra.items():
                if v > spec.tol_extra:
                    failures.append(f"{k} = {v:.3g} > {spec.tol_extra:g}")
    entry = manifest_entry(spec, info, params, out_dir, parity, extra)
    log(f"[{spec.id}] done in {time.perf_counter() - t0:.1f}s" + (f"  FAILURES: {failures}" if failures else ""))
    if failures:
        raise ParityError(spec.id, failures, entry)
    return entry


class ParityError(AssertionError):
    def __init__(self, model_id: str, failures: list[str], entry: dict[str, Any]) -> None:
        super().__init__(f"{model_id}: " + "; ".join(failures))
        self.entry = entry
