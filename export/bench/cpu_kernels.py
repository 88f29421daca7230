"""Where ONNX Runtime's CPU time goes in Prism's graphs, and what the obvious alternatives buy.

    profile   per-operator kernel time of an exported model (ONNX Runtime's profiler)
    warp      RIFE's warp (``rife.BackwardWarp``: bilinear, border, align_corners) as ONNX
              Runtime's GridSample against PyTorch's ``grid_sample``, same data, same threads
    deconv    RIFE's ConvTranspose(4, stride 2, pad 1) re-expressed as Conv 3x3 + DepthToSpace(2)
              (exact: checked per layer), whole-model time side by side with the original
    provider  another execution provider of the running Python's onnxruntime against its CPU
              provider on the same model and inputs (e.g. the ``onnxruntime-openvino`` wheel)

    export/.venv/bin/python export/bench/cpu_kernels.py profile --model rife-v4.6 --size 1280x736
    export/.venv/bin/python export/bench/cpu_kernels.py warp --size 1280x736
    export/.venv/bin/python export/bench/cpu_kernels.py deconv --model rife-v4.6 --size 1280x736
    python3 -m venv /tmp/ov && /tmp/ov/bin/pip install onnxruntime-openvino==1.24.1 onnx
    /tmp/ov/bin/python export/bench/cpu_kernels.py provider --ep OpenVINOExecutionProvider \\
        --model realesrgan-x4plus --size 128x128

Inputs are smooth synthetic frames (the second shifted by 4 px, so RIFE sees real motion); 2
threads, runs interleaved, medians printed. ``provider`` needs only onnxruntime, numpy and onnx.
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

OUT = Path(__file__).resolve().parents[2] / "export/out"


def model_path(model_id: str) -> Path:
    p = OUT / model_id / f"{model_id}.fp32.onnx"
    if not p.is_file():
        sys.exit(f"{p}: not exported (run `cargo xtask test` or `python -m prism_export {model_id}`)")
    return p


def frame(h: int, w: int, shift: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x += shift
    planes = [0.5 + 0.4 * np.sin(x / 23 + y / 37), 0.5 + 0.4 * np.cos(x / 41 - y / 19), 0.5 + 0.4 * np.sin((x + y) / 29)]
    return np.stack(planes)[None].astype(np.float32)


def feeds_for(session: ort.InferenceSession, h: int, w: int) -> dict[str, np.ndarray]:
    names = [i.name for i in session.get_inputs()]
    feeds = {}
    for k, name in enumerate(names):
        feeds[name] = np.full((1, 1, 1, 1), 0.5, np.float32) if name == "timestep" else frame(h, w, 4 * k)
    return feeds


def session(model, threads: int, providers=("CPUExecutionProvider",), profile: str | None = None):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    if profile:
        so.enable_profiling = True
        so.profile_file_prefix = profile
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), so, providers=list(providers))


def interleaved(fns: dict, runs: int) -> dict[str, float]:
    """Median milliseconds of each callable, run in turns so machine load hits all alike."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(runs):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def cmd_profile(args, h: int, w: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        s = session(model_path(args.model), args.threads, profile=f"{tmp}/p")
        feeds = feeds_for(s, h, w)
        s.run(None, feeds)
        for _ in range(args.runs):
            s.run(None, feeds)
        events = json.load(open(s.end_profiling()))
    per_op, count = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"]
            count[e["args"]["op_name"]] += 1
    total = sum(per_op.values())
    calls = args.runs + 1
    print(f"{args.model} {w}x{h}, {args.threads} threads: {total / 1e3 / calls:.0f} ms of kernels per run")
    for op, us in per_op.most_common(args.top):
        print(f"  {op:24s} {us / 1e3 / calls:8.1f} ms  {100 * us / total:5.1f} %  {count[op] // calls:3d} nodes")


def cmd_warp(args, h: int, w: int) -> None:
    import io
    import torch
    sys.path.insert(0, str(OUT.parent))
    from prism_export.rife import BackwardWarp

    torch.set_num_threads(args.threads)
    img = torch.from_numpy(frame(h, w, 0))
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    flow = torch.stack([3 * torch.sin(yy / 50) + 4, 2 * torch.cos(xx / 70)])[None]  # smooth motion, a few px
    buf = io.BytesIO()
    torch.onnx.export(BackwardWarp(), (img, flow), buf, input_names=["img", "flow"], opset_version=17, dynamo=False)
    s = session(buf.getvalue(), args.threads)
    feeds = {"img": img.numpy(), "flow": flow.numpy()}
    with torch.no_grad():
        ref = BackwardWarp()(img, flow).numpy()
    print(f"max |ORT - PyTorch| = {np.abs(s.run(None, feeds)[0] - ref).max():.2e}")
    with torch.no_grad():
        t = interleaved({"onnxruntime GridSample": lambda: s.run(None, feeds),
                         "PyTorch grid_sample": lambda: BackwardWarp()(img, flow)}, args.runs)
    for k, v in t.items():
        print(f"  {k:24s} {v:7.1f} ms  (3x{h}x{w}, {args.threads} threads)")


