"""Errors (the CLI's messages and codes), cancellation, the GIL, the runtime and model listing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

import prism
from conftest import CLI_SESSION, SESSION, cli_error, photo, run_cli, save


def test_missing_model_same_error_as_cli(cli, tmp_path):
    src = save(photo(16, 16), tmp_path / "in.png")
    done = run_cli(cli, "upscale", src, "-o", tmp_path / "o.png", "--model", "no-such-model", *CLI_SESSION)
    with pytest.raises(prism.PrismError) as caught:
        prism.Upscaler("no-such-model", **SESSION)
    assert str(caught.value) == cli_error(done)
    assert caught.value.exit_code == done.returncode == 5
    assert isinstance(caught.value, prism.ModelError)


def test_missing_model_file_same_error_as_cli(cli, tmp_path):
    missing = tmp_path / "gone.onnx"
    src = save(photo(16, 16), tmp_path / "in.png")
    done = run_cli(cli, "style", "fast", src, "-o", tmp_path / "o.png", "--model", missing, *CLI_SESSION)
    with pytest.raises(prism.ModelError) as caught:
        prism.FastStyle(str(missing), **SESSION)
    assert str(caught.value) == cli_error(done)
    assert caught.value.exit_code == done.returncode


def test_missing_image_same_error_as_cli(cli, tmp_path):
    missing = tmp_path / "nothing.png"
    done = run_cli(cli, "style", "neural", missing, "--style", missing, "-o", tmp_path / "o.png")
    with pytest.raises(prism.PrismError) as caught:
        prism.read_image(missing)
    assert str(caught.value) == cli_error(done)
    assert caught.value.exit_code == done.returncode


def test_unreachable_timestep_same_error_as_cli(cli, tmp_path):
    a, b = photo(32, 32), photo(32, 32, dx=2)
    pa, pb = save(a, tmp_path / "a.png"), save(b, tmp_path / "b.png")
    done = run_cli(cli, "interpolate", pa, pb, "-o", tmp_path / "m.png", "-t", "0.3", "--model", "rife-hd-v3", *CLI_SESSION)
    with pytest.raises(prism.UsageError) as caught:
        prism.Interpolator("rife-hd-v3", **SESSION).interpolate(a, b, 0.3)
    assert str(caught.value) == cli_error(done)
    assert caught.value.exit_code == done.returncode == 2


def test_bad_arrays_and_options():
    up = prism.Upscaler("realesr-animevideov3-x2", **SESSION)
    with pytest.raises(TypeError, match="uint8, uint16 or float32"):
        up.upscale(np.zeros((8, 8, 3), np.int32))
    with pytest.raises(prism.InputError, match="HxWxC"):
        up.upscale(np.zeros((8, 8, 5), np.uint8))
    with pytest.raises(prism.UsageError, match="tile"):
        prism.Upscaler("realesr-animevideov3-x2", tile=0, **SESSION)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        prism.Upscaler("realesr-animevideov3-x2", colour=1)
    with pytest.raises(prism.UsageError, match="unknown precision"):
        prism.Upscaler("realesr-animevideov3-x2", precision="fp8")


def test_progress_callback_cancels():
    up = prism.Upscaler("realesr-animevideov3-x2", tile=16, **SESSION)
    image = photo(64, 64)
    seen = []

    def stop_after_two(done, total):
        seen.append((done, total))
        return len(seen) < 2

    with pytest.raises(prism.Cancelled) as caught:
        up.upscale(image, progress=stop_after_two)
    assert caught.value.exit_code == 130
    assert len(seen) == 2 and seen[0][1] > 2, seen

    def explode(done, total):
        raise ValueError("stop here")

    with pytest.raises(ValueError, match="stop here"):
        up.upscale(image, progress=explode)
    # A callback that returns None lets the run finish, and sees every tile.
    calls = []
    out = up.upscale(image, progress=lambda d, t: calls.append((d, t)))
    assert out.shape == (128, 128, 3) and calls[-1][0] == calls[-1][1]

    rife = prism.Interpolator("rife-v4.6", **SESSION)
    with pytest.raises(prism.Cancelled):
        rife.frames_between(image, image, 3, progress=lambda d, t: False)


def test_gil_released_during_inference():
    up = prism.Upscaler("realesrgan-x4plus", **SESSION)
    image = photo(24, 24)
    ticks = 0
    done = threading.Event()

    def run():
        up.upscale(image)
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    worker.join()
    assert ticks > 50, f"the main thread ran only {ticks} times during the upscale"


def test_runtime_is_the_onnxruntime_wheel():
    importlib = pytest.importorskip("importlib.util")
    spec = importlib.find_spec("onnxruntime")
    info = prism.runtime_info()
    assert info["version"].startswith("1.")
    if spec is not None:
        capi = Path(list(spec.submodule_search_locations)[0]) / "capi"
        assert Path(info["path"]).parent.resolve() == capi.resolve(), info
    assert "CPUExecutionProvider" in info["providers"]


def test_models_listing():
    models = prism.list_models()
    ids = {m["id"] for m in models}
    assert {"realesrgan-x4plus", "rife-v4.6", "style-multistyle26"} <= ids
    upscale = prism.list_models("upscale")
    assert upscale and all(m["task"] == "upscale" for m in upscale)
    assert any("exported" in m["available"] for m in upscale)
    assert Path(prism.resolve_model("realesrgan-x4plus")).is_file()
    with pytest.raises(prism.PrismError, match="unknown task"):
        prism.list_models("nonsense")
    with pytest.raises(prism.PrismError, match="need converting: python -m prism_export export realesrgan-x4plus-anime --download"):
        prism.download_model("realesrgan-x4plus-anime")


def test_read_write_round_trip(tmp_path):
    image = photo(10, 12)
    path = tmp_path / "x.png"
    prism.write_image(path, image)
    assert np.array_equal(prism.read_image(path), image)
    gray = image[:, :, 0].copy()
    prism.write_image(tmp_path / "g.png", gray)
    assert np.array_equal(prism.read_image(tmp_path / "g.png"), gray)
