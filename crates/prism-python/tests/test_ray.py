"""`prism.ray` on a real local Ray cluster (a head and a worker node, started here, on loopback):
folder batches and segmented interpolation write the `prism` command's files, byte for byte,
and a batch survives its worker process being killed mid-run.

Needs `ray[data]` (cargo xtask test installs it into .prism/py-build/ray; skipped without it).
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, load, photo, run_cli, save

ray = pytest.importorskip("ray")
import prism.ray  # noqa: E402

UPSCALE = "realesr-animevideov3-x2"
FFMPEG = ROOT / ".prism/tools/ffmpeg"


def free_ports(n: int) -> list:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def children(pid: int) -> list:
    """Every process below `pid` (from /proc), deepest last."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        todo += kids
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Cluster:
    """`ray start --head --block` and one `ray start --address --block` worker node, each with
    one CPU and its own ports; stopped by signalling exactly these processes."""

    def __init__(self):
        # Short: Ray's socket paths live under the temp dir (108-byte limit).
        self.temp = Path(tempfile.mkdtemp(prefix="prism-ray-", dir="/tmp"))
        self.port = free_ports(1)[0]
        self.address = f"127.0.0.1:{self.port}"
        self.nodes = []
        self.nodes.append(self.start(["--head", "--port", str(self.port), "--temp-dir", str(self.temp),
                                      "--include-dashboard", "false", "--disable-usage-stats"]))
        self.nodes.append(self.start(["--address", self.address]))
        self.wait_for_nodes(2)

    def start(self, args: list) -> subprocess.Popen:
        agent, grpc, runtime, metrics, manager, objects = free_ports(6)
        log = open(self.temp / f"node{len(self.nodes)}.log", "w")
        return subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", *args,
             "--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--num-gpus", "0",
             "--object-store-memory", str(100 * 2**20),
             "--dashboard-agent-listen-port", str(agent), "--dashboard-agent-grpc-port", str(grpc),
             "--runtime-env-agent-port", str(runtime), "--metrics-export-port", str(metrics),
             "--node-manager-port", str(manager), "--object-manager-port", str(objects)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True,
        )

    def env(self) -> dict:
        env = dict(os.environ, RAY_ADDRESS=self.address, RAY_USAGE_STATS_ENABLED="0")
        return env

    def wait_for_nodes(self, n: int) -> None:
        probe = "import ray; ray.init(); print(sum(x['Alive'] for x in ray.nodes()))"
        deadline = time.time() + 120
        while time.time() < deadline:
            for node in self.nodes:
                assert node.poll() is None, (self.temp / "node0.log").read_text()[-3000:]
            done = subprocess.run([sys.executable, "-c", probe], env=self.env(), cwd=ROOT,
                                  capture_output=True, text=True, timeout=120)
            if done.returncode == 0 and done.stdout.strip().splitlines()[-1:] == [str(n)]:
                return
            time.sleep(2)
        raise AssertionError(f"the Ray cluster did not come up: {done.stderr[-2000:]}")

    def worker_processes(self) -> list:
        """Ray worker processes (`ray::...`) of the worker node."""
        return [p for p in children(self.nodes[1].pid) if cmdline(p).startswith("ray::")]

    def driver(self, code: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code], env=self.env(), cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)

    def stop(self) -> None:
        pids = [p for node in self.nodes for p in [node.pid, *children(node.pid)]]
        for node in reversed(self.nodes):
            node.send_signal(signal.SIGTERM)
        for node in self.nodes:
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    try:
        yield c
    finally:
        c.stop()


def photos(folder: Path, n: int, height: int = 40, width: int = 56) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        save(photo(height, width, dy=3 * i, dx=5 * i), folder / f"img{i:02}.png")
    return folder


def same_files(a: Path, b: Path) -> list:
    names = sorted(p.name for p in a.iterdir() if p.is_file())
    assert names == sorted(p.name for p in b.iterdir() if p.is_file()), (a, b)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    return names


