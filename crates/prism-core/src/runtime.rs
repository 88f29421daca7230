//! Finding, checking and loading the ONNX Runtime shared library.
//!
//! Search order: an explicit path (API or `--ort-lib`), `ORT_DYLIB_PATH`, beside the executable and
//! its `lib/` folder (the layout a desktop app ships), the `onnxruntime` Python wheel of the active
//! virtual environment, then a `.prism/runtime/{gpu,cpu}` (what `cargo xtask setup` provisions)
//! found by walking up from the executable's folder and from the current directory.

use std::ffi::{CStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};

mod preload;

/// The oldest ONNX Runtime release whose C API this build uses (ort's `api-31`).
pub const REQUIRED_VERSION: (u32, u32) = (1, ort::MINOR_VERSION);

/// The `.prism/runtime` folders above `starts` (nearest first, no duplicates): each start folder
/// and its ancestors are checked for `.prism/runtime`.
pub fn provisioned_roots(starts: &[&Path]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for start in starts {
        for dir in start.ancestors() {
            let root = dir.join(".prism").join("runtime");
            if root.is_dir() && !out.contains(&root) {
                out.push(root);
            }
        }
    }
    out
}

/// The `onnxruntime` wheel's library folder in the active Python environment (`VIRTUAL_ENV`, then
/// `CONDA_PREFIX`), if one is installed there.
fn python_wheel_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        let Some(prefix) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
            continue;
        };
        let prefix = PathBuf::from(prefix);
        // Linux and macOS: lib/pythonX.Y/site-packages; Windows: Lib/site-packages.
        let mut sites = vec![prefix.join("Lib").join("site-packages")];
        if let Ok(entries) = std::fs::read_dir(prefix.join("lib")) {
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
                .map(|e| e.path().join("site-packages"))
                .collect();
            found.sort();
            sites.extend(found);
        }
        for site in sites {
            let capi = site.join("onnxruntime").join("capi");
            if capi.is_dir() {
                out.push(capi);
            }
        }
    }
    out
}

/// Options for [`Runtime::init`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// A specific `libonnxruntime` to load; when set, nothing else is tried.
    pub library: Option<PathBuf>,
}

/// The loaded ONNX Runtime: one per process.
pub struct Runtime {
    env: ort::environment::Environment,
    path: PathBuf,
    version: String,
    preloaded: OnceLock<Vec<PathBuf>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("path", &self.path)
            .field("version", &self.version)
            .finish()
    }
}

static RUNTIME: Mutex<Option<&'static Runtime>> = Mutex::new(None);

impl Runtime {
    /// Finds, checks and loads ONNX Runtime, once per process; later calls return the same runtime.
    pub fn init(options: &RuntimeOptions) -> Result<&'static Runtime> {
        let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(runtime) = *slot {
            if let Some(requested) = &options.library
                && !same_file(requested, &runtime.path)
            {
                return Err(Error::RuntimeAlreadyLoaded {
                    loaded: runtime.path.clone(),
                    requested: requested.clone(),
                });
            }
            return Ok(runtime);
        }
        let path = locate(options)?;
        let version = probe_version(&path)?;
        let env = ort::init_from(&path)
            .map_err(|e| Error::RuntimeInvalid {
                path: path.clone(),
                reason: e.to_string(),
            })?
            .with_name("prism")
            .with_telemetry(false)
            .build()
            .map_err(|e| Error::RuntimeInvalid {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        tracing::info!(path = %path.display(), %version, "loaded ONNX Runtime");
        let runtime: &'static Runtime = Box::leak(Box::new(Runtime {
            env,
            path,
            version,
            preloaded: OnceLock::new(),
        }));
        *slot = Some(runtime);
        Ok(runtime)
    }

    /// The runtime loaded earlier in this process, if any.
    pub fn get() -> Option<&'static Runtime> {
        *RUNTIME.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The process-wide ONNX Runtime environment that sessions are built in.
    pub fn environment(&self) -> &ort::environment::Environment {
        &self.env
    }

    /// The library file actually loaded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The version string the library reports, e.g. `1.31.1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// CUDA / cuDNN / TensorRT libraries preloaded from the wheels beside this runtime; empty until
    /// a GPU provider is requested ([`Runtime::preload_gpu_libraries`]).
    pub fn preloaded_libraries(&self) -> &[PathBuf] {
        self.preloaded.get().map_or(&[], Vec::as_slice)
    }

    /// Whether a GPU provider was asked for in this process, so the GPU libraries were looked for.
    pub fn gpu_preload_attempted(&self) -> bool {
        self.preloaded.get().is_some()
    }

    /// Preloads the GPU libraries of the `nvidia-*` / `tensorrt-*` wheels beside this runtime, once
    /// per process, in ort's dependency order; called before a GPU provider registers.
    pub fn preload_gpu_libraries(&self) -> &[PathBuf] {
        self.preloaded
            .get_or_init(|| preload::preload_beside(&self.path))
    }

    /// Execution providers this ONNX Runtime build was compiled with (`CPUExecutionProvider`, ...).
    pub fn compiled_providers(&self) -> Result<Vec<String>> {
        let api = ort::api();
        let mut list: *mut *mut std::ffi::c_char = std::ptr::null_mut();
        let mut count: std::ffi::c_int = 0;
        // SAFETY: the C API fills `list` with `count` NUL-terminated strings that we release below.
        unsafe {
            let status = (api.GetAvailableProviders)(&mut list, &mut count);
            if !status.0.is_null() {
                (api.ReleaseStatus)(status.0);
                return Err(Error::Ort("GetAvailableProviders failed".into()));
            }
            let names = (0..count as usize)
                .map(|i| CStr::from_ptr(*list.add(i)).to_string_lossy().into_owned())
                .collect();
            let _ = (api.ReleaseAvailableProviders)(list, count);
            Ok(names)
        }
    }
}

