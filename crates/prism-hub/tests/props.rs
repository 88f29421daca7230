//! Property tests (fixed seed, so CI runs the same cases every time): the registry parser and the
//! Hub answer parsers take arbitrary and mutated input and must return a value or an error, never
//! panic; every number they let through is within its documented bounds.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};

use prism_hub::api::{parse_model_info, parse_search};
use prism_hub::bounded::{MAX_FILE_SIZE, read_capped};
use prism_hub::checks::{PAD_MULTIPLE_MAX, SCALE_MAX, TILE_MAX};
use prism_hub::{Registry, names, registry::BUILTIN};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5052_4953_4d00_0011),
        failure_persistence: None,
        ..Config::default()
    }
}

fn parse(text: &str) -> Result<Registry, prism_hub::Error> {
    Registry::parse(text, Path::new("prop.toml"))
}

/// What a successfully parsed registry guarantees.
fn assert_bounded(r: &Registry) {
    for m in &r.models {
        if let Some(s) = m.scale {
            assert!((1..=SCALE_MAX).contains(&s), "{}: scale {s}", m.id);
        }
        if let Some(p) = m.io.pad_multiple {
            assert!((1..=PAD_MULTIPLE_MAX).contains(&p), "{}: pad {p}", m.id);
        }
        if let Some(t) = m.io.tile {
            assert!((1..=TILE_MAX).contains(&t), "{}: tile {t}", m.id);
        }
        let sizes = m.variants.iter().map(|v| v.size);
        for size in sizes.chain(m.upstream.iter().map(|u| u.size)).flatten() {
            assert!((1..=MAX_FILE_SIZE).contains(&size), "{}: size {size}", m.id);
        }
        for (_, h) in m.hub_files() {
            names::repo_id(&h.repo).unwrap();
            names::repo_file(&h.file).unwrap();
        }
        assert!(!m.variants.is_empty());
    }
}

/// Pieces of TOML syntax and hostile values that mutations splice into the real registry.
const FRAGMENTS: &[&str] = &[
    "\"",
    "'",
    "=",
    "[",
    "]",
    "[[model]]",
    "[[model.variant]]",
    "{",
    "}",
    ",",
    "\n",
    "#",
    "\\",
    "\"\"\"",
    "-1",
    "0",
    "4294967296",
    "99999999999999999999",
    "1e400",
    "nan",
    "inf",
    "true",
    "\u{0}",
    "\u{feff}",
    "é",
    "../",
    "/",
    "size = ",
    "scale = ",
    "pad_multiple = ",
    "\r\n",
    "id = \"x\"",
    "= { }",
    "[[",
    "]]",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let n = BUILTIN.len();
    prop_oneof![
        (0..n, 1..64usize).prop_map(|(at, len)| Edit::Delete(at, len)),
        (0..n, prop::sample::select(FRAGMENTS)).prop_map(|(at, f)| Edit::Insert(at, f)),
        (0..n, 1..400usize).prop_map(|(at, len)| Edit::Duplicate(at, len)),
    ]
}

fn boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(edits: &[Edit]) -> String {
    let mut s = BUILTIN.to_string();
    for e in edits {
        match *e {
            Edit::Delete(at, len) => {
                let a = boundary(&s, at);
                let b = boundary(&s, at + len);
                s.replace_range(a..b, "");
            }
            Edit::Insert(at, f) => {
                let a = boundary(&s, at);
                s.insert_str(a, f);
            }
            Edit::Duplicate(at, len) => {
                let a = boundary(&s, at);
                let b = boundary(&s, at + len);
                let piece = s[a..b].to_string();
                s.insert_str(b, &piece);
            }
        }
    }
    s
}

/// Arbitrary JSON, with the field names the Hub parsers look for.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "id",
        "modelId",
        "sha",
        "lastModified",
        "downloads",
        "likes",
        "cardData",
        "license",
        "tags",
        "gated",
        "siblings",
        "rfilename",
        "pipeline_tag",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "acme/sr",
            "0123456789abcdef0123456789abcdef01234567",
            "../../etc",
            "license:mit",
            "",
            "a/b/c",
        ])
        .prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn check_info(bytes: &[u8]) {
    if let Ok(info) = parse_model_info(bytes, "http://hub/api/models/x/y") {
        names::repo_id(&info.id).unwrap();
        if let Some(sha) = &info.sha {
            assert!(names::is_commit(sha), "{sha}");
        }
    }
}

