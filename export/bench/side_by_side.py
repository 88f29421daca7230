"""Side by side on CPU: Prism, bare Python onnxruntime, PyTorch and ncnn, same inputs and threads.

Same real weights (the exported ONNX files; PyTorch builds the module they were exported from; ncnn
runs the original Real-ESRGAN .param/.bin files those weights come from), same real photo crops,
same thread count (2), one run of this script. Inference: median of 3 timed runs after one warm-up
(Prism: `prism bench`, which times session runs only). Whole process (SR): `prism upscale --tile
whole` against a Python script doing the same with ncnn or onnxruntime (decode, infer, encode),
wall time and peak resident memory, median of 3. INT8 columns only where `prism_export.quantize`
shipped a variant (it passed its quality gate).

    cargo xtask bench      # or: export/.venv/bin/python export/bench/side_by_side.py --prism target/release/prism

Writes export/out/bench/side_by_side.json and .md (the README's table).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "export"))
from prism_export import images, weights  # noqa: E402
from prism_export.registry import get_specs  # noqa: E402

OUT = ROOT / "export/out"
# (model id, ncnn file stem, crop size of the astronaut photo)
SR = [("realesr-animevideov3-x2", "realesr-animevideov3-x2", 256),
      ("realesr-animevideov3-x4", "realesr-animevideov3-x4", 256),
      ("realesrgan-x4plus-anime", "realesrgan-x4plus-anime", 96), ("realesrgan-x4plus", "realesrgan-x4plus", 96)]
RIFE = [("rife-v4.0", 448, 256), ("rife-v4.6", 448, 256), ("rife-v4.0", 1280, 720), ("rife-v4.6", 1280, 720)]
STYLE_SIZE, NEURAL_SIZE = 512, 512
# Long jobs: a 1080p clip at 24 fps (a pan over the retina photo) through the CLI, `prism -v`; the
# fps and MP/s are Prism's own end-of-run report (model load excluded), CPU use from rusage.
CLIP_FRAMES = {"upscale": 3, "interpolate": 12}
VIDEO = [("upscale", "realesr-animevideov3-x2", ["upscale", "--model", "realesr-animevideov3-x2"]),
         ("interpolate", "rife-v4.6", ["interpolate", "--model", "rife-v4.6", "-x", "2"])]

NCNN_SCRIPT = """
import sys, numpy as np, ncnn
from PIL import Image
param, binary, src, dst, threads = sys.argv[1:6]
net = ncnn.Net(); net.opt.use_vulkan_compute = False; net.opt.num_threads = int(threads)
net.load_param(param); net.load_model(binary)
x = np.asarray(Image.open(src).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0
ex = net.create_extractor(); ex.input("data", ncnn.Mat(np.ascontiguousarray(x)))
y = np.array(ex.extract("output")[1])
Image.fromarray((np.clip(y, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)).save(dst)
"""
ORT_SCRIPT = """
import sys, numpy as np, onnxruntime as ort
from PIL import Image
model, src, dst, threads = sys.argv[1:5]
so = ort.SessionOptions(); so.intra_op_num_threads = int(threads)
s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
x = np.asarray(Image.open(src).convert("RGB"), dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
y = s.run(None, {s.get_inputs()[0].name: np.ascontiguousarray(x)})[0][0]
Image.fromarray((np.clip(y, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)).save(dst)
"""


def median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def model_file(model_id: str, precision: str = "fp32") -> Path | None:
    p = OUT / model_id / f"{model_id}.{precision}.onnx"
    return p if p.is_file() else None


def prism_ms(prism: str, model: Path, shapes: dict[str, list[int]], precision: str, threads: int, repeat: int) -> float:
    cmd = [prism, "-q", "bench", str(model), "--device", "cpu", "--precision", precision, "--threads", str(threads),
           "--warmup", "1", "--runs", str(repeat), "--json"]
    for name, shape in shapes.items():
        cmd += ["--shape", f"{name}=" + "x".join(map(str, shape))]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["median_ms"]


def ort_ms(model: Path, feeds: dict[str, np.ndarray], threads: int, repeat: int) -> float:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    s = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    return median_ms(lambda: s.run(None, feeds), repeat)


def torch_ms(model, inputs: tuple, repeat: int) -> float:
    with torch.no_grad():
        return median_ms(lambda: model(*inputs), repeat)


def ncnn_ms(param: str, binary: str, x: np.ndarray, threads: int, repeat: int) -> float:
    import ncnn

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads
    net.load_param(param)
    net.load_model(binary)

    def once():
        ex = net.create_extractor()
        ex.input("data", ncnn.Mat(np.ascontiguousarray(x[0])))
        ex.extract("output")
    return median_ms(once, repeat)


# Started from a small process: a child forked from this one (torch loaded) would count this
# process's resident memory in its own peak.
LAUNCH = ("import resource, subprocess, sys, time; t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, "
          "stdout=subprocess.DEVNULL); print((time.perf_counter() - t) * 1e3, "
          "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0)")


def whole(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Median wall ms and the largest peak RSS (MiB) of ``repeat`` runs of ``cmd`` (one warm-up)."""
    walls, peaks = [], []
    for i in range(repeat + 1):
        proc = subprocess.run([sys.executable, "-c", LAUNCH, *cmd], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])} ... failed: {proc.stderr[-2000:]}")
        wall, peak = map(float, proc.stdout.split()[-2:])
        if i:
            walls.append(wall)
            peaks.append(peak)
    return statistics.median(walls), max(peaks)


SINK: list = []  # (results, save) of the run: each row is saved as soon as it is measured


# Wall, CPU seconds (user + system) and peak RSS of one child process.
TIMED = ("import resource, subprocess, sys, time; t = time.perf_counter(); p = subprocess.run(sys.argv[1:], "
         "stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); w = time.perf_counter() - t; "
         "r = resource.getrusage(resource.RUSAGE_CHILDREN); sys.stderr.write(p.stderr); "
         "print(w, r.ru_utime + r.ru_stime, r.ru_maxrss / 1024.0); sys.exit(p.returncode)")


def ffmpeg_binary() -> str:
    found = sorted((ROOT / ".prism/tools/ffmpeg/imageio_ffmpeg/binaries").glob("ffmpeg*"))
    return str(found[0]) if found else "ffmpeg"


def make_clip(path: Path, frames: int) -> None:
    """1920x1080, 24 fps, H.264: a downward pan (12 px a frame) over the retina photo scaled to 1920 wide."""
    data = Path(images.__file__).resolve().parents[1] / ".venv"
    retina = next(data.glob("lib/python*/site-packages/skimage/data/retina.jpg"))
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-v", "error", "-y", "-loop", "1", "-framerate", "24", "-i",
                    str(retina), "-vf", "scale=1920:-2:out_range=tv,crop=1920:1080:0:'min(n*12,ih-1080)',"
                    "format=yuv420p", "-frames:v", str(frames), "-c:v", "libx264", "-crf", "18", "-preset", "fast",
                    str(path)], check=True)


