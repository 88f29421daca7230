"""Prism on a Ray cluster: folder batches and segmented interpolation over Ray Data actor pools.

    import ray, prism.ray
    ray.init(address="auto")
    report = prism.ray.upscale_folder("photos/", "big/", model="realesr-animevideov3-x4",
                                      num_actors=2, num_cpus=1, threads=1)

Each actor loads its Prism model once and runs batches of files (or interpolation segments)
through the same Rust code as the `prism` command, so output names, resume (existing outputs are
skipped), atomic writes and pixels are the command's. Actors that die are restarted and their
batches retried (Ray Data's actor pools). Needs `pip install "ray[data]"`; every node needs the
`prism` package and the models (ids resolve through the Hub cache or `PRISM_MODELS_DIR`; the
driver passes the model file's path when it can resolve it, so a shared file system is enough).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import _prism

PathLike = Union[str, "os.PathLike[str]"]
Progress = Optional[Callable[[int, int], Any]]

_VIDEO_EXTENSIONS = {"mp4", "mkv", "mov", "webm", "avi", "m4v", "gif", "mpg", "mpeg", "ts", "wmv"}


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            'prism.ray needs Ray with Ray Data: pip install "ray[data]"'
        ) from e
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), log_to_driver=False)
    return ray


def _model_path(model: Optional[str]) -> Optional[str]:
    """The model's file when the driver can resolve it (workers then need no Hub access)."""
    if model is None:
        return None
    try:
        return str(_prism.resolve_model(model))
    except Exception:  # noqa: BLE001 - the workers resolve it themselves then
        return model


def _is_video(path: Path) -> bool:
    return path.suffix.lower().lstrip(".") in _VIDEO_EXTENSIONS and not path.is_dir()


def _pool(ray, num_actors: int):
    if num_actors < 1:
        raise ValueError("num_actors must be at least 1")
    return ray.data.ActorPoolStrategy(size=num_actors)


class _MapActor:
    """Loads an Upscaler or a FastStyle once; runs batches of (input, output) files."""

    def __init__(self, kind: str, loader: Dict[str, Any], run: Dict[str, Any]):
        import prism

        self.step = prism.Upscaler(**loader) if kind == "upscale" else prism.FastStyle(**loader)
        self.run = run

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, List[str]]:
        inputs = [str(p) for p in batch["input"]]
        outputs = [str(p) for p in batch["output"]]
        written, skipped, failed = _prism.map_files(self.step, inputs, outputs, **self.run)
        status = {str(p): "written" for p in written}
        status.update({str(p): "skipped" for p in skipped})
        messages = {str(i): m for i, m in failed}
        return {
            "input": inputs,
            "output": outputs,
            "status": [status.get(o, "failed") for o in outputs],
            "message": [messages.get(i, "") for i in inputs],
        }


def _map_folder(
    kind: str, src: PathLike, dst: Optional[PathLike], loader: Dict[str, Any], *,
    suffix: Optional[str], recursive: bool, glob: Optional[str], format: Optional[str],
    quality: int, overwrite: bool, run: Dict[str, Any], num_actors: int, num_cpus: float,
    num_gpus: float, batch_size: int, progress: Progress,
) -> Dict[str, Any]:
    ray = _ray()
    if suffix is None:
        # The command's default suffix comes from the loaded model (`_x4`, `_mosaic`, ...).
        import prism

        # Loaded on the driver's CPU: the workers' device may not exist here.
        cpu = dict(loader, device="cpu")
        probe = prism.Upscaler(**cpu) if kind == "upscale" else prism.FastStyle(**cpu)
        suffix = probe.suffix
        del probe
    jobs = _prism.plan_batch(
        str(src), None if dst is None else str(dst), suffix,
        recursive=recursive, glob=glob, format=format,
    )
    report: Dict[str, Any] = {"written": [], "skipped": [], "failed": [], "suffix": suffix}
    items = [{"input": str(i), "output": str(o)} for i, o in jobs]
    ds = ray.data.from_items(items).map_batches(
        _MapActor,
        fn_constructor_args=(kind, loader, dict(run, quality=quality, overwrite=overwrite)),
        batch_size=batch_size, compute=_pool(ray, num_actors), num_cpus=num_cpus,
        num_gpus=num_gpus or None, batch_format="numpy",
    )
    done = 0
    for row in ds.iter_rows():
        if row["status"] == "failed":
            report["failed"].append((row["input"], row["message"]))
        else:
            report[row["status"]].append(row["output"])
        done += 1
        if progress is not None:
            progress(done, len(items))
    return report


