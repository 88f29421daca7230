//! The `prism` binary: output, JSON, and the documented exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

fn prism(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(args)
        .env_remove("ORT_DYLIB_PATH")
        .env(
            "PRISM_CACHE_DIR",
            std::env::temp_dir().join("prism-cli-tests"),
        )
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn devices_reports_the_runtime_and_which_providers_work() {
    let out = prism(&["devices", "--json"]);
    assert!(
        out.status.success(),
        "{}\nrun `cargo xtask test` to provision the runtime",
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["runtime_version"]
            .as_str()
            .unwrap()
            .starts_with("1.")
    );
    assert!(PathBuf::from(report["runtime_path"].as_str().unwrap()).is_file());
    let providers = report["providers"].as_array().unwrap();
    let cpu = providers.iter().find(|p| p["provider"] == "CPU").unwrap();
    assert_eq!(cpu["registers"], true);
    assert!(report["cpu"]["physical_cores"].as_u64().unwrap() >= 1);
    let table = prism(&["devices"]);
    assert!(text(&table.stdout).contains("CPU        works"));
}

#[test]
fn info_prints_a_table_and_json() {
    let model = fixture("tiny_conv.fp32.onnx");
    let out = prism(&["info", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for needle in [
        "parameters  84",
        "provider    CPU",
        "Nx3xHxW",
        "prism.architecture  tiny-conv",
    ] {
        assert!(table.contains(needle), "missing `{needle}` in\n{table}");
    }
    let out = prism(&["info", "--json", "--no-session", model.to_str().unwrap()]);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["parameter_count"], 84);
    assert_eq!(
        info["inputs"][0]["shape"],
        serde_json::json!(["N", 3, "H", "W"])
    );
    assert_eq!(info["provider"], serde_json::Value::Null);
}

#[test]
fn bench_reports_latency_statistics() {
    let model = fixture("two_inputs.onnx");
    let out = prism(&[
        "bench",
        model.to_str().unwrap(),
        "--shape",
        "img0=1x3x32x32",
        "--shape",
        "img1=1x3x32x32",
        "--runs",
        "4",
        "--warmup",
        "1",
        "--json",
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["runs"], 4);
    assert_eq!(r["provider"], "CPU");
    assert!(r["median_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn exit_codes_are_documented_ones() {
    let model = fixture("tiny_conv.fp32.onnx");
    let m = model.to_str().unwrap();
    let fixed = fixture("fixed_shape.onnx");
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &["--ort-lib", "/nonexistent/libonnxruntime.so", "devices"],
            3,
            "/nonexistent/libonnxruntime.so",
        ),
        (&["info", m, "--device", "cuda"], 4, "CUDA"),
        (
            &["info", "Cargo.toml"],
            5,
            "Cargo.toml is not an ONNX model",
        ),
        (
            &["bench", fixed.to_str().unwrap(), "--shape", "1x3x9x9"],
            6,
            "expects shape 1x3x8x8",
        ),
        (&["bench", m], 6, "--shape input="),
        (&["bench", m, "--device", "tpu"], 2, "unknown device"),
    ];
    for (args, code, needle) in cases {
        let out = prism(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: `{needle}` not in {stderr}"
        );
    }
}

/// A folder batch in which one file is broken: the good one is written, the broken one named,
/// nothing half-written is left, and the exit code says "partial" (7).
#[test]
fn a_partly_failing_batch_exits_with_seven() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    image::RgbImage::from_fn(12, 10, |x, y| image::Rgb([x as u8 * 20, y as u8 * 25, 90]))
        .save(input.join("good.png"))
        .unwrap();
    std::fs::write(input.join("broken.png"), b"").unwrap();
    let out = dir.path().join("out");
    let result = prism(&[
        "upscale",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-m",
        "realesr-animevideov3-x2",
        "--device",
        "cpu",
        "--no-progress",
    ]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("broken.png"), "{stderr}");
    let written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        written.len(),
        1,
        "only the good output, no partial files: {written:?}"
    );
    let up = image::open(out.join(&written[0])).unwrap();
    assert_eq!((up.width(), up.height()), (24, 20));
}

/// `prism models`: the registry filtered by task, and an offline miss that names the file, exits
/// with 5 and leaves the cache empty.
#[test]
fn models_list_and_offline_download() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_prism"))
            .args(args)
            .env("HF_HOME", home.path())
            .env("HF_HUB_OFFLINE", "1")
            .env_remove("HF_HUB_CACHE")
            .output()
            .unwrap()
    };
    let out = run(&["models", "list", "--task", "interpolate", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert!(list.iter().all(|m| m["task"] == "interpolate"));
    assert!(list.iter().any(|m| m["id"] == "rife-hd-v3"));

    let out = run(&["models", "download", "realesrgan-x4plus-qualcomm"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("offline") && stderr.contains("Real-ESRGAN-x4plus.onnx"),
        "{stderr}"
    );
    let out = run(&["models", "cache", "ls"]);
    assert!(
        text(&out.stdout).contains("(0 files)"),
        "{}",
        text(&out.stdout)
    );
}

/// Ctrl-C stops a long upscale between tiles: exit code 130 and no output, not even a partial one.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.png");
    image::RgbImage::from_fn(512, 384, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
    })
    .save(&input)
    .unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(["upscale", input.to_str().unwrap(), "-o"])
        .arg(out.join("big_x4.png"))
        .args([
            "-m",
            "realesrgan-x4plus",
            "--device",
            "cpu",
            "--tile",
            "64",
            "--no-progress",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the upscale should still be running"
    );
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let result = child.wait_with_output().unwrap();
    assert_eq!(result.status.code(), Some(130), "{}", text(&result.stderr));
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing may be left behind: {left:?}");
}
