//! The C and C++ examples, compiled with the system `cc` / `c++` against `libprism_capi`, give
//! the same files as `prism` on the same real inputs, byte for byte.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{prism, real_image, root, run, target_dir};

/// Compiles `source` into `dir/name` against the built shared library.
fn compile(compiler: &str, source: &str, dir: &Path, name: &str) -> PathBuf {
    let lib = target_dir();
    assert!(
        lib.join("libprism_capi.so").is_file() || lib.join("libprism_capi.dylib").is_file(),
        "libprism_capi is missing in {}: build it with `cargo build -p prism-capi`",
        lib.display()
    );
    let exe = dir.join(name);
    let std = if compiler == "cc" {
        "-std=c99"
    } else {
        "-std=c++17"
    };
    run(Command::new(compiler)
        .args([std, "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(root().join(source))
        .arg("-I")
        .arg(root().join("crates/prism-capi/include"))
        .arg("-I")
        .arg(root().join("examples/cpp"))
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lprism_capi"));
    exe
}

/// Runs an example from the checkout (where the runtime and the exported models are found).
fn example(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.current_dir(root());
    cmd
}

fn same_bytes(cli: &Path, ours: &Path) {
    let (a, b) = (std::fs::read(cli).unwrap(), std::fs::read(ours).unwrap());
    assert!(
        a == b,
        "{} ({} bytes) differs from prism's {} ({} bytes)",
        ours.display(),
        b.len(),
        cli.display(),
        a.len()
    );
}

/// A crop of a real photograph, saved as a PNG without an ICC profile.
fn crop(dir: &Path, name: &str, x: u32, y: u32, w: u32, h: u32) -> PathBuf {
    let path = dir.join(name);
    real_image("astronaut.png")
        .crop_imm(x, y, w, h)
        .save(&path)
        .unwrap();
    path
}

#[test]
fn c_and_cpp_examples_match_prism() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let upscale = compile("cc", "examples/c/upscale.c", d, "upscale");
    let interpolate = compile("cc", "examples/c/interpolate.c", d, "interpolate");
    let style = compile("cc", "examples/c/style.c", d, "style");
    let upscale_cpp = compile("c++", "examples/cpp/upscale.cpp", d, "upscale_cpp");

    // Upscale, 8-bit RGB, by model id.
    let photo = crop(d, "photo.png", 180, 60, 56, 40);
    let model = "realesr-animevideov3-x4";
    run(prism()
        .arg("upscale")
        .arg(&photo)
        .arg("-o")
        .arg(d.join("up_cli.png"))
        .args(["--model", model]));
    run(example(&upscale)
        .arg(&photo)
        .arg(d.join("up_c.png"))
        .arg(model));
    same_bytes(&d.join("up_cli.png"), &d.join("up_c.png"));

    // Upscale, 16-bit RGBA (alpha through the model), through the C++ wrapper.
    let rgba = d.join("rgba16.png");
    let mut pixels = image::open(&photo).unwrap().to_rgba16();
    let width = pixels.width();
    for (x, _, p) in pixels.enumerate_pixels_mut() {
        p[3] = (65535 * (x + 1) / width) as u16;
    }
    pixels.save(&rgba).unwrap();
    run(prism()
        .arg("upscale")
        .arg(&rgba)
        .arg("-o")
        .arg(d.join("up16_cli.png"))
        .args(["--model", model]));
    run(example(&upscale_cpp)
        .arg(&rgba)
        .arg(d.join("up16_cpp.png"))
        .arg(model));
    same_bytes(&d.join("up16_cli.png"), &d.join("up16_cpp.png"));

    // Interpolate: the middle frame of a real pan (default model, rife-v4.6).
    let a = crop(d, "a.png", 150, 40, 64, 48);
    let b = crop(d, "b.png", 156, 43, 64, 48);
    run(prism()
        .arg("interpolate")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(d.join("mid_cli.png")));
    run(example(&interpolate)
        .arg(&a)
        .arg(&b)
        .arg(d.join("mid_c.png")));
    same_bytes(&d.join("mid_cli.png"), &d.join("mid_c.png"));

    // Fast style: multistyle26 style 7 (the default network).
    run(prism()
        .args(["style", "fast"])
        .arg(&photo)
        .arg("-o")
        .arg(d.join("style_cli.png"))
        .args(["--style", "7"]));
    run(example(&style)
        .arg(&photo)
        .arg(d.join("style_c.png"))
        .arg("7"));
    same_bytes(&d.join("style_cli.png"), &d.join("style_c.png"));
}

#[test]
fn example_reports_errors_with_status_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let upscale = compile("cc", "examples/c/upscale.c", dir.path(), "upscale");
    let out = example(&upscale)
        .arg(dir.path().join("missing.png"))
        .arg(dir.path().join("out.png"))
        .arg("realesr-animevideov3-x4")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("missing.png"), "{stderr}");
    let out = example(&upscale)
        .arg(dir.path().join("x.png"))
        .arg(dir.path().join("out.png"))
        .arg(dir.path().join("nope.onnx"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(5),
        "model errors are status 5: {stderr}"
    );
    assert!(stderr.contains("nope.onnx"), "{stderr}");
}
