"""The package gives the same pixels as the `prism` command, for each task (identical)."""

from __future__ import annotations

import numpy as np
import pytest

import prism
from conftest import CLI_SESSION, SESSION, load, photo, run_cli, save


def identical(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape)
    diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
    assert diff.max() == 0, f"{(diff > 0).sum()} samples differ, max {diff.max()}"


@pytest.mark.parametrize(
    "model, extra, kwargs",
    [
        ("realesrgan-x4plus", [], {}),
        ("realesr-animevideov3-x4", ["--tile", "16", "--outscale", "3"], {"tile": 16, "outscale": 3}),
    ],
)
def test_upscale_matches_cli(cli, tmp_path, model, extra, kwargs):
    image = photo(28, 36)
    src = save(image, tmp_path / "in.png")
    out = tmp_path / "out.png"
    done = run_cli(cli, "upscale", src, "-o", out, "--model", model, *extra, *CLI_SESSION)
    assert done.returncode == 0, done.stderr
    upscaler = prism.Upscaler(model, **kwargs, **SESSION)
    got = upscaler.upscale(image)
    identical(got, load(out))
    assert upscaler.provider == "CPU"


def test_upscale_gray_and_16_bit(cli, tmp_path):
    gray = photo(20, 24).mean(axis=2).astype(np.uint8)
    deep = (photo(20, 24).astype(np.uint16) * 257)[:, :, :3]
    up = prism.Upscaler("realesr-animevideov3-x2", **SESSION)
    for name, image in [("gray", gray), ("deep", deep)]:
        src = tmp_path / f"{name}.png"
        prism.write_image(src, image)  # Pillow cannot write 16-bit RGB
        out = tmp_path / f"{name}_x2.png"
        done = run_cli(cli, "upscale", src, "-o", out, "--model", "realesr-animevideov3-x2", *CLI_SESSION)
        assert done.returncode == 0, done.stderr
        got = up.upscale(image)
        assert got.dtype == image.dtype and got.ndim == image.ndim
        identical(got, prism.read_image(out))
    # float32 in, float32 out (0..1), close to the 8-bit result.
    got = up.upscale(photo(20, 24).astype(np.float32) / 255)
    assert got.dtype == np.float32 and got.shape == (40, 48, 3)
    assert np.abs(got * 255 - up.upscale(photo(20, 24)).astype(np.float32)).max() <= 1.0


def test_interpolate_matches_cli(cli, tmp_path):
    a, b = photo(48, 64), photo(48, 64, dy=2, dx=5)
    pa, pb = save(a, tmp_path / "a.png"), save(b, tmp_path / "b.png")
    out = tmp_path / "frames"
    done = run_cli(cli, "interpolate", pa, pb, "-o", out, "-n", "3", "--model", "rife-v4.6", *CLI_SESSION)
    assert done.returncode == 0, done.stderr
    rife = prism.Interpolator("rife-v4.6", **SESSION)
    frames = rife.frames_between(a, b, 3)
    assert len(frames) == 3
    written = sorted(out.glob("*.png"))  # a, the 3 frames between (then b)
    identical(load(written[0]), a)
    for frame, path in zip(frames, written[1:4]):
        identical(frame, load(path))
    identical(rife.interpolate(a, b, 0.5), load(written[2]))
    assert rife.timesteps == "any"


def test_interpolate_bisection_matches_cli(cli, tmp_path):
    a, b = photo(40, 48), photo(40, 48, dy=1, dx=3)
    pa, pb = save(a, tmp_path / "a.png"), save(b, tmp_path / "b.png")
    out = tmp_path / "quarter.png"
    done = run_cli(cli, "interpolate", pa, pb, "-o", out, "-t", "0.25", "--model", "rife-hd-v3", *CLI_SESSION)
    assert done.returncode == 0, done.stderr
    rife = prism.Interpolator("rife-hd-v3", **SESSION)
    assert rife.timesteps == "0.5"
    identical(rife.interpolate(a, b, 0.25), load(out))


@pytest.mark.parametrize(
    "cli_args, model, style, options",
    [
        (["--style", "7"], None, 7, {}),
        (["--style", "3:0.5,12:0.5", "--strength", "0.6", "--preserve-colors"], None, "3:0.5,12:0.5",
         {"strength": 0.6, "preserve_colors": True}),
        (["--model", "style-mosaic", "--content-scale", "2"], "style-mosaic", None, {"content_scale": 2.0}),
    ],
)
def test_fast_style_matches_cli(cli, tmp_path, cli_args, model, style, options):
    image = photo(44, 52)
    src = save(image, tmp_path / "in.png")
    out = tmp_path / "out.png"
    done = run_cli(cli, "style", "fast", src, "-o", out, *cli_args, *CLI_SESSION)
    assert done.returncode == 0, done.stderr
    if model == "style-mosaic":
        with pytest.warns(UserWarning, match="SEEDED RANDOM"):
            net = prism.FastStyle(model, **SESSION)
        assert net.weights == "seeded-random"
    else:
        net = prism.FastStyle(model, style=style, **SESSION)
        assert net.weights == "real"
    identical(net.stylize(image, **options), load(out))


def test_arbitrary_style_matches_cli(cli, tmp_path):
    image, style = photo(40, 40), photo(64, 64, dy=100, dx=-150)
    src, style_path = save(image, tmp_path / "in.png"), save(style, tmp_path / "paint.png")
    out = tmp_path / "out.png"
    done = run_cli(cli, "style", "fast", src, "-o", out, "--style-image", style_path, *CLI_SESSION)
    assert done.returncode == 0, done.stderr
    from_path = prism.FastStyle(style_image=str(style_path), **SESSION)
    identical(from_path.stylize(image), load(out))
    assert prism.FastStyle(style_image=style, **SESSION).label != ""


def test_neural_style_matches_cli(cli, tmp_path):
    content, style = photo(40, 48), photo(48, 48, dy=150, dx=-100)
    pc, ps = save(content, tmp_path / "c.png"), save(style, tmp_path / "s.png")
    out = tmp_path / "o.png"
    args = ["--size", "32", "--steps", "3", "--optimizer", "adam"]
    done = run_cli(cli, "style", "neural", pc, "--style", ps, "-o", out, *args, *CLI_SESSION)
    assert done.returncode == 0, done.stderr
    steps = []
    got = prism.neural_style(
        content, style, size=32, steps=3, optimizer="adam",
        progress=lambda d, t: steps.append((d, t)), **SESSION,
    )
    assert steps == [(1, 3), (2, 3), (3, 3)]
    identical(got, load(out))