/// The ordered list of places to look for the library, as [`locate`] walks them.
pub fn candidate_paths(
    explicit: Option<&Path>,
    env_var: Option<OsString>,
    exe_dir: Option<&Path>,
    wheel_dirs: &[PathBuf],
    provisioned: &[PathBuf],
) -> Vec<PathBuf> {
    if let Some(path) = explicit {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    if let Some(value) = env_var.filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(value));
    }
    let mut dirs = Vec::new();
    if let Some(dir) = exe_dir {
        dirs.push(dir.to_path_buf());
        dirs.push(dir.join("lib"));
    }
    dirs.extend(wheel_dirs.iter().cloned());
    for root in provisioned {
        for flavour in ["gpu", "cpu"] {
            dirs.push(root.join(flavour).join("onnxruntime").join("capi"));
        }
    }
    for dir in dirs {
        out.push(find_in_dir(&dir).unwrap_or_else(|| dir.join(default_file_name())));
    }
    out
}

/// Walks [`candidate_paths`] and returns the first library file that exists.
pub fn locate(options: &RuntimeOptions) -> Result<PathBuf> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let cwd = std::env::current_dir().ok();
    let starts: Vec<&Path> = exe_dir
        .iter()
        .chain(cwd.iter())
        .map(PathBuf::as_path)
        .collect();
    let tried = candidate_paths(
        options.library.as_deref(),
        std::env::var_os("ORT_DYLIB_PATH"),
        exe_dir.as_deref(),
        &python_wheel_dirs(),
        &provisioned_roots(&starts),
    );
    for path in &tried {
        if path.is_file() {
            tracing::debug!(path = %path.display(), "found ONNX Runtime");
            return Ok(path.canonicalize().unwrap_or_else(|_| path.clone()));
        }
        tracing::debug!(path = %path.display(), "no ONNX Runtime here");
    }
    Err(Error::RuntimeNotFound {
        tried: tried.into_iter().map(|p| normalize(&p)).collect(),
    })
}

/// Reads the version a library reports without initialising it, and checks it is new enough.
pub fn probe_version(path: &Path) -> Result<String> {
    let invalid = |reason: String| Error::RuntimeInvalid {
        path: path.to_path_buf(),
        reason,
    };
    // SAFETY: loading a shared library runs its initialisers; ONNX Runtime's are benign.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| invalid(e.to_string()))?;
    type GetApiBase = unsafe extern "C" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: the symbol has this signature in every ONNX Runtime release.
    let version = unsafe {
        let get: libloading::Symbol<GetApiBase> = lib
            .get(b"OrtGetApiBase\0")
            .map_err(|_| invalid("it does not export OrtGetApiBase".into()))?;
        let base = get();
        if base.is_null() {
            return Err(invalid("OrtGetApiBase returned null".into()));
        }
        CStr::from_ptr(((*base).GetVersionString)())
            .to_string_lossy()
            .into_owned()
    };
    let found = parse_version(&version)
        .ok_or_else(|| invalid(format!("unreadable version string `{version}`")))?;
    if found < REQUIRED_VERSION {
        return Err(Error::RuntimeTooOld {
            path: path.to_path_buf(),
            found: version,
            required: format!("{}.{}", REQUIRED_VERSION.0, REQUIRED_VERSION.1),
        });
    }
    Ok(version)
}

