//! Finding, checking and loading the ONNX Runtime shared library.
//!
//! Search order: an explicit path (API or `--ort-lib`), `ORT_DYLIB_PATH`, beside the executable and
//! its `lib/` folder (the layout a desktop app ships), then the runtime this project provisioned with
//! `cargo xtask setup` under `.prism/runtime/{gpu,cpu}`.

use std::ffi::{CStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The oldest ONNX Runtime release whose C API this build uses (ort's `api-31`).
pub const REQUIRED_VERSION: (u32, u32) = (1, ort::MINOR_VERSION);

/// Where `cargo xtask setup` puts the runtimes of this checkout.
pub fn provisioned_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.prism/runtime");
    root.canonicalize().unwrap_or(root)
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
    preloaded: Vec<PathBuf>,
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
        let preloaded = preload_gpu_libraries(&path);
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
            preloaded,
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

    /// CUDA / cuDNN / TensorRT libraries loaded ahead of ONNX Runtime from the provisioned wheels.
    pub fn preloaded_libraries(&self) -> &[PathBuf] {
        &self.preloaded
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
    provisioned: &Path,
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
    for flavour in ["gpu", "cpu"] {
        dirs.push(provisioned.join(flavour).join("onnxruntime").join("capi"));
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
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let tried = candidate_paths(
        options.library.as_deref(),
        std::env::var_os("ORT_DYLIB_PATH"),
        exe_dir.as_deref(),
        &provisioned_root(),
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

/// Loads the CUDA, cuDNN and TensorRT libraries of the `nvidia-*` / `tensorrt-*` wheels installed
/// beside a GPU ONNX Runtime, globally and before it, as `onnxruntime.preload_dlls()` does in Python:
/// the CUDA provider then finds them without `LD_LIBRARY_PATH`.
fn preload_gpu_libraries(ort_library: &Path) -> Vec<PathBuf> {
    // The wheel layout is <site>/onnxruntime/capi/libonnxruntime...; the NVIDIA wheels sit in <site>.
    let Some(site) = ort_library
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
    else {
        return Vec::new();
    };
    let mut pending: Vec<PathBuf> = Vec::new();
    for root in [site.join("nvidia"), site.join("tensorrt_libs")] {
        collect_shared_libraries(&root, 0, &mut pending);
    }
    if pending.is_empty() {
        return Vec::new();
    }
    pending.sort();
    // Libraries depend on each other by soname; load repeatedly until nothing more loads.
    let mut loaded = Vec::new();
    loop {
        let before = pending.len();
        pending.retain(|path| match load_global(path) {
            Ok(()) => {
                loaded.push(path.clone());
                false
            }
            Err(_) => true,
        });
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    for path in &pending {
        if let Err(e) = load_global(path) {
            tracing::debug!(path = %path.display(), error = %e, "GPU library not preloaded");
        }
    }
    tracing::info!(
        count = loaded.len(),
        "preloaded CUDA / cuDNN / TensorRT libraries from the provisioned wheels"
    );
    loaded
}

fn collect_shared_libraries(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && depth < 4 {
            collect_shared_libraries(&path, depth + 1, out);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("lib") && n.contains(".so"))
        {
            out.push(path);
        }
    }
}

#[cfg(unix)]
fn load_global(path: &Path) -> std::result::Result<(), libloading::Error> {
    use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_LAZY};
    // SAFETY: NVIDIA's libraries have no unsafe initialisers; the handle is kept for the process.
    let lib = unsafe { Library::open(Some(path), RTLD_LAZY | RTLD_GLOBAL) }?;
    std::mem::forget(lib);
    Ok(())
}

#[cfg(not(unix))]
fn load_global(path: &Path) -> std::result::Result<(), libloading::Error> {
    // SAFETY: as above; Windows resolves DLLs already loaded into the process by name.
    let lib = unsafe { libloading::Library::new(path) }?;
    std::mem::forget(lib);
    Ok(())
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
            Path::new("/p"),
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
        let c = candidate_paths(
            None,
            Some("/env/libonnxruntime.so".into()),
            Some(&exe),
            &prov,
        );
        assert_eq!(c[0], PathBuf::from("/env/libonnxruntime.so"));
        assert_eq!(c[1], exe.join(default_file_name()));
        assert_eq!(c[2], exe.join("lib").join(default_file_name()));
        assert_eq!(c[3].parent().unwrap(), prov.join("gpu/onnxruntime/capi"));
        if cfg!(target_os = "linux") {
            assert_eq!(c[4], cpu_capi.join("libonnxruntime.so.1.31.1"));
        }
        assert_eq!(c.len(), 5);
    }

    #[test]
    fn empty_env_var_is_ignored() {
        let c = candidate_paths(None, Some("".into()), None, Path::new("/p"));
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
