//! Process-wide state of the `prism` command: the global flags every command reads, and signals.
//!
//! Ctrl-C sets a flag that only the signal thread writes; pipelines read it between steps, stop,
//! clean up and return their `Cancelled` error (exit 130). A second Ctrl-C, SIGTERM or SIGHUP
//! does not wait: the children are killed, temporary files deleted, and the process exits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

use prism_media::Limits;

/// The global flags, set once before any command runs.
#[derive(Debug, Clone, Copy)]
pub struct Global {
    pub quiet: bool,
    pub limits: Limits,
}

static GLOBAL: OnceLock<Global> = OnceLock::new();
static INTERRUPTED: LazyLock<Arc<AtomicBool>> = LazyLock::new(Arc::default);

pub fn set(global: Global) {
    let _ = GLOBAL.set(global);
}

fn get() -> Global {
    GLOBAL.get().copied().unwrap_or(Global {
        quiet: false,
        limits: Limits::default(),
    })
}

/// Decoding limits from `--max-pixels`.
pub fn limits() -> Limits {
    get().limits
}

/// Whether `-q` asked for errors only.
pub fn quiet() -> bool {
    get().quiet
}

/// Whether to draw progress bars: not with `-q` or `--no-progress`, and only on a terminal.
pub fn show_progress(no_progress: bool) -> bool {
    use std::io::IsTerminal;
    !no_progress && !quiet() && std::io::stderr().is_terminal()
}

/// Prints a status line on stderr unless `-q` was given.
macro_rules! say {
    ($($arg:tt)*) => {
        if !$crate::global::quiet() {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use say;

/// A command line that cannot work, found after parsing (exit 2, like clap's own errors).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Returns a [`Usage`] error (exit 2) from the enclosing function.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err($crate::global::Usage(format!($($arg)*)).into())
    };
}
pub(crate) use usage;

/// The Ctrl-C flag, for libraries that take one to poll (they only read it).
pub fn interrupt_flag() -> &'static AtomicBool {
    &INTERRUPTED
}

/// The same flag, shared, for libraries that keep it.
pub fn interrupt_shared() -> Arc<AtomicBool> {
    Arc::clone(&INTERRUPTED)
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// `Err(Cancelled)` once Ctrl-C was pressed: for steps that cannot stop halfway, before their
/// result is written.
pub fn check_interrupted() -> Result<(), prism_media::Error> {
    if interrupted() {
        return Err(prism_media::Error::Cancelled);
    }
    Ok(())
}

/// First Ctrl-C: stop gracefully. Returns false when it is not the first.
fn first_interrupt() -> bool {
    let first = !INTERRUPTED.swap(true, Ordering::SeqCst);
    if first {
        eprintln!("interrupted: stopping after the current step (Ctrl-C again to quit at once)");
    }
    first
}

/// Routes SIGINT, SIGTERM and SIGHUP (Ctrl-C and Ctrl-Break elsewhere) as the module says.
pub fn install_signal_handlers() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(signals) => signals,
            Err(e) => {
                tracing::warn!("cannot handle signals ({e}): Ctrl-C will stop at once");
                return;
            }
        };
        std::thread::spawn(move || {
            for signal in signals.forever() {
                if signal == SIGINT && first_interrupt() {
                    continue;
                }
                eprintln!("stopping now: temporary files removed, nothing half-written left");
                prism_media::cleanup::abort(128 + signal);
            }
        });
    }
    #[cfg(not(unix))]
    {
        let _ = ctrlc::set_handler(|| {
            if !first_interrupt() {
                prism_media::cleanup::abort(crate::exit::INTERRUPTED);
            }
        });
    }
}
