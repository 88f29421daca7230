//! `include/prism.h` is what cbindgen makes of the crate now; `PRISM_BLESS=1` rewrites it.

use std::path::Path;

#[test]
fn header_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen cannot read the crate");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    let committed = crate_dir.join("include/prism.h");
    if std::env::var_os("PRISM_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&committed, &generated).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        current == generated,
        "{} is stale: regenerate it with `PRISM_BLESS=1 cargo test -p prism-capi --test header`",
        committed.display()
    );
}
