//! Runtime loading failures. This test binary never loads a working runtime, so each failure is
//! seen exactly as a fresh process would see it.

mod common;

use prism_core::runtime::{REQUIRED_VERSION, probe_version};
use prism_core::{Error, Runtime, RuntimeOptions};

#[test]
fn a_missing_library_lists_where_it_looked_and_how_to_install() {
    let missing = std::env::temp_dir().join("prism-no-such-dir/libonnxruntime.so");
    let err = Runtime::init(&RuntimeOptions {
        library: Some(missing.clone()),
    })
    .unwrap_err();
    let Error::RuntimeNotFound { tried } = &err else {
        panic!("wrong error: {err}")
    };
    assert_eq!(tried, &vec![missing.clone()]);
    let text = err.to_string();
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(text.contains("cargo xtask setup"), "{text}");
}

#[test]
fn a_too_old_library_names_both_versions() {
    let old = common::old_runtime();
    let err = probe_version(&old).unwrap_err();
    let Error::RuntimeTooOld {
        path,
        found,
        required,
    } = &err
    else {
        panic!("wrong error: {err}")
    };
    assert_eq!(path, &old);
    assert_eq!(found, "1.20.1");
    assert_eq!(
        required,
        &format!("{}.{}", REQUIRED_VERSION.0, REQUIRED_VERSION.1)
    );
    // Through the public entry point too, and nothing stays loaded.
    let err = Runtime::init(&RuntimeOptions {
        library: Some(old.clone()),
    })
    .unwrap_err();
    assert!(matches!(err, Error::RuntimeTooOld { .. }), "{err}");
    assert!(err.to_string().contains("1.20.1") && err.to_string().contains("cargo xtask setup"));
    assert!(Runtime::get().is_none());
}

#[test]
fn a_file_that_is_not_a_library_is_rejected_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&fake, b"\x7fELF but not really").unwrap();
    let err = Runtime::init(&RuntimeOptions {
        library: Some(fake.clone()),
    })
    .unwrap_err();
    assert!(matches!(err, Error::RuntimeInvalid { .. }), "{err}");
    assert!(err.to_string().contains(&fake.display().to_string()));
}

#[test]
fn the_provisioned_runtime_is_found_and_new_enough() {
    // Discovery without loading: the set-up put a supported runtime where `locate` looks.
    let path = prism_core::runtime::locate(&RuntimeOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n{}", common::SETUP));
    let version = probe_version(&path).unwrap();
    assert!(prism_core::runtime::parse_version(&version).unwrap() >= REQUIRED_VERSION);
}
