//! Bounded reads of everything the crate parses (registry files, Hub API answers, cache refs, the
//! token file): at most `limit` bytes are ever read, and a source longer than that is refused with an
//! error naming it and the limit, before it is held in memory whole.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Largest registry TOML file (the shipped one is about 35 KiB).
pub const REGISTRY_LIMIT: u64 = 4 << 20;
/// Largest Hub API JSON answer (model info with its file list, a search page).
pub const API_JSON_LIMIT: u64 = 8 << 20;
/// Largest small metadata file in the cache (`refs/<revision>`) or the token file.
pub const SMALL_FILE_LIMIT: u64 = 64 << 10;
/// Largest model file the registry or the Hub may announce (64 GiB).
pub const MAX_FILE_SIZE: u64 = 64 << 30;

fn too_large(source: &dyn std::fmt::Display, what: &'static str, limit: u64) -> Error {
    Error::TooLarge {
        source_name: source.to_string(),
        what,
        limit,
    }
}

/// Reads `reader` to its end, refusing (after `limit + 1` bytes at most) when it is longer than
/// `limit`. `source` names it in errors.
pub fn read_capped(
    reader: impl Read,
    limit: u64,
    source: &Path,
    what: &'static str,
) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(source, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(&source.display(), what, limit));
    }
    Ok(bytes)
}

/// A UTF-8 file of at most `limit` bytes; the size on disk is checked before reading.
pub fn read_file_string(path: &Path, limit: u64, what: &'static str) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if file.metadata().is_ok_and(|m| m.len() > limit) {
        return Err(too_large(&path.display(), what, limit));
    }
    let bytes = read_capped(file, limit, path, what)?;
    String::from_utf8(bytes).map_err(|e| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
        )
    })
}

/// A text of at most `limit` bytes (for text that is already in memory, such as the built-in
/// registry or a caller's string).
pub fn check_len(text: &str, limit: u64, source: &Path, what: &'static str) -> Result<()> {
    if text.len() as u64 > limit {
        return Err(too_large(&source.display(), what, limit));
    }
    Ok(())
}

/// The body of an HTTP answer, at most `limit` bytes: refused at once when its Content-Length is
/// larger, else while it streams in, as soon as it passes the limit.
pub async fn read_body(
    mut response: reqwest::Response,
    limit: u64,
    url: &str,
    what: &'static str,
) -> Result<Vec<u8>> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_large(&url, what, limit));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::Network {
        url: url.to_string(),
        reason: e.to_string(),
    })? {
        if (bytes.len() as u64).saturating_add(chunk.len() as u64) > limit {
            return Err(too_large(&url, what, limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_one_byte_over_the_limit() {
        let p = Path::new("x.toml");
        assert_eq!(
            read_capped(&b"abcd"[..], 4, p, "registry").unwrap(),
            b"abcd"
        );
        let e = read_capped(&b"abcde"[..], 4, p, "registry").unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 4, .. }), "{e}");
        assert!(
            e.to_string()
                .contains("x.toml: registry larger than the limit of 4 bytes")
        );
    }
}
