//! Exit codes: the one place errors become them. Each library error says its kind
//! (`prism_core::ErrorKind`), and the kind its code (`ErrorKind::exit_code`, the README's table).

use prism_core::ErrorKind;

/// Bad command line.
pub const USAGE: i32 = prism_core::ErrorKind::Usage.exit_code();
/// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: i32 = prism_core::ErrorKind::Cancelled.exit_code();

/// The code for whichever error ended the command (1 for anything not in the table).
pub fn code(error: &anyhow::Error) -> i32 {
    if error.downcast_ref::<crate::global::Usage>().is_some() {
        return USAGE;
    }
    kind(error).map_or(1, ErrorKind::exit_code)
}

/// The kind of a library error inside `error`.
fn kind(error: &anyhow::Error) -> Option<ErrorKind> {
    if let Some(e) = error.downcast_ref::<prism_core::Error>() {
        return Some(e.kind());
    }
    if let Some(e) = error.downcast_ref::<prism_media::Error>() {
        return Some(e.kind());
    }
    if let Some(e) = error.downcast_ref::<prism_upscale::Error>() {
        return Some(e.kind());
    }
    if let Some(e) = error.downcast_ref::<prism_interpolate::Error>() {
        return Some(e.kind());
    }
    if let Some(e) = error.downcast_ref::<prism_style::Error>() {
        return Some(e.kind());
    }
    if let Some(e) = error.downcast_ref::<prism_serve::Error>() {
        return Some(e.kind());
    }
    error
        .downcast_ref::<prism_hub::Error>()
        .map(prism_hub::Error::kind)
}
