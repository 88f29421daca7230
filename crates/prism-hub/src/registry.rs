//! The model registry (`models/registry.toml`): every model id with its task, architecture, scale,
//! licence, I/O contract and precision variants, and where each variant's file comes from (the local
//! export and/or a pinned file in a Hub repository, with its sha256 and size when known).
//!
//! Loading validates everything: unknown fields, duplicate ids, malformed hashes and unsafe names are
//! errors that name the file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::bounded::{REGISTRY_LIMIT, check_len, read_file_string};
use crate::checks;
use crate::error::{Error, Result};
use crate::names;

/// The tasks a model can serve (the `task` field; same names as the export manifest).
pub const TASKS: &[&str] = &["upscale", "interpolate", "style", "features"];

/// The registry shipped with Prism, compiled in so the binary works from anywhere. The crate's
/// `registry.toml` is a link to `models/registry.toml`, so a packaged crate carries the file itself.
pub const BUILTIN: &str = include_str!("../registry.toml");

/// How errors name [`BUILTIN`]: its source file, marked as the copy built into Prism.
pub fn builtin_path() -> PathBuf {
    PathBuf::from("models/registry.toml (built in)")
}

/// What a model's graph takes and gives, as far as the registry knows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IoContract {
    #[serde(default)]
    pub inputs: Vec<String>,
    #[serde(default)]
    pub outputs: Vec<String>,
    /// `0..1` or `0..255`.
    pub value_range: Option<String>,
    /// Input height and width must be multiples of this.
    pub pad_multiple: Option<u32>,
    /// RIFE timestep support: `any` or `0.5`.
    pub timestep: Option<String>,
    /// Fixed square input size of graphs that only take tiles of one size.
    pub tile: Option<u32>,
}

/// The kinds of weights a model can have (`weights.kind`; same names as the export's `prism.weights`).
pub const WEIGHT_KINDS: &[&str] = &["real", "seeded-random"];

/// Where a model's default weights come from: `weights = { kind, source }`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// `real` or `seeded-random`.
    pub kind: String,
    /// The file, package or seed the weights come from (as the export records it).
    pub source: String,
}

impl Provenance {
    pub fn is_real(&self) -> bool {
        self.kind == "real"
    }
}

/// An official weight file that `python -m prism_export export ID --download` fetches, verifies and
/// converts (`[[model.upstream]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// `https://` URL of the file.
    pub url: String,
    /// Known sha256 of the file (lowercase hex).
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// What the export does with it: `main` (default) or `wdn` (the denoise blend's second file).
    pub role: Option<String>,
}

impl Upstream {
    /// The file name at the end of the URL.
    pub fn file_name(&self) -> &str {
        self.url.rsplit('/').next().unwrap_or("")
    }
}

/// A file in a Hub model repository.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct HubFile {
    pub repo: String,
    /// Full commit id (pinned) or a branch/tag (unpinned).
    pub revision: String,
    pub file: String,
}

impl HubFile {
    pub fn is_pinned(&self) -> bool {
        names::is_commit(&self.revision)
    }
}

/// One precision variant of a model and its sources.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Variant {
    /// `fp32` or `fp16`.
    pub precision: String,
    /// Path relative to an export folder (`export/out` or `$PRISM_MODELS_DIR`); verified against
    /// that folder's `manifest.json` when used.
    pub export: Option<String>,
    pub hub: Option<HubFile>,
    /// Known sha256 of the Hub file (lowercase hex).
    pub sha256: Option<String>,
    /// Known size of the Hub file in bytes.
    pub size: Option<u64>,
}

/// One registry entry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelEntry {
    pub id: String,
    pub task: String,
    pub architecture: String,
    pub scale: Option<u32>,
    pub description: String,
    pub license: String,
    pub io: IoContract,
    pub weights: Provenance,
    pub upstream: Vec<Upstream>,
    pub variants: Vec<Variant>,
}

impl ModelEntry {
    /// The variant of this precision (`fp32`/`fp16`).
    pub fn variant(&self, precision: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.precision == precision)
    }

    /// Whether the local export makes this model.
    pub fn exported(&self) -> bool {
        self.variants.iter().any(|v| v.export.is_some())
    }

    /// The Hub files of this model, in variant order.
    pub fn hub_files(&self) -> impl Iterator<Item = (&Variant, &HubFile)> {
        self.variants
            .iter()
            .filter_map(|v| v.hub.as_ref().map(|h| (v, h)))
    }
}

/// The loaded, validated registry.
#[derive(Debug, Clone)]
pub struct Registry {
    pub path: PathBuf,
    pub models: Vec<ModelEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default, rename = "model")]
    models: Vec<RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    id: Spanned<String>,
    task: Spanned<String>,
    architecture: String,
    scale: Option<Spanned<u32>>,
    #[serde(default)]
    description: String,
    license: String,
    io: Option<Spanned<IoContract>>,
    weights: Option<Spanned<Provenance>>,
    #[serde(default, rename = "upstream")]
    upstream: Vec<Spanned<Upstream>>,
    #[serde(rename = "variant")]
    variants: Spanned<Vec<RawVariant>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    precision: Spanned<String>,
    export: Option<Spanned<String>>,
    hub: Option<Spanned<HubFile>>,
    sha256: Option<Spanned<String>>,
    size: Option<Spanned<u64>>,
}