/// `1.31.1` -> `(1, 31)`.
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn default_file_name() -> String {
    format!(
        "{}onnxruntime{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The ONNX Runtime library in `dir`: `libonnxruntime.so`, or the newest `libonnxruntime.so.1.x.y`
/// (`libonnxruntime.1.x.y.dylib` on macOS) when only versioned names exist, as in the PyPI wheels.
fn find_in_dir(dir: &Path) -> Option<PathBuf> {
    let plain = dir.join(default_file_name());
    if plain.is_file() {
        return Some(plain);
    }
    let prefix = format!("{}onnxruntime.", std::env::consts::DLL_PREFIX);
    let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let rest = name.strip_prefix(&prefix)?;
            let version = rest.trim_start_matches("so.").trim_end_matches(".dylib");
            let key: Vec<u32> = version
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            Some((key, entry.path()))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_is_the_only_candidate() {
        let c = candidate_paths(
            Some(Path::new("/x/libonnxruntime.so")),
            Some("/env/lib.so".into()),
            None,
            &[],
            &[PathBuf::from("/p")],
        );
        assert_eq!(c, vec![PathBuf::from("/x/libonnxruntime.so")]);
    }

    #[test]
    fn order_is_env_then_exe_then_lib_then_provisioned() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("bin");
        let prov = dir.path().join("prov");
        std::fs::create_dir_all(exe.join("lib")).unwrap();
        let cpu_capi = prov.join("cpu/onnxruntime/capi");
        std::fs::create_dir_all(&cpu_capi).unwrap();
        // Only versioned names exist in the wheel; the newest wins.
        std::fs::write(
            cpu_capi.join(format!(
                "{}onnxruntime.so.1.9.0",
                std::env::consts::DLL_PREFIX
            )),
            b"",
        )
        .unwrap();
        std::fs::write(
            cpu_capi.join(format!(
                "{}onnxruntime.so.1.31.1",
                std::env::consts::DLL_PREFIX
            )),
            b"",
        )
        .unwrap();
        let wheel = dir.path().join("venv/onnxruntime/capi");
        let c = candidate_paths(
            None,
            Some("/env/libonnxruntime.so".into()),
            Some(&exe),
            std::slice::from_ref(&wheel),
            std::slice::from_ref(&prov),
        );
        assert_eq!(c[0], PathBuf::from("/env/libonnxruntime.so"));
        assert_eq!(c[1], exe.join(default_file_name()));
        assert_eq!(c[2], exe.join("lib").join(default_file_name()));
        assert_eq!(c[3], wheel.join(default_file_name()));
        assert_eq!(c[4].parent().unwrap(), prov.join("gpu/onnxruntime/capi"));
        if cfg!(target_os = "linux") {
            assert_eq!(c[5], cpu_capi.join("libonnxruntime.so.1.31.1"));
        }
        assert_eq!(c.len(), 6);
    }

    #[test]
    fn provisioned_runtimes_are_found_walking_up() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("checkout/.prism/runtime");
        std::fs::create_dir_all(&root).unwrap();
        let exe_dir = dir.path().join("checkout/target/debug/deps");
        std::fs::create_dir_all(&exe_dir).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        // From the executable's folder and from the current directory; nearest first, once.
        assert_eq!(
            provisioned_roots(&[&exe_dir, &dir.path().join("checkout")]),
            vec![root.clone()]
        );
        assert!(provisioned_roots(&[&elsewhere]).is_empty());
    }

    #[test]
    fn empty_env_var_is_ignored() {
        let c = candidate_paths(None, Some("".into()), None, &[], &[PathBuf::from("/p")]);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("1.31.1"), Some((1, 31)));
        assert_eq!(parse_version("1.9.0"), Some((1, 9)));
        assert!(parse_version("1.9.0") < Some(REQUIRED_VERSION));
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn a_file_that_is_not_a_library_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("libonnxruntime.so");
        std::fs::write(&fake, b"not a library").unwrap();
        let err = probe_version(&fake).unwrap_err();
        assert!(matches!(err, Error::RuntimeInvalid { .. }), "{err}");
        assert!(err.to_string().contains(&fake.display().to_string()));
        assert!(err.to_string().contains("cargo xtask setup"));
    }
}