def upscale_folder(
    src: PathLike, dst: Optional[PathLike], *, model: str = "realesrgan-x4plus",
    suffix: Optional[str] = None, recursive: bool = False, glob: Optional[str] = None,
    format: Optional[str] = None, quality: int = 95, overwrite: bool = False,
    num_actors: int = 1, num_cpus: float = 1, num_gpus: float = 0, batch_size: int = 4,
    progress: Progress = None, **options: Any,
) -> Dict[str, Any]:
    """`prism upscale SRC -o DST` over a Ray cluster: the same files, names and bytes.

    `options` are `prism.Upscaler`'s (tile, outscale, threads, device, ...). Returns
    {"written", "skipped", "failed": [(input, message)], "suffix"}.
    """
    loader = dict(options, model=_model_path(model))
    return _map_folder(
        "upscale", src, dst, loader, suffix=suffix, recursive=recursive, glob=glob,
        format=format, quality=quality, overwrite=overwrite, run={}, num_actors=num_actors,
        num_cpus=num_cpus, num_gpus=num_gpus, batch_size=batch_size, progress=progress,
    )


def style_folder(
    src: PathLike, dst: Optional[PathLike], *, model: Optional[str] = None,
    suffix: Optional[str] = None, recursive: bool = False, glob: Optional[str] = None,
    format: Optional[str] = None, quality: int = 95, overwrite: bool = False,
    content_scale: float = 1.0, strength: float = 1.0, preserve_colors: bool = False,
    num_actors: int = 1, num_cpus: float = 1, num_gpus: float = 0, batch_size: int = 4,
    progress: Progress = None, **options: Any,
) -> Dict[str, Any]:
    """`prism style fast SRC -o DST` over a Ray cluster (options: `prism.FastStyle`'s)."""
    loader = dict(options)
    if model is not None:
        loader["model"] = _model_path(model)
    run = {"content_scale": content_scale, "strength": strength, "preserve_colors": preserve_colors}
    return _map_folder(
        "style", src, dst, loader, suffix=suffix, recursive=recursive, glob=glob,
        format=format, quality=quality, overwrite=overwrite, run=run, num_actors=num_actors,
        num_cpus=num_cpus, num_gpus=num_gpus, batch_size=batch_size, progress=progress,
    )


class _SegmentActor:
    """Loads an Interpolator once; interpolates segments into numbered frames."""

    def __init__(self, loader: Dict[str, Any], frames: List[str], out: str,
                 sequence: Dict[str, Any], overwrite: bool):
        import prism

        self.net = prism.Interpolator(**loader)
        self.frames, self.out, self.sequence, self.overwrite = frames, out, sequence, overwrite

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, List[Any]]:
        done = []
        for first, last, start, end in zip(batch["first"], batch["last"], batch["start"], batch["end"]):
            ext = self.sequence["frame_format"]
            names = [os.path.join(self.out, f"{k:08}.{ext}") for k in range(int(start), int(end))]
            if not self.overwrite and all(os.path.isfile(n) for n in names):
                done.append("skipped")
                continue
            _prism.interpolate_segment(
                self.net, self.frames, int(first), int(last), self.out, **self.sequence
            )
            done.append("written")
        return {"first": list(batch["first"]), "status": done}