def video_rows(args, tmp: Path) -> list[dict]:
    """Throughput on a 1080p clip: fps and MP/s (Prism's report), CPU use of both cores, stage times."""
    import re
    rows = []
    for task, model_id, cmd in VIDEO:
        if model_file(model_id) is None:
            print(f"skip {model_id}: not exported", flush=True)
            continue
        n = CLIP_FRAMES[task]
        clip = tmp / f"clip_{n}.mp4"
        if not clip.is_file():
            make_clip(clip, n)
        out = tmp / f"{task}.mp4"
        full = [args.prism, "-v", *cmd, str(clip), "-o", str(out), "--device", "cpu", "--threads", str(args.threads),
                "--no-progress", "--overwrite"]
        proc = subprocess.run([sys.executable, "-c", TIMED, *full], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(full)} failed: {proc.stderr[-2000:]}")
        wall, cpu, peak = map(float, proc.stdout.split()[-3:])
        said = re.search(r"(\d+) frames in ([\d.]+) s: ([\d.]+) fps, ([\d.]+) MP/s", proc.stderr)
        stages = re.search(r"pipeline: (wall .*)", proc.stderr)
        rows.append(row(f"{model_id} {task} 1080p clip ({n} frames in), whole process",
                        prism_ms=wall * 1e3, prism_peak_mib_video=peak, cpu_cores_busy=cpu / wall,
                        frames_out=int(said[1]) if said else None,
                        # from Prism's frame count and seconds (its printed rates are rounded)
                        fps=f"{int(said[1]) / float(said[2]):.3g}" if said else None,
                        mp_per_s=f"{int(said[1]) * 1920 * 1080 * (4 if task == 'upscale' else 1) / float(said[2]) / 1e6:.3g}"
                        if said else None,
                        stages=re.sub(r"\x1b\[[0-9;]*m", "", stages[1]).strip() if stages else None))
    return rows