fn check_search(bytes: &[u8], limit: usize) {
    if let Ok(found) = parse_search(bytes, "http://hub/api/models?search=x", limit) {
        assert!(found.len() <= limit);
        for m in found {
            names::repo_id(&m.id).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_text_never_panics_the_registry(text in any::<String>()) {
        if let Ok(r) = parse(&text) {
            assert_bounded(&r);
        }
    }

    #[test]
    fn toml_shaped_text_never_panics_the_registry(
        text in "(\\[\\[model(\\.variant|\\.upstream)?\\]\\]\n|[a-z_]{1,12} = (\"[a-z0-9./ -]{0,20}\"|-?[0-9]{1,22}|\\{ [a-z_]{1,12} = [0-9]{1,5} \\}|\\[\"[a-z]{0,5}\"\\])\n){0,40}"
    ) {
        if let Ok(r) = parse(&text) {
            assert_bounded(&r);
        }
    }

}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn mutated_real_registry_never_panics(edits in prop::collection::vec(edit(), 1..6)) {
        let text = apply(&edits);
        match parse(&text) {
            Ok(r) => assert_bounded(&r),
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("prop.toml"), "{msg}");
            }
        }
    }

    #[test]
    fn numbers_in_the_real_registry_are_bounded(
        field in 0..4usize,
        value in prop_oneof![any::<i64>(), -2i64..2000, Just(0), Just(1025), Just(17)],
    ) {
        let (from, key, lo, hi) = [
            ("pad_multiple = 32", "pad_multiple", 1, PAD_MULTIPLE_MAX as i64),
            ("scale = 4", "scale", 1, SCALE_MAX as i64),
            ("tile = 128", "tile", 1, TILE_MAX as i64),
            ("size = 6728029", "size", 1, MAX_FILE_SIZE as i64),
        ][field];
        prop_assert!(BUILTIN.contains(from), "{from}");
        let text = BUILTIN.replacen(from, &format!("{key} = {value}"), 1);
        match parse(&text) {
            Ok(r) => {
                prop_assert!((lo..=hi).contains(&value), "{key} = {value} accepted");
                assert_bounded(&r);
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!(lo..=hi).contains(&value), "{key} = {value}: {msg}");
                prop_assert!(msg.starts_with("prop.toml:"), "{msg}");
                if (0..=u32::MAX as i64).contains(&value) {
                    prop_assert!(msg.contains(&format!("{key} {value} must be")), "{msg}");
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_hub_parsers(bytes in prop::collection::vec(any::<u8>(), 0..512), limit in 0..50usize) {
        check_info(&bytes);
        check_search(&bytes, limit);
    }

    #[test]
    fn arbitrary_json_never_panics_the_hub_parsers(value in json_value(), limit in 0..50usize) {
        let bytes = serde_json::to_vec(&value).unwrap();
        check_info(&bytes);
        check_search(&bytes, limit);
        let list = serde_json::to_vec(&json!([value])).unwrap();
        check_search(&list, limit);
    }

    #[test]
    fn capped_reads_refuse_exactly_what_is_over_the_limit(len in 0..4096usize, limit in 0..4096u64) {
        let data = vec![7u8; len];
        let got = read_capped(&data[..], limit, Path::new("x"), "test");
        prop_assert_eq!(got.is_ok(), len as u64 <= limit);
    }
}

#[test]
fn deep_nesting_and_oversize_text_are_errors() {
    let deep = format!("x = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse(&deep).is_err());
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_model_info(deep_json.as_bytes(), "u").is_err());
    assert!(parse_search(deep_json.as_bytes(), "u", 5).is_err());
    let big = format!(
        "{BUILTIN}{}",
        "#".repeat(prism_hub::bounded::REGISTRY_LIMIT as usize)
    );
    let e = parse(&big).unwrap_err().to_string();
    assert!(
        e.contains("prop.toml: model registry larger than the limit of"),
        "{e}"
    );
}