def interpolate_video(
    src: PathLike, dst: PathLike, *, model: str = "rife-v4.6", multiple: int = 2,
    fps: Optional[str] = None, input_fps: Optional[str] = None, scene_threshold: float = 0.2,
    dedup: bool = False, dedup_threshold: float = 0.996, frame_format: str = "png",
    segment_frames: int = 48, at_cuts: bool = True, recursive: bool = False,
    glob: Optional[str] = None, overwrite: bool = False, work_dir: Optional[PathLike] = None,
    codec: str = "libx264", crf: int = 18, preset: str = "medium", pix_fmt: str = "yuv420p",
    no_audio: bool = False, num_actors: int = 1, num_cpus: float = 1, num_gpus: float = 0,
    progress: Progress = None, **options: Any,
) -> Dict[str, Any]:
    """`prism interpolate SRC -o DST` (a video or frame folder into a video or frame folder) with
    the sequence cut into segments at scene cuts and every `segment_frames` source frames, run in
    parallel; the frames are the command's, frame for frame, with its exact rational timing.

    Segments whose frames all exist are skipped (resume). A video source is decoded once into
    `work_dir` (default: a hidden folder beside DST, removed after success).
    """
    ray = _ray()
    src, dst = Path(src), Path(dst)
    out_video = _is_video(dst)
    work = Path(work_dir) if work_dir is not None else dst.parent / f".{dst.name}.prism-ray"
    audio = None
    if _is_video(src):
        rate_in, count, has_audio, deep = _prism.decode_video(str(src), str(work / "source"))
        frames = [str(work / "source" / f"{i:08}.png") for i in range(count)]
        audio = None if no_audio else str(src)
    else:
        frames = [str(p) for p in _prism.list_inputs(str(src), recursive=recursive, glob=glob)]
        rate_in = input_fps or "24"
        deep = _prism.read_image(frames[0]).dtype.itemsize > 1
    if len(frames) < 2:
        raise _prism.InputError(f"{src}: a sequence needs at least two frames")
    sequence = dict(
        input_fps=rate_in, multiple=multiple, fps=fps, scene_threshold=scene_threshold,
        dedup=dedup, dedup_threshold=dedup_threshold, hold_last=out_video,
    )
    rate, plan = _prism.segments(frames, segment_frames=segment_frames, at_cuts=at_cuts, **sequence)
    out = work / "frames" if out_video else dst
    out.mkdir(parents=True, exist_ok=True)
    _prism.remove_partials(str(out))
    sequence["frame_format"] = "png" if out_video else frame_format
    loader = dict(options, model=_model_path(model) if "scale" not in options else model)
    items = [{"first": f, "last": l, "start": s, "end": e} for f, l, s, e in plan]
    ds = ray.data.from_items(items).map_batches(
        _SegmentActor,
        fn_constructor_args=(loader, frames, str(out), sequence, overwrite),
        batch_size=1, compute=_pool(ray, num_actors), num_cpus=num_cpus,
        num_gpus=num_gpus or None, batch_format="numpy",
    )
    statuses = []
    for row in ds.iter_rows():
        statuses.append(row["status"])
        if progress is not None:
            progress(len(statuses), len(items))
    total = plan[-1][3] if plan else 0
    report: Dict[str, Any] = {
        "rate": rate, "frames": total, "segments": [tuple(p) for p in plan],
        "skipped": statuses.count("skipped"), "output": str(dst),
    }
    if out_video:
        names = [str(out / f"{k:08}.png") for k in range(total)]
        _prism.encode_video(
            names, str(dst), rate, audio_from=audio, deep=deep, codec=codec, crf=crf,
            preset=preset, pix_fmt=pix_fmt,
        )
    _prism.remove_partials(str(out))
    if work_dir is None and work.exists():
        shutil.rmtree(work)
    return report


__all__ = ["interpolate_video", "style_folder", "upscale_folder"]
