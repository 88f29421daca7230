//! Validation of every name that becomes part of a path or URL: repository ids, revisions, file names
//! in a repository, and what a server sends back (commit ids, ETags). Nothing from a remote is used as
//! a path before it passed one of these checks.

use crate::error::{Error, Result};

fn invalid(what: &'static str, value: &str, reason: &'static str) -> Error {
    Error::InvalidName {
        what,
        value: value.to_string(),
        reason,
    }
}

fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 96
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `owner/name`, each part `[A-Za-z0-9._-]`, as the Hub allows.
pub fn repo_id(repo: &str) -> Result<()> {
    match repo.split_once('/') {
        Some((owner, name)) if safe_segment(owner) && safe_segment(name) => Ok(()),
        _ => Err(invalid(
            "repository id",
            repo,
            "expected owner/name made of letters, digits, `.`, `_` and `-`",
        )),
    }
}

/// A branch, tag or commit id; `/` is allowed between safe segments (branches like `refs/pr/1`).
pub fn revision(rev: &str) -> Result<()> {
    if !rev.is_empty() && rev.len() <= 200 && rev.split('/').all(safe_segment) {
        Ok(())
    } else {
        Err(invalid(
            "revision",
            rev,
            "expected a branch, tag or commit id without `..`",
        ))
    }
}

/// A relative file path inside a repository: safe segments joined by `/`, no `..`, no absolute paths.
pub fn repo_file(file: &str) -> Result<()> {
    if !file.is_empty() && file.len() <= 400 && file.split('/').all(safe_segment) {
        Ok(())
    } else {
        Err(invalid(
            "file name",
            file,
            "expected a relative path of letters, digits, `.`, `_` and `-` without `..`",
        ))
    }
}

/// A full 40-hex git commit id.
pub fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A lowercase 64-hex sha256.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An ETag usable as a blob file name: a git sha1 (40 hex) or an LFS sha256 (64 hex), lowercase.
pub fn is_blob_etag(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The Hub cache folder of a model repository: `models--owner--name`.
pub fn repo_folder(repo: &str) -> String {
    format!("models--{}", repo.replace('/', "--"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_traversal_and_absolute_names() {
        for bad in [
            "../x.onnx",
            "/etc/passwd",
            "a/../b",
            "a//b",
            "",
            "a\\b",
            "x y",
            "..",
            "a/./b",
        ] {
            assert!(repo_file(bad).is_err(), "{bad:?} accepted");
        }
        repo_file("onnx/model.fp16.onnx").unwrap();
        assert!(repo_id("owner").is_err());
        assert!(repo_id("a/b/c").is_err());
        assert!(repo_id("../b").is_err());
        repo_id("qualcomm/Real-ESRGAN-x4plus").unwrap();
        assert!(revision("../../x").is_err());
        revision("refs/pr/1").unwrap();
        assert!(is_blob_etag(&"a".repeat(64)));
        assert!(!is_blob_etag("../../../../tmp/evil"));
        assert!(!is_sha256(&"A".repeat(64)));
    }
}
