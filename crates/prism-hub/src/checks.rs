//! Bounds on the numbers and short values a registry entry gives (scale, I/O contract, file sizes,
//! upstream files): an absurd value is an error that says what is allowed, never a later overflow.

use crate::bounded::MAX_FILE_SIZE;
use crate::names;
use crate::registry::{IoContract, Upstream};

/// Largest upscaling factor.
pub const SCALE_MAX: u32 = 16;
/// Largest `pad_multiple`.
pub const PAD_MULTIPLE_MAX: u32 = 1024;
/// Largest fixed tile side.
pub const TILE_MAX: u32 = 16384;
/// Most input or output names, and the longest one.
pub const IO_NAMES_MAX: usize = 64;
pub const IO_NAME_LEN_MAX: usize = 256;
/// The accepted `value_range` and `timestep` values.
pub const VALUE_RANGES: &[&str] = &["0..1", "0..255"];
pub const TIMESTEPS: &[&str] = &["any", "0.5"];

type Check = std::result::Result<(), String>;

pub fn scale(scale: u32) -> Check {
    if (1..=SCALE_MAX).contains(&scale) {
        Ok(())
    } else {
        Err(format!("scale {scale} must be 1 to {SCALE_MAX}"))
    }
}

/// A file size in bytes: 1 to 64 GiB.
pub fn file_size(size: u64) -> Check {
    if (1..=MAX_FILE_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(format!("size {size} must be 1 to {MAX_FILE_SIZE} bytes"))
    }
}

pub fn io(io: &IoContract) -> Check {
    for (what, list) in [("inputs", &io.inputs), ("outputs", &io.outputs)] {
        if list.len() > IO_NAMES_MAX {
            return Err(format!(
                "io.{what} lists {} names; at most {IO_NAMES_MAX}",
                list.len()
            ));
        }
        if let Some(bad) = list
            .iter()
            .find(|n| n.is_empty() || n.len() > IO_NAME_LEN_MAX)
        {
            return Err(format!(
                "io.{what}: name `{bad}` must be 1 to {IO_NAME_LEN_MAX} bytes"
            ));
        }
    }
    if let Some(p) = io.pad_multiple
        && !(1..=PAD_MULTIPLE_MAX).contains(&p)
    {
        return Err(format!(
            "io.pad_multiple {p} must be 1 to {PAD_MULTIPLE_MAX}"
        ));
    }
    if let Some(t) = io.tile
        && !(1..=TILE_MAX).contains(&t)
    {
        return Err(format!("io.tile {t} must be 1 to {TILE_MAX}"));
    }
    if let Some(r) = &io.value_range
        && !VALUE_RANGES.contains(&r.as_str())
    {
        return Err(format!(
            "io.value_range `{r}` must be one of {}",
            VALUE_RANGES.join(", ")
        ));
    }
    if let Some(t) = &io.timestep
        && !TIMESTEPS.contains(&t.as_str())
    {
        return Err(format!(
            "io.timestep `{t}` must be one of {}",
            TIMESTEPS.join(", ")
        ));
    }
    Ok(())
}

pub fn upstream(u: &Upstream) -> Check {
    let Some(rest) = u.url.strip_prefix("https://") else {
        return Err(format!("url `{}` must start with https://", u.url));
    };
    if !rest.contains('/') || names::repo_file(u.file_name()).is_err() {
        return Err(format!(
            "url `{}` must end in a plain file name (letters, digits, `.`, `_`, `-`)",
            u.url
        ));
    }
    if let Some(sha) = &u.sha256
        && !names::is_sha256(sha)
    {
        return Err(format!(
            "malformed sha256 `{sha}`: expected 64 lowercase hex digits"
        ));
    }
    if let Some(size) = u.size {
        file_size(size)?;
    }
    match u.role.as_deref() {
        None | Some("main") | Some("wdn") => Ok(()),
        Some(r) => Err(format!("role `{r}` must be main or wdn")),
    }
}
