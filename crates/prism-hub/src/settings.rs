//! The Hub's environment conventions: the token (`HF_TOKEN`, the token file) and offline mode.

use std::path::PathBuf;

use crate::bounded::{SMALL_FILE_LIMIT, read_file_string};

/// `HF_TOKEN`, else `HF_TOKEN_PATH`'s file, else `$HF_HOME/token`, unless
/// `HF_HUB_DISABLE_IMPLICIT_TOKEN` is set (the `hf-hub` / `huggingface_hub` order).
pub fn resolve_token() -> Option<String> {
    let set = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if set("HF_HUB_DISABLE_IMPLICIT_TOKEN").is_some() {
        return None;
    }
    if let Some(token) = set("HF_TOKEN") {
        return Some(token.trim().to_string());
    }
    let file = set("HF_TOKEN_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(token_file);
    // No token file is the usual case (never logged in): not worth a warning.
    if !file.exists() {
        return None;
    }
    read_file_string(&file, SMALL_FILE_LIMIT, "token file")
        .map_err(|e| tracing::warn!(error = %e, "token file ignored"))
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Where `huggingface-cli login` stores the token.
pub fn token_file() -> PathBuf {
    hf_hub::hf_home().join("token")
}

/// Whether `HF_HUB_OFFLINE` asks for cache-only operation.
pub fn offline_from_env() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}
