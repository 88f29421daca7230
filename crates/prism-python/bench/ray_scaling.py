"""Throughput of `prism.ray.upscale_folder` with 1 and 2 worker actors on a local Ray cluster
(a head and a worker node, one CPU each, as tests/test_ray.py starts them), beside one
`prism upscale` process on the same folder.

    PYTHONPATH=.prism/py-build/site:.prism/py-build/ray export/.venv/bin/python \
        crates/prism-python/bench/ray_scaling.py [IMAGES] [SIDE]
"""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import ROOT, photo, save  # noqa: E402
from test_ray import UPSCALE, Cluster  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
side = int(sys.argv[2]) if len(sys.argv) > 2 else 96
work = Path(tempfile.mkdtemp(prefix="prism-ray-bench-"))
src = work / "in"
src.mkdir()
for i in range(n):
    save(photo(side, side, dy=i, dx=2 * i), src / f"img{i:03}.png")
cluster = Cluster()
try:
    results = {}
    for actors in (1, 2):
        code = (
            "import time, prism.ray\n"
            "t = time.perf_counter()\n"
            f"r = prism.ray.upscale_folder({str(src)!r}, {str(work / f'out{actors}')!r},"
            f" model={UPSCALE!r}, num_actors={actors}, threads=1, batch_size=1)\n"
            "assert len(r['written']) == " + str(n) + ", r\n"
            "print(time.perf_counter() - t)\n"
        )
        done = cluster.driver(code, timeout=1800)
        assert done.returncode == 0, done.stderr[-3000:]
        results[actors] = float(done.stdout.split()[-1])
    t = time.perf_counter()
    subprocess.run([str(ROOT / "target/debug/prism"), "-q", "upscale", str(src), "-o", str(work / "cli"),
                    "-m", UPSCALE, "--threads", "1", "--no-progress"], check=True, cwd=ROOT)
    cli = time.perf_counter() - t
finally:
    cluster.stop()
    shutil.rmtree(work, ignore_errors=True)
print(f"{n} images {side}x{side}, {UPSCALE}, threads 1 per actor")
print(f"prism upscale (1 process): {cli:.1f} s, {n / cli:.2f} images/s")
for actors, s in results.items():
    print(f"prism.ray, {actors} actor(s): {s:.1f} s, {n / s:.2f} images/s")
print(f"2 actors / 1 actor: {results[1] / results[2]:.2f}x")