def row(work: str, **figs) -> dict:
    r = {"work": work, **{k: (round(v, 1) if isinstance(v, float) else v) for k, v in figs.items()}}
    print(json.dumps(r), flush=True)
    if SINK:
        res, save = SINK[0]
        res["rows"] = [x for x in res["rows"] if x["work"] != work] + [r]
        save(res)
    return r


def sr_rows(args, tmp: Path) -> list[dict]:
    rows = []
    for model_id, stem, size in SR:
        fp32 = model_file(model_id)
        if fp32 is None:
            print(f"skip {model_id}: not exported", flush=True)
            continue
        x = images.crop_tensor("astronaut", 100, 150, size, size)
        feeds = {"input": x.numpy()}
        param_text, bin_bytes, _ = weights.realesrgan_ncnn_model(stem, log=lambda *_: None)
        param, binary = tmp / f"{stem}.param", tmp / f"{stem}.bin"
        param.write_text(param_text)
        binary.write_bytes(bin_bytes)
        model = get_specs([model_id])[0].build()[0].eval().float()
        shape = {"input": list(x.shape)}
        figs = {"ncnn_ms": ncnn_ms(str(param), str(binary), feeds["input"], args.threads, args.repeat),
                "pytorch_ms": torch_ms(model, (x,), args.repeat),
                "onnxruntime_ms": ort_ms(fp32, feeds, args.threads, args.repeat),
                "prism_ms": prism_ms(args.prism, fp32, shape, "fp32", args.threads, args.repeat)}
        int8 = model_file(model_id, "int8")
        if int8 is not None:
            figs["prism_int8_ms"] = prism_ms(args.prism, fp32, shape, "int8", args.threads, args.repeat)
        rows.append(row(f"{model_id} {size}x{size} inference", **figs))
        # Whole process: decode the PNG, load, infer, encode.
        src = tmp / f"astronaut_{size}.png"
        from PIL import Image
        Image.fromarray((x[0].numpy().transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)).save(src)
        py = sys.executable
        w = {}
        w["ncnn_ms"], w["ncnn_peak_mib"] = whole([py, "-c", NCNN_SCRIPT, str(param), str(binary), str(src),
                                                  str(tmp / "n.png"), str(args.threads)], args.repeat)
        w["onnxruntime_ms"], w["onnxruntime_peak_mib"] = whole([py, "-c", ORT_SCRIPT, str(fp32), str(src),
                                                                str(tmp / "o.png"), str(args.threads)], args.repeat)
        for precision, key in (("fp32", "prism"), ("auto", "prism_auto")):
            if precision == "auto" and int8 is None:
                continue
            w[f"{key}_ms"], w[f"{key}_peak_mib"] = whole(
                [args.prism, "-q", "upscale", str(src), "-o", str(tmp / "p.png"), "--model", model_id, "--device",
                 "cpu", "--precision", precision, "--threads", str(args.threads), "--tile", "whole", "--overwrite"],
                args.repeat)
        rows.append(row(f"{model_id} {size}x{size} whole process", **w))
    return rows


