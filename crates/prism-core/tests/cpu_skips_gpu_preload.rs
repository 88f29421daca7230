//! A CPU-only process never looks for GPU libraries; asking for a GPU provider does (once).
//! One test in its own process, so no other test's provider choice interferes.

use std::path::Path;

use prism_core::{Device, Model, Provider, Runtime, SessionOptions};

#[test]
fn gpu_libraries_are_preloaded_only_when_a_gpu_provider_is_requested() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/identity.onnx");
    let cpu = SessionOptions {
        device: Device::Cpu,
        intra_threads: Some(1),
        ..SessionOptions::default()
    };
    let model = Model::load(&fixture, &cpu).unwrap();
    assert_eq!(model.provider(), Provider::Cpu);
    let runtime = Runtime::get().unwrap();
    assert!(!runtime.gpu_preload_attempted());
    assert!(runtime.preloaded_libraries().is_empty());
    // A GPU request looks for them, whether or not this machine has a GPU.
    let _ = prism_core::session::probe_provider(Provider::Cuda, 0, &cpu);
    assert!(runtime.gpu_preload_attempted());
}
