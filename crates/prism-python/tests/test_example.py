"""examples/python/upscale_interpolate_style.py writes what `prism` writes, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT, photo, run_cli, save


def test_example_script_matches_the_command(cli, tmp_path):
    a = save(photo(48, 64), tmp_path / "a.png")
    b = save(photo(48, 64, dx=3), tmp_path / "b.png")
    out = tmp_path / "py"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples/python/upscale_interpolate_style.py"), a, b, out],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=os.environ,
    )
    assert done.returncode == 0, done.stderr
    cli_out = tmp_path / "cli"
    cli_out.mkdir()
    for args in (
        ["upscale", a, "-m", "realesr-animevideov3-x4", "-o", cli_out / "a_x4.png"],
        ["interpolate", a, b, "-o", cli_out / "mid.png"],
        ["style", "fast", a, "--style", "7", "-o", cli_out / "a_style7.png"],
    ):
        ran = run_cli(cli, *args)
        assert ran.returncode == 0, ran.stderr
    for name in ("a_x4.png", "mid.png", "a_style7.png"):
        assert (out / name).read_bytes() == (cli_out / name).read_bytes(), name
