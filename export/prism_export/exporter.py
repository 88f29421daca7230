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


def build_model(spec: ModelSpec, weights_path: str | None = None):
    if weights_path and not spec.accepts_weights_path:
        raise ValueError(f"{spec.id} does not accept --weights")
    model, info = spec.build(weights_path=weights_path) if weights_path else spec.build()
    check_weights_info(spec.id, info)
    model = model.float().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, info


def onnx_metadata(spec: ModelSpec, info: dict[str, str], precision: str) -> dict[str, str]:
    meta = {
        "prism.model_id": spec.id,
        "prism.task": spec.task,
        "prism.architecture": spec.architecture,
    }
    meta.update(spec.metadata)
    meta.update({
        "prism.precision": precision,
        "prism.weights": info["kind"],
        "prism.weights_source": info["source"],
        "prism.exporter": exporter_string(),
    })
    return meta


def export_onnx(spec: ModelSpec, model: torch.nn.Module, info: dict[str, str], precision: str,
                path: Path, dynamo: bool = False) -> None:
    if precision == "fp16":
        model = copy.deepcopy(model).half()
        make = spec.fp16_example_inputs or spec.example_inputs
        inputs = _cast_inputs(make(), torch.float16)
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
    want = onnx.TensorProto.FLOAT16 if precision == "fp16" else onnx.TensorProto.FLOAT
    names_in = [i.name for i in m.graph.input]
    names_out = [o.name for o in m.graph.output]
    if names_in != list(spec.input_names) or names_out != list(spec.output_names):
        raise AssertionError(f"graph io {names_in} -> {names_out} != spec {spec.input_names} -> {spec.output_names}")
    for vi in list(m.graph.input) + list(m.graph.output):
        et = vi.type.tensor_type.elem_type
        if et in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE) and et != want:
            raise AssertionError(f"{vi.name}: element type {onnx.TensorProto.DataType.Name(et)} in {precision} model")
        dims = vi.type.tensor_type.shape.dim
        for axis, name in spec.dynamic_axes.get(vi.name, {}).items():
            if dims[axis].dim_value:
                raise AssertionError(f"{vi.name} axis {axis} ({name}) is static ({dims[axis].dim_value})")
    for init in m.graph.initializer:
        if init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE) \
                and init.data_type != want and len(init.dims) > 1:
            raise AssertionError(f"initializer {init.name} is {onnx.TensorProto.DataType.Name(init.data_type)} "
                                 f"in a {precision} model")
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


def onnx_parity(spec: ModelSpec, path: Path, precision: str, inputs: list[tuple[Any, ...]],
                refs: list[list[np.ndarray]]) -> dict[str, Any]:
    sess = ort_session(path)
    np_dtype = np.float16 if precision == "fp16" else np.float32
    max_abs, sum_abs, n = 0.0, 0.0, 0
    shapes = []
    for inp, ref in zip(inputs, refs):
        feed = {}
        for name, x in zip(spec.input_names, inp):
            a = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
            feed[name] = a.astype(np_dtype) if np.issubdtype(a.dtype, np.floating) else a
        outs = sess.run(list(spec.output_names), feed)
        for o, r in zip(outs, ref):
            if o.shape != r.shape:
                raise AssertionError(f"{spec.id} {precision}: ONNX output shape {o.shape} != PyTorch {r.shape}")
            if not np.all(np.isfinite(o)):
                raise AssertionError(f"{spec.id} {precision}: ONNX output has non-finite values")
            d = np.abs(o.astype(np.float32) - r)
            max_abs = max(max_abs, float(d.max()))
            sum_abs += float(d.sum())
            n += d.size
        shapes.append([list(np.shape(x)) for x in inp])
    tol = spec.tol_fp16 if precision == "fp16" else spec.tol_fp32
    return {"reference": "pytorch-fp32", "runtime": "onnxruntime-cpu", "max_abs_diff": max_abs,
            "mean_abs_diff": sum_abs / max(n, 1), "tolerance": tol, "passed": bool(max_abs <= tol),
            "input_shapes": shapes}


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
            existing[e["id"]] = e
        merged = sorted(existing.values(), key=lambda e: e["id"])
        tmp = out_dir / f"{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(merged, indent=2) + "\n")
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
        "metadata": dict(md),
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
                       f"tol={r['tolerance']:g} {'OK' if r['passed'] else 'FAIL'}")
            if not r["passed"]:
                failures.append(f"{precision}: max abs diff {r['max_abs_diff']:.3g} > {r['tolerance']:g}")
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
