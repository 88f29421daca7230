//! `prism.ray` tests: Ray (pinned, in its own folder, never in the export lock) and the tests that
//! start a local Ray cluster (a head and a worker node) and compare with `prism`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use super::{run, step};

/// Ray for the tests; its dependencies are held to the export env's versions (numpy, ...).
const RAY: &str = "ray[data]==2.60.0";

/// Installs Ray into `.prism/py-build/ray` (cached) and runs `crates/prism-python/tests/test_ray.py`
/// against the wheel installed in `.prism/py-build/site` by `python_package`.
pub fn ray_tests(root: &Path, py: &Path) -> Result<()> {
    step(&format!(
        "Ray for the prism.ray tests ({RAY}, .prism/py-build/ray)"
    ));
    let build = root.join(".prism/py-build");
    let dir = build.join("ray");
    let freeze = Command::new(py)
        .args(["-m", "pip", "freeze", "--disable-pip-version-check"])
        .output()
        .context("pip freeze of the export env")?;
    // Pins of what the export env has, so Ray's copies are the same versions.
    let constraints: String = String::from_utf8_lossy(&freeze.stdout)
        .lines()
        .filter(|l| l.contains("==") && !l.starts_with('-') && !l.contains(" @ "))
        .map(|l| format!("{l}\n"))
        .collect();
    let wanted = format!("{RAY}\n{constraints}");
    let stamp = dir.join(".prism-installed");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        eprintln!("    {RAY} already in {}", dir.display());
    } else {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&build)?;
        let file = build.join("ray-constraints.txt");
        std::fs::write(&file, &constraints)?;
        run(Command::new(py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("--target")
            .arg(&dir)
            .arg("-c")
            .arg(&file)
            .arg(RAY))?;
        std::fs::write(&stamp, &wanted)?;
    }
    step("prism.ray tests (a local Ray cluster: head + worker node; against the prism command)");
    let path = std::env::join_paths([build.join("site"), dir])?;
    // test_ray.py skips itself without Ray: here Ray must import, or the step fails.
    run(Command::new(py)
        .args(["-c", "import ray, ray.data, prism.ray"])
        .env("PYTHONPATH", &path))?;
    run(Command::new(py)
        .args([
            "-m",
            "pytest",
            "-q",
            "crates/prism-python/tests/test_ray.py",
        ])
        .env("PYTHONPATH", path)
        .env("RAY_USAGE_STATS_ENABLED", "0")
        .env("PRISM_CLI", root.join("target/debug/prism")))
}
