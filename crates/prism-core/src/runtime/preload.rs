//! Preloading the CUDA, cuDNN and TensorRT libraries of the `nvidia-*` / `tensorrt-*` wheels that
//! sit beside a GPU ONNX Runtime wheel, by name and in dependency order (ort's own lists), so the
//! CUDA and TensorRT providers find them without `LD_LIBRARY_PATH`.

use std::path::{Path, PathBuf};

/// TensorRT 10's libraries, dependencies first (ort has no list for them).
#[cfg(not(windows))]
const TENSORRT_DYLIBS: &[&str] = &[
    "libnvinfer.so.10",
    "libnvinfer_plugin.so.10",
    "libnvonnxparser.so.10",
];
#[cfg(windows)]
const TENSORRT_DYLIBS: &[&str] = &[
    "nvinfer_10.dll",
    "nvinfer_plugin_10.dll",
    "nvonnxparser_10.dll",
];

/// The libraries to load, in order: CUDA, then cuDNN (ort's lists), then TensorRT.
pub(crate) fn ordered_names() -> Vec<&'static str> {
    ort::ep::cuda::CUDA_DYLIBS
        .iter()
        .chain(ort::ep::cuda::CUDNN_DYLIBS)
        .chain(TENSORRT_DYLIBS)
        .copied()
        .collect()
}

/// Folders that may hold them, for a runtime at `<site>/onnxruntime/capi/libonnxruntime...`:
/// `<site>/nvidia/<package>/{lib,bin}` (one folder per wheel; `cu13` for CUDA 13) and
/// `<site>/tensorrt_libs`.
pub(crate) fn library_dirs(ort_library: &Path) -> Vec<PathBuf> {
    let Some(site) = ort_library
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
    else {
        return Vec::new();
    };
    let mut packages: Vec<PathBuf> = std::fs::read_dir(site.join("nvidia"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    packages.sort();
    let mut dirs: Vec<PathBuf> = packages
        .iter()
        .flat_map(|p| [p.join("lib"), p.join("bin")])
        .filter(|d| d.is_dir())
        .collect();
    let trt = site.join("tensorrt_libs");
    if trt.is_dir() {
        dirs.push(trt);
    }
    dirs
}

/// Each name of [`ordered_names`] found in [`library_dirs`], in load order.
pub(crate) fn plan(ort_library: &Path) -> Vec<PathBuf> {
    let dirs = library_dirs(ort_library);
    ordered_names()
        .into_iter()
        .filter_map(|name| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()))
        .collect()
}

/// Loads [`plan`]'s files globally; returns those that loaded.
pub(crate) fn preload_beside(ort_library: &Path) -> Vec<PathBuf> {
    let mut loaded = Vec::new();
    for path in plan(ort_library) {
        match load_global(&path) {
            Ok(()) => loaded.push(path),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "GPU library not preloaded")
            }
        }
    }
    if !loaded.is_empty() {
        tracing::info!(
            count = loaded.len(),
            "preloaded CUDA / cuDNN / TensorRT libraries"
        );
    }
    loaded
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
    fn plan_follows_orts_order_and_skips_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path();
        let capi = site.join("onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        let names = ordered_names();
        let (cuda, cudnn, trt) = (names[0], names[names.len() - 4], names[names.len() - 1]);
        for (folder, name) in [
            ("nvidia/cu13/lib", cuda),
            ("nvidia/cudnn/lib", cudnn),
            ("nvidia/cudnn/lib", "libunrelated.so.1"),
            ("tensorrt_libs", trt),
        ] {
            std::fs::create_dir_all(site.join(folder)).unwrap();
            std::fs::write(site.join(folder).join(name), b"").unwrap();
        }
        let plan = plan(&capi.join("libonnxruntime.so"));
        assert_eq!(
            plan,
            vec![
                site.join("nvidia/cu13/lib").join(cuda),
                site.join("nvidia/cudnn/lib").join(cudnn),
                site.join("tensorrt_libs").join(trt),
            ]
        );
        // A CPU runtime without NVIDIA wheels beside it loads nothing.
        assert!(preload_beside(&site.join("none/onnxruntime/capi/libonnxruntime.so")).is_empty());
    }
}
