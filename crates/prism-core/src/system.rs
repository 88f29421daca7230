//! Facts about the host: CPU model, core counts and the process's peak memory.

use serde::Serialize;

/// The CPU as `prism devices` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct CpuInfo {
    pub model: String,
    pub physical_cores: usize,
    pub logical_cores: usize,
    /// 8-bit dot-product instructions (see [`cpu_has_int8_dot`]).
    pub int8_dot: bool,
}

pub fn cpu_info() -> CpuInfo {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    CpuInfo {
        model,
        physical_cores: num_cpus::get_physical(),
        logical_cores: num_cpus::get(),
        int8_dot: cpu_has_int8_dot(),
    }
}

/// Whether this CPU has 8-bit dot-product instructions (AVX-512 VNNI or AVX-VNNI on x86-64,
/// dotprod on AArch64). Without them ONNX Runtime's INT8 convolutions are no faster than its FP32
/// ones (`export/bench/int8_speed.py`), so `--precision auto` keeps FP32 on such CPUs.
pub fn cpu_has_int8_dot() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni")
            || std::arch::is_x86_feature_detected!("avxvnni")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("dotprod")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Peak resident memory of this process in bytes (`VmHWM`), where the OS reports it.
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Names of the CUDA GPUs, read through the CUDA runtime that ONNX Runtime's CUDA provider loaded.
pub fn cuda_device_names() -> Vec<String> {
    #[cfg(unix)]
    {
        // SAFETY: cudaGetDeviceCount / cudaGetDeviceProperties have had these C signatures in every
        // CUDA release; `name` is the first field of cudaDeviceProp (char[256]) and the buffer is
        // far larger than the struct.
        unsafe {
            let Ok(lib) = ["libcudart.so.13", "libcudart.so.12", "libcudart.so"]
                .iter()
                .find_map(|name| libloading::Library::new(*name).ok())
                .ok_or(())
            else {
                return Vec::new();
            };
            type Count = unsafe extern "C" fn(*mut i32) -> i32;
            type Props = unsafe extern "C" fn(*mut u8, i32) -> i32;
            let Ok(count_fn) = lib.get::<Count>(b"cudaGetDeviceCount\0") else {
                return Vec::new();
            };
            let Ok(props_fn) = lib
                .get::<Props>(b"cudaGetDeviceProperties_v2\0")
                .or_else(|_| lib.get::<Props>(b"cudaGetDeviceProperties\0"))
            else {
                return Vec::new();
            };
            let mut count = 0;
            if count_fn(&mut count) != 0 {
                return Vec::new();
            }
            (0..count)
                .map(|i| {
                    let mut buf = vec![0u8; 16384];
                    if props_fn(buf.as_mut_ptr(), i) != 0 {
                        return format!("GPU {i}");
                    }
                    let end = buf[..256].iter().position(|&b| b == 0).unwrap_or(256);
                    String::from_utf8_lossy(&buf[..end]).into_owned()
                })
                .collect()
        }
    }
    #[cfg(not(unix))]
    Vec::new()
}