def deconv_as_conv(model):
    """The graph with every ConvTranspose(k4, s2, p1) replaced by Conv 3x3 + DepthToSpace(2, CRD).

    Output pixel (2i+a, 2j+b) reads inputs i+d, d in {-1, 0} for a = 0 (taps 3, 1) and {0, 1} for
    a = 1 (taps 2, 0): a 3x3 kernel with 4*Cout outputs (five of its nine taps zero per phase).
    """
    from onnx import helper, numpy_helper

    init = {i.name: i for i in model.graph.initializer}
    nodes, replaced = [], []
    for n in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type != "ConvTranspose" or list(attrs.get("strides", [])) != [2, 2] or \
                list(attrs.get("pads", [])) != [1, 1, 1, 1] or attrs.get("group", 1) != 1:
            nodes.append(n)
            continue
        wt = numpy_helper.to_array(init[n.input[1]])  # [Cin, Cout, 4, 4]
        cin, cout = wt.shape[:2]
        k = np.zeros((cout, 2, 2, cin, 3, 3), np.float32)
        taps = {(0, -1): 3, (0, 0): 1, (1, 0): 2, (1, 1): 0}  # (phase, input offset): kernel tap
        for (a, dy), ky in taps.items():
            for (b, dx), kx in taps.items():
                k[:, a, b, :, dy + 1, dx + 1] = wt[:, :, ky, kx].T
        ins = [n.input[0], n.name + "/w3x3"]
        model.graph.initializer.append(numpy_helper.from_array(k.reshape(4 * cout, cin, 3, 3), ins[1]))
        if len(n.input) > 2:
            ins.append(n.name + "/b3x3")
            model.graph.initializer.append(numpy_helper.from_array(np.repeat(numpy_helper.to_array(init[n.input[2]]), 4), ins[2]))
        nodes.append(helper.make_node("Conv", ins, [n.output[0] + "/phases"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("DepthToSpace", [n.output[0] + "/phases"], [n.output[0]], blocksize=2, mode="CRD"))
        replaced.append((n.name, cin, cout))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model, replaced


def cmd_deconv(args, h: int, w: int) -> None:
    import onnx
    import torch

    torch.manual_seed(0)  # the rewrite itself, on one layer of RIFE's shape, against PyTorch
    layer = torch.nn.ConvTranspose2d(48, 24, 4, 2, 1)
    x = torch.randn(1, 48, 23, 40)
    one = onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1], name="ct")],
        "one", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(x.shape))],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(layer.weight.detach().numpy(), "w"),
         onnx.numpy_helper.from_array(layer.bias.detach().numpy(), "b")]), opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8)
    one, _ = deconv_as_conv(one)
    with torch.no_grad():
        err = np.abs(session(one.SerializeToString(), 1).run(None, {"x": x.numpy()})[0] - layer(x).numpy()).max()
    print(f"one layer, Conv+DepthToSpace against PyTorch's ConvTranspose2d: max |diff| {err:.1e}")

    path = model_path(args.model)
    rewritten, replaced = deconv_as_conv(onnx.load(path))
    print(f"{args.model}: {len(replaced)} ConvTranspose replaced ({', '.join(f'{c}->{o}' for _, c, o in replaced)})")
    a, b = session(path, args.threads), session(rewritten.SerializeToString(), args.threads)
    feeds = feeds_for(a, h, w)
    diff = max(float(np.abs(x - y).max()) for x, y in zip(a.run(None, feeds), b.run(None, feeds)))
    print(f"  whole model max |diff| {diff:.1e}")
    t = interleaved({"ConvTranspose (shipped)": lambda: a.run(None, feeds),
                     "Conv 3x3 + DepthToSpace": lambda: b.run(None, feeds)}, args.runs)
    for k, v in t.items():
        print(f"  {k:24s} {v:8.1f} ms")
    print(f"  ratio {t['Conv 3x3 + DepthToSpace'] / t['ConvTranspose (shipped)']:.3f}")


def cmd_provider(args, h: int, w: int) -> None:
    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}")
    if args.ep not in ort.get_available_providers():
        sys.exit(f"{args.ep} is not in this onnxruntime build")
    path = model_path(args.model)
    cpu = session(path, args.threads)
    other = session(path, args.threads, providers=[(args.ep, {"num_of_threads": str(args.threads)}), "CPUExecutionProvider"])
    feeds = feeds_for(cpu, h, w)
    diff = max(float(np.abs(x - y).max()) for x, y in zip(cpu.run(None, feeds), other.run(None, feeds)))
    t = interleaved({"CPUExecutionProvider": lambda: cpu.run(None, feeds), args.ep: lambda: other.run(None, feeds)}, args.runs)
    print(f"{args.model} {w}x{h}, {args.threads} threads, max |diff| {diff:.1e}")
    for k, v in t.items():
        print(f"  {k:28s} {v:8.1f} ms")
    print(f"  ratio {t[args.ep] / t['CPUExecutionProvider']:.3f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["profile", "warp", "deconv", "provider"])
    p.add_argument("--model", default="rife-v4.6")
    p.add_argument("--size", default="1280x736", help="WxH the graph runs at")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--ep", default="OpenVINOExecutionProvider")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    {"profile": cmd_profile, "warp": cmd_warp, "deconv": cmd_deconv, "provider": cmd_provider}[args.what](args, h, w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
