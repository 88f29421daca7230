//! The model manager: sessions loaded lazily by id or path, kept within a memory budget (least
//! recently used out first), unloaded on request, and refused for the wrong task.

mod common;

use std::sync::Arc;

use prism_core::{Device, SessionOptions};
use prism_hub::{ManagerOptions, ModelManager};

fn manager(budget: u64) -> ModelManager {
    let dir = tempfile::tempdir().unwrap();
    let mut options = ManagerOptions {
        memory_budget: budget,
        download: false,
        ..ManagerOptions::default()
    };
    options.hub.offline = Some(true);
    options.hub.cache_dir = Some(dir.keep());
    ModelManager::new(options).unwrap_or_else(|e| panic!("{e}"))
}

fn cpu() -> SessionOptions {
    SessionOptions {
        device: Device::Cpu,
        ..SessionOptions::default()
    }
}

#[test]
fn sessions_are_cached_evicted_least_recently_used_and_unloaded() {
    let a = common::fixture("tiny_conv.fp32.onnx");
    let b = common::fixture("two_inputs.onnx");
    let c = common::fixture("fixed_shape.onnx");
    let (a, b, c) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    );
    let size = |p: &str| std::fs::metadata(p).unwrap().len();
    // Room for two of the three files, not all three.
    let m = manager(size(a) + size(b) + size(c) - 1);
    assert!(
        m.loaded().is_empty(),
        "nothing is loaded before it is asked for"
    );

    let first = m.load(a, None, &cpu()).unwrap();
    let again = m.load(a, None, &cpu()).unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "a second load of the same model reuses the session"
    );

    m.load(b, None, &cpu()).unwrap();
    m.load(a, None, &cpu()).unwrap(); // a is now the most recently used
    m.load(c, None, &cpu()).unwrap(); // over budget: b, the least recently used, goes
    let ids: Vec<String> = m.loaded().into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![c.to_string(), a.to_string()]);

    // `a` survived the eviction, so it is still the same session; after an unload it is loaded anew.
    let reloaded = m.load(a, None, &cpu()).unwrap();
    assert!(Arc::ptr_eq(&first, &reloaded));
    assert_eq!(m.unload(a), 1);
    assert_eq!(m.unload(a), 0);
    let fresh = m.load(a, None, &cpu()).unwrap();
    assert!(
        !Arc::ptr_eq(&first, &fresh),
        "after unload the model is loaded anew"
    );
    assert_eq!(first.lock().unwrap().info().parameter_count, 84);
    m.clear();
    assert!(m.loaded().is_empty());
}

#[test]
fn a_registry_model_of_another_task_is_refused_before_loading() {
    let m = manager(1 << 30);
    let err = m.load("rife-v4.0", Some("upscale"), &cpu()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("rife-v4.0") && text.contains("upscale"),
        "{text}"
    );
    assert!(m.loaded().is_empty());
}
