"""Upscale a folder on a Ray cluster: the files `prism upscale SRC -o DST -m MODEL` writes.

    ray start --head --num-cpus 2      # or any cluster; RAY_ADDRESS says which
    python examples/python/ray_upscale_folder.py SRC DST [ACTORS] [MODEL]
"""

import sys

import ray

import prism.ray

ray.init()  # RAY_ADDRESS (set by `ray job submit`), else a local cluster
src, dst = sys.argv[1], sys.argv[2]
actors = int(sys.argv[3]) if len(sys.argv) > 3 else 2
model = sys.argv[4] if len(sys.argv) > 4 else "realesr-animevideov3-x2"
report = prism.ray.upscale_folder(src, dst, model=model, num_actors=actors, threads=1)
print(f"{len(report['written'])} written, {len(report['skipped'])} already done, "
      f"{len(report['failed'])} failed")
sys.exit(1 if report["failed"] else 0)