def rife_rows(args) -> list[dict]:
    rows = []
    photo = images.load_rgb("retina")
    built = {}
    for model_id, w, h in RIFE:
        fp32 = model_file(model_id)
        if fp32 is None:
            print(f"skip {model_id}: not exported", flush=True)
            continue
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32  # Prism pads to the model's multiple of 32
        pair = [np.ascontiguousarray(photo[100:100 + ph, 60 + s:60 + s + pw].transpose(2, 0, 1)[None],
                                     dtype=np.float32) / 255.0 for s in (0, 4)]
        feeds = {"img0": pair[0], "img1": pair[1], "timestep": np.full((1, 1, 1, 1), 0.5, np.float32)}
        if model_id not in built:
            built[model_id] = get_specs([model_id])[0].build()[0].eval().float()
        inputs = tuple(torch.from_numpy(v) for v in feeds.values())
        shapes = {k: list(v.shape) for k, v in feeds.items()}
        rows.append(row(f"{model_id} {w}x{h} pair (run {pw}x{ph}) inference",
                        pytorch_ms=torch_ms(built[model_id], inputs, args.repeat),
                        onnxruntime_ms=ort_ms(fp32, feeds, args.threads, args.repeat),
                        prism_ms=prism_ms(args.prism, fp32, shapes, "fp32", args.threads, args.repeat)))
    return rows


def style_rows(args) -> list[dict]:
    rows = []
    x = images.crop_tensor("astronaut", 0, 0, STYLE_SIZE, STYLE_SIZE)
    fp32 = model_file("style-mosaic")
    if fp32 is not None:
        spec = get_specs(["style-mosaic"])[0]
        xs = x * 255.0 if spec.metadata.get("prism.value_range") == "0..255" else x
        rows.append(row(f"fast style (style-mosaic) {STYLE_SIZE}x{STYLE_SIZE} inference",
                        pytorch_ms=torch_ms(spec.build()[0].eval().float(), (xs,), args.repeat),
                        onnxruntime_ms=ort_ms(fp32, {"input": xs.numpy()}, args.threads, args.repeat),
                        prism_ms=prism_ms(args.prism, fp32, {"input": list(xs.shape)}, "fp32", args.threads,
                                          args.repeat)))
    feat, vjp = model_file("vgg19-features"), model_file("vgg19-vjp")
    if feat is None or vjp is None:
        return rows
    xn = images.crop_tensor("astronaut", 0, 0, NEURAL_SIZE, NEURAL_SIZE)
    net = get_specs(["vgg19-features"])[0].build()[0].eval().float()
    for p in net.parameters():
        p.requires_grad_(False)

    def torch_step():
        img = xn.clone().requires_grad_(True)
        outs = net(img)
        torch.autograd.backward(list(outs), [torch.ones_like(o) for o in outs])
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    fs = ort.InferenceSession(str(feat), so, providers=["CPUExecutionProvider"])
    vs = ort.InferenceSession(str(vjp), so, providers=["CPUExecutionProvider"])

    def ort_step():
        outs = fs.run(None, {"image": xn.numpy()})
        vs.run(None, {"image": xn.numpy(), **{f"g_{o.name}": np.ones_like(a) for o, a in zip(fs.get_outputs(), outs)}})
    figs = {"pytorch_ms": median_ms(torch_step, args.repeat), "onnxruntime_ms": median_ms(ort_step, args.repeat)}
    # Prism: `prism style neural`, 1 and 3 fixed L-BFGS steps (each one forward + one VJP); time per
    # step = difference / 2; peak = the 3-step run's resident memory.
    data = Path(images.__file__).resolve().parents[1] / ".venv"
    skdata = next(data.glob("lib/python*/site-packages/skimage/data"))
    with tempfile.TemporaryDirectory() as tmp:
        def neural(steps):
            out = os.path.join(tmp, "n.png")
            cmd = [args.prism, "-q", "style", "neural", str(skdata / "astronaut.png"), "--style",
                   str(skdata / "coffee.png"), "-o", out, "--size", str(NEURAL_SIZE), "--steps", str(steps),
                   "--line-search", "none", "--print-every", "0", "--device", "cpu", "--threads", str(args.threads)]
            # a fresh output each run (exec: the measured process is prism itself)
            return whole(["sh", "-c", 'rm -f "$0"; exec "$@"', out, *cmd], 1)
        t1, _ = neural(1)
        t3, peak = neural(3)
    # Under load the difference can be noise (even negative): then no figure, only the raw walls.
    figs.update(prism_ms=(t3 - t1) / 2 if t3 > t1 else None, prism_1_step_wall_ms=t1, prism_3_step_wall_ms=t3,
                prism_peak_mib=peak)
    rows.append(row(f"neural style, one step (forward + VJP) at {NEURAL_SIZE} px", **figs))
    return rows