impl Registry {
    /// The registry compiled into Prism, or the file named by `$PRISM_REGISTRY` when set.
    pub fn load_default() -> Result<Registry> {
        match std::env::var_os("PRISM_REGISTRY").filter(|p| !p.is_empty()) {
            Some(path) => Registry::load(Path::new(&path)),
            None => Registry::parse(BUILTIN, &builtin_path()),
        }
    }

    pub fn load(path: &Path) -> Result<Registry> {
        let text = read_file_string(path, REGISTRY_LIMIT, "model registry")?;
        Registry::parse(&text, path)
    }

    /// Parses and validates registry TOML (at most [`REGISTRY_LIMIT`] bytes); `path` is only used
    /// in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Registry> {
        check_len(text, REGISTRY_LIMIT, path, "model registry")?;
        let at = |offset: usize, message: String| Error::Registry {
            path: path.to_path_buf(),
            line: text.as_bytes()[..offset.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1,
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            at(offset, e.message().trim().to_string())
        })?;
        let mut seen = BTreeSet::new();
        let mut models = Vec::with_capacity(raw.models.len());
        for m in raw.models {
            let id = m.id.get_ref().clone();
            let ok_id = !id.is_empty()
                && id.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_')
                });
            if !ok_id {
                return Err(at(
                    m.id.span().start,
                    format!("model id `{id}` must be lowercase letters, digits, `-`, `.` or `_`"),
                ));
            }
            if !seen.insert(id.clone()) {
                return Err(at(m.id.span().start, format!("duplicate model id `{id}`")));
            }
            if !TASKS.contains(&m.task.get_ref().as_str()) {
                return Err(at(
                    m.task.span().start,
                    format!(
                        "unknown task `{}` (expected one of {})",
                        m.task.get_ref(),
                        TASKS.join(", ")
                    ),
                ));
            }
            if m.variants.get_ref().is_empty() {
                return Err(at(
                    m.id.span().start,
                    format!("model `{id}` has no [[model.variant]]"),
                ));
            }
            let weights = match m.weights {
                Some(w) => {
                    let (span, w) = (w.span(), w.into_inner());
                    if !WEIGHT_KINDS.contains(&w.kind.as_str()) || w.source.trim().is_empty() {
                        return Err(at(
                            span.start,
                            format!(
                                "weights of `{id}`: kind `{}` must be one of {} and source must not be empty",
                                w.kind,
                                WEIGHT_KINDS.join(", ")
                            ),
                        ));
                    }
                    w
                }
                None => {
                    return Err(at(
                        m.id.span().start,
                        format!(
                            "model `{id}` lacks `weights = {{ kind, source }}` (where its weights come from)"
                        ),
                    ));
                }
            };
            let mut upstream = Vec::new();
            for u in m.upstream {
                let (span, u) = (u.span(), u.into_inner());
                checks::upstream(&u)
                    .map_err(|e| at(span.start, format!("upstream of `{id}`: {e}")))?;
                upstream.push(u);
            }
            if let Some(scale) = &m.scale {
                checks::scale(*scale.get_ref())
                    .map_err(|e| at(scale.span().start, format!("model `{id}`: {e}")))?;
            }
            let io = match m.io {
                Some(io) => {
                    checks::io(io.get_ref())
                        .map_err(|e| at(io.span().start, format!("model `{id}`: {e}")))?;
                    io.into_inner()
                }
                None => IoContract::default(),
            };
            let mut variants = Vec::new();
            let mut precisions = BTreeSet::new();
            for v in m.variants.into_inner() {
                let precision = v.precision.get_ref().clone();
                if precision != "fp32" && precision != "fp16" {
                    return Err(at(
                        v.precision.span().start,
                        format!("precision `{precision}` must be fp32 or fp16"),
                    ));
                }
                if !precisions.insert(precision.clone()) {
                    return Err(at(
                        v.precision.span().start,
                        format!("model `{id}` lists precision {precision} twice"),
                    ));
                }
                if v.export.is_none() && v.hub.is_none() {
                    return Err(at(
                        v.precision.span().start,
                        format!("variant {precision} of `{id}` has no source (export or hub)"),
                    ));
                }
                if let Some(export) = &v.export {
                    names::repo_file(export.get_ref())
                        .map_err(|e| at(export.span().start, e.to_string()))?;
                }
                if let Some(hub) = &v.hub {
                    let h = hub.get_ref();
                    names::repo_id(&h.repo)
                        .and_then(|()| names::revision(&h.revision))
                        .and_then(|()| names::repo_file(&h.file))
                        .map_err(|e| at(hub.span().start, e.to_string()))?;
                }
                if let Some(sha) = &v.sha256 {
                    if !names::is_sha256(sha.get_ref()) {
                        return Err(at(
                            sha.span().start,
                            format!(
                                "malformed sha256 `{}`: expected 64 lowercase hex digits",
                                sha.get_ref()
                            ),
                        ));
                    }
                    if v.hub.is_none() {
                        return Err(at(
                            sha.span().start,
                            "sha256 describes a hub file, but this variant has no hub source (export files are checked against their manifest)".into(),
                        ));
                    }
                }
                if let Some(size) = &v.size {
                    checks::file_size(*size.get_ref()).map_err(|e| {
                        at(
                            size.span().start,
                            format!("variant {precision} of `{id}`: {e}"),
                        )
                    })?;
                }
                variants.push(Variant {
                    precision,
                    export: v.export.map(Spanned::into_inner),
                    hub: v.hub.map(Spanned::into_inner),
                    sha256: v.sha256.map(Spanned::into_inner),
                    size: v.size.map(Spanned::into_inner),
                });
            }
            models.push(ModelEntry {
                id,
                task: m.task.into_inner(),
                architecture: m.architecture,
                scale: m.scale.map(Spanned::into_inner),
                description: m.description,
                license: m.license,
                io,
                weights,
                upstream,
                variants,
            });
        }
        Ok(Registry {
            path: path.to_path_buf(),
            models,
        })
    }

    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }

    /// Entries of one task (all when `None`), in registry order.
    pub fn by_task<'a>(&'a self, task: Option<&'a str>) -> impl Iterator<Item = &'a ModelEntry> {
        self.models
            .iter()
            .filter(move |m| task.is_none_or(|t| m.task == t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Registry> {
        Registry::parse(text, Path::new("test.toml"))
    }

    const ONE: &str = r#"
[[model]]
id = "a"
task = "upscale"
architecture = "X"
license = "MIT"
weights = { kind = "real", source = "test" }
[[model.variant]]
precision = "fp32"
export = "a/a.fp32.onnx"
"#;

    #[test]
    fn builtin_registry_is_valid_and_covers_real_models() {
        let r = Registry::parse(BUILTIN, &builtin_path()).unwrap();
        for id in [
            "realesrgan-x4plus",
            "rife-v4.0",
            "style-mosaic",
            "vgg19-vjp",
        ] {
            assert!(r.get(id).is_some(), "{id} missing");
        }
        assert!(r.models.iter().any(|m| m.hub_files().next().is_some()));
        assert!(r.get("vgg19-vjp").unwrap().variant("fp16").is_none());
    }

    #[test]
    fn unknown_field_is_an_error_with_its_line() {
        let text = ONE.replace("license = \"MIT\"", "license = \"MIT\"\ncolour = \"red\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.starts_with("test.toml:7:"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn duplicate_id_is_an_error_with_its_line() {
        let text = format!("{ONE}{ONE}");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.starts_with("test.toml:13:"), "{e}");
        assert!(e.contains("duplicate model id `a`"), "{e}");
    }

    #[test]
    fn malformed_hash_and_unsafe_names_are_errors() {
        let text = ONE.replace(
            "export = \"a/a.fp32.onnx\"",
            "hub = { repo = \"o/n\", revision = \"main\", file = \"m.onnx\" }\nsha256 = \"abc\"",
        );
        let e = parse(&text).unwrap_err().to_string();
        assert!(
            e.starts_with("test.toml:11:") && e.contains("malformed sha256"),
            "{e}"
        );
        let text = ONE.replace("a/a.fp32.onnx", "../../etc/passwd");
        let e = parse(&text).unwrap_err().to_string();
        assert!(
            e.starts_with("test.toml:10:") && e.contains("file name"),
            "{e}"
        );
    }

    #[test]
    fn weights_provenance_is_required_and_checked() {
        let r = parse(ONE).unwrap();
        assert!(r.models[0].weights.is_real());
        let e = parse(&ONE.replace("weights = { kind = \"real\", source = \"test\" }\n", ""))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("test.toml:3:") && e.contains("lacks `weights"),
            "{e}"
        );
        let e = parse(&ONE.replace("kind = \"real\"", "kind = \"pretrained\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("test.toml:7:") && e.contains("seeded-random"),
            "{e}"
        );
    }

    #[test]
    fn upstream_files_are_validated() {
        let good = format!(
            "{ONE}[[model.upstream]]\nurl = \"https://example.org/r/v1/M.pth\"\nsha256 = \"{}\"\nsize = 3\nrole = \"wdn\"\n",
            "0".repeat(64)
        );
        let r = parse(&good).unwrap();
        let u = &r.models[0].upstream[0];
        assert_eq!(
            (u.file_name(), u.size, u.role.as_deref()),
            ("M.pth", Some(3), Some("wdn"))
        );
        let zeros = "0".repeat(64);
        for (bad, why) in [
            ("https://example.org/r/v1/M.pth", "http://example.org/M.pth"),
            ("https://example.org/r/v1/M.pth", "https://example.org/r/"),
            ("\"wdn\"", "\"other\""),
            (zeros.as_str(), "abc"),
        ] {
            let e = parse(&good.replace(bad, why)).unwrap_err().to_string();
            assert!(
                e.starts_with("test.toml:11:") && e.contains("upstream of `a`"),
                "{e}"
            );
        }
    }
}