def test_stub_matches_module():
    stub = ast.parse(Path(prism.ray.__file__).with_suffix(".pyi").read_text())
    funcs = {n.name: n for n in stub.body if isinstance(n, ast.FunctionDef)}
    assert set(funcs) == set(prism.ray.__all__)
    for name, node in funcs.items():
        params = inspect.signature(getattr(prism.ray, name)).parameters.values()
        want = [a.arg for a in node.args.args + node.args.kwonlyargs] + [node.args.kwarg.arg]
        assert [p.name for p in params] == want, name
        defaults = dict(zip([a.arg for a in node.args.kwonlyargs], node.args.kw_defaults))
        for p in params:
            if p.name in defaults:
                assert p.default == ast.literal_eval(defaults[p.name]), (name, p.name)


def test_example_script_upscales_a_folder_as_the_command(cli, cluster, tmp_path):
    src = photos(tmp_path / "in", 6)
    out = tmp_path / "ray"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples/python/ray_upscale_folder.py"), src, out, "2", UPSCALE],
        env=cluster.env(), cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "6 written, 0 already done, 0 failed" in done.stdout
    ran = run_cli(cli, "upscale", src, "-o", tmp_path / "cli", "-m", UPSCALE, "--threads", "1")
    assert ran.returncode == 0, ran.stderr
    assert len(same_files(out, tmp_path / "cli")) == 6
    # Resume: everything is there, nothing is redone.
    again = subprocess.run(
        [sys.executable, str(ROOT / "examples/python/ray_upscale_folder.py"), src, out, "2", UPSCALE],
        env=cluster.env(), cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert "0 written, 6 already done, 0 failed" in again.stdout, again.stderr[-3000:]


def test_style_folder_matches_the_command(cli, cluster, tmp_path):
    src = photos(tmp_path / "in", 3)
    code = (
        "import prism.ray, sys\n"
        f"r = prism.ray.style_folder({str(src)!r}, {str(tmp_path / 'ray')!r}, model='style-mosaic',"
        " num_actors=2, threads=1, batch_size=1)\n"
        "assert len(r['written']) == 3 and not r['failed'], r\n"
    )
    done = cluster.driver(code)
    assert done.returncode == 0, done.stderr[-4000:]
    ran = run_cli(cli, "style", "fast", src, "-m", "style-mosaic", "-o", tmp_path / "cli", "--threads", "1")
    assert ran.returncode == 0, ran.stderr
    assert len(same_files(tmp_path / "ray", tmp_path / "cli")) == 3


def frames(folder: Path) -> Path:
    """Eight 64x96 frames of a slow pan (frame 2 repeats frame 1) with a scene cut (another
    picture) after frame 4."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    other = np.ascontiguousarray(data.chelsea()[100:164, 100:196])
    for i in range(8):
        image = photo(64, 96, dx=4 * min(i, 1) + 4 * max(i - 2, 0)) if i < 5 else np.roll(other, 4 * i, axis=1)
        save(np.ascontiguousarray(image), folder / f"f{i:02}.png")
    return folder


def test_segmented_interpolation_equals_one_run(cli, cluster, tmp_path):
    src = frames(tmp_path / "in")
    code = (
        "import json, prism.ray\n"
        "seen = []\n"
        "def run():\n"
        f"    return prism.ray.interpolate_video({str(src)!r}, {str(tmp_path / 'ray')!r}, fps='60',"
        " dedup=True, segment_frames=2, num_actors=2, threads=1, progress=lambda d, t: seen.append([d, t]))\n"
        "r = run()\n"
        "again = run()\n"
        "print(json.dumps([r['segments'], r['rate'], r['frames'], seen, again['skipped']]))\n"
    )
    done = cluster.driver(code)
    assert done.returncode == 0, done.stderr[-4000:]
    last = [line for line in done.stdout.splitlines() if line.startswith("[")][-1]
    segments, rate, total, seen, skipped = json.loads(last)
    # Boundaries on kept frames only: frame 2 (a duplicate) is never one; the cut starts one.
    assert [s[:2] for s in segments] == [[0, 3], [3, 5], [5, 7]], segments
    assert (rate, total) == ("60", 18)  # 7 source intervals at 24 -> 60 fps, ending on frame 7
    assert seen[-1] == [3, 3] and skipped == 3  # progress; the rerun resumes (nothing redone)
    ran = run_cli(cli, "interpolate", src, "-o", tmp_path / "cli", "--fps", "60", "--dedup",
                  "--threads", "1")
    assert ran.returncode == 0, ran.stderr
    assert len(same_files(tmp_path / "ray", tmp_path / "cli")) == 18


def test_segmented_video_equals_one_run(cli, cluster, tmp_path):
    src = frames(tmp_path / "in")
    video = tmp_path / "clip.mp4"
    subprocess.run(
        [str(next(FFMPEG.rglob("ffmpeg-linux*"))), "-v", "error", "-framerate", "24", "-i",
         str(src / "f%02d.png"), "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv444p", str(video)],
        check=True, timeout=120,
    )
    code = (
        "import prism.ray\n"
        f"prism.ray.interpolate_video({str(video)!r}, {str(tmp_path / 'ray.mkv')!r}, multiple=3,"
        " segment_frames=3, num_actors=2, threads=1, codec='ffv1', pix_fmt='yuv444p')\n"
    )
    done = cluster.driver(code)
    assert done.returncode == 0, done.stderr[-4000:]
    ran = run_cli(cli, "interpolate", video, "-o", tmp_path / "cli.mkv", "-x", "3", "--threads", "1",
                  "--codec", "ffv1", "--pix-fmt", "yuv444p")
    assert ran.returncode == 0, ran.stderr
    decoded = []
    for name in ("ray.mkv", "cli.mkv"):
        folder = tmp_path / f"{name}-frames"
        prism._prism.decode_video(str(tmp_path / name), str(folder))
        decoded.append(folder)
    assert len(same_files(*decoded)) == 24  # x3, duration kept
    assert not (tmp_path / ".ray.mkv.prism-ray").exists()


def test_batch_survives_a_killed_worker(cli, cluster, tmp_path):
    src = photos(tmp_path / "in", 8, 64, 96)
    out = tmp_path / "ray"
    driver = subprocess.Popen(
        [sys.executable, "-c",
         "import prism.ray\n"
         f"r = prism.ray.upscale_folder({str(src)!r}, {str(out)!r}, model={UPSCALE!r},"
         " num_actors=2, threads=1, batch_size=1)\n"
         "print('REPORT', len(r['written']), len(r['skipped']), len(r['failed']))\n"],
        env=cluster.env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    killed = []
    deadline = time.time() + 300
    while not killed and time.time() < deadline and driver.poll() is None:
        if out.is_dir() and any(p.suffix == ".png" for p in out.iterdir()):
            for pid in cluster.worker_processes():
                if "MapWorker" in cmdline(pid) or "_MapActor" in cmdline(pid):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
        time.sleep(0.2)
    stdout, stderr = driver.communicate(timeout=600)
    assert killed, f"no worker process to kill; driver: {stderr[-3000:]}"
    assert driver.returncode == 0, stderr[-4000:]
    # Ray's raylet also prints to stdout (the retried task): read only the script's own line.
    report = [line.split()[1:] for line in stdout.splitlines() if line.startswith("REPORT ")]
    assert report and report[-1][2] == "0", stdout
    ran = run_cli(cli, "upscale", src, "-o", tmp_path / "cli", "-m", UPSCALE, "--threads", "1")
    assert ran.returncode == 0, ran.stderr
    assert len(same_files(out, tmp_path / "cli")) == 8
    for p in out.iterdir():
        Image.open(p).load()  # whole files only: no partial outputs left