def ratio(r: dict, a: str, b: str) -> str:
    return f"{r[a] / r[b]:.2f}" if isinstance(r.get(a), (int, float)) and isinstance(r.get(b), (int, float)) else "–"


def markdown(res: dict) -> str:
    def f(r, k, unit="ms"):
        v = r.get(k)
        if not isinstance(v, (int, float)):
            return "–"
        return f"{v / 1e3:.2f} s" if unit == "ms" and v >= 1000 else (f"{v:.0f} {unit}" if unit != "ms" else f"{v:.0f} ms")
    lines = [f"{res['machine']}, {res['threads']} threads, CPU, {res['date']}; median of {res['repeat']}"
             f"{'; machine under load (other jobs running): compare ratios' if res['under_load'] else ''}.", "",
             "| work | ncnn | PyTorch | onnxruntime (Python) | Prism | Prism INT8 | Prism / ncnn | Prism / PyTorch | Prism / ort |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in res["rows"]:
        if ("prism_ms" not in r and "pytorch_ms" not in r) or "fps" in r:
            continue
        lines.append(f"| {r['work']} | {f(r, 'ncnn_ms')} | {f(r, 'pytorch_ms')} | {f(r, 'onnxruntime_ms')} | "
                     f"{f(r, 'prism_ms')} | {f(r, 'prism_int8_ms')} | {ratio(r, 'prism_ms', 'ncnn_ms')} | "
                     f"{ratio(r, 'prism_ms', 'pytorch_ms')} | {ratio(r, 'prism_ms', 'onnxruntime_ms')} |")
    lines += ["", "Peak resident memory (whole process): " + "; ".join(
        f"{r['work'].replace(' whole process', '')}: Prism {f(r, 'prism_peak_mib', 'MiB')}, ncnn "
        f"{f(r, 'ncnn_peak_mib', 'MiB')}, onnxruntime {f(r, 'onnxruntime_peak_mib', 'MiB')}"
        for r in res["rows"] if "ncnn_peak_mib" in r) + "."]
    video = [r for r in res["rows"] if "fps" in r]
    if video:
        lines += ["", "Long jobs, 1080p H.264 clip in and out (`prism -v`, whole process; fps and MP/s of output "
                  "frames from Prism's end-of-run report, model load excluded; CPU = user + system seconds / wall):", ""]
        lines += [f"- {r['work']}: {r['frames_out']} frames out, {r['fps']} fps, {r['mp_per_s']} MP/s, "
                  f"{r['prism_ms'] / 1e3:.1f} s wall, {r['cpu_cores_busy']:.2f} of {res['threads']} cores busy, "
                  f"peak {r['prism_peak_mib_video']:.0f} MiB; stages: {r['stages']}" for r in video]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prism", default=str(ROOT / "target/release/prism"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=["sr", "rife", "style", "video"], action="append",
                    help="a subset (default: all)")
    ap.add_argument("--out", type=Path, default=OUT / "bench/side_by_side")
    ap.add_argument("--append", action="store_true", help="keep the rows of an earlier run that this one does not redo")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = os.getloadavg()[0]
    res = {"machine": cpu, "threads": args.threads, "repeat": args.repeat,
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "load_average_at_start": round(load, 2), "under_load": load > 1.5 * args.threads / 2 + 0.5,
           "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__.split("+")[0]}, "rows": []}
    only = set(args.only or ["sr", "rife", "style", "video"])
    old = args.out.with_suffix(".json")
    if args.append and old.is_file():
        res["rows"] = json.loads(old.read_text())["rows"]
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save(res: dict) -> None:
        res["load_average_at_end"] = round(os.getloadavg()[0], 2)
        # The run itself keeps about `threads` cores busy: only more than that is other load.
        res["under_load"] = res["under_load"] or res["load_average_at_end"] > args.threads + 1
        args.out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(res))
    SINK.append((res, save))
    with tempfile.TemporaryDirectory() as tmp:
        if "sr" in only:
            sr_rows(args, Path(tmp))
        if "rife" in only:
            rife_rows(args)
        if "style" in only:
            style_rows(args)
        if "video" in only:
            video_rows(args, Path(tmp))
    save(res)
    print(markdown(res))
    print(f"written to {args.out.with_suffix('.json')} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
