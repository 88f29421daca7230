//! Finding a Prism source checkout at run time, so that `target/*/prism` and `cargo test` find
//! what `cargo xtask setup` provisioned (`.prism/`, `export/out/`) without any setup, while a
//! release binary carries no build machine's paths.

use std::path::{Path, PathBuf};

/// The checkout holding the running executable, else the one holding the current directory: the
/// first folder above either that has `models/registry.toml` and `crates/prism-core`.
pub fn root() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    [exe.as_deref().and_then(Path::parent), cwd.as_deref()]
        .into_iter()
        .flatten()
        .flat_map(Path::ancestors)
        .find(|dir| is_checkout(dir))
        .map(|dir| dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()))
}

/// `relative` inside the checkout found by [`root`], whether or not it exists.
pub fn path(relative: &str) -> Option<PathBuf> {
    root().map(|root| root.join(relative))
}

fn is_checkout(dir: &Path) -> bool {
    dir.join("models/registry.toml").is_file() && dir.join("crates/prism-core").is_dir()
}

#[cfg(test)]
mod tests {
    #[test]
    fn cargo_test_finds_this_checkout() {
        let root = super::root().expect("a checkout above the test binary");
        assert!(root.join("crates/prism-core/src/checkout.rs").is_file());
    }
}
