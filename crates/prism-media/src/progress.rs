//! Progress bars with ETA and throughput (pixels, frames or files per second), on stderr.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// What a progress bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Output pixels; the rate is shown in megapixels per second.
    Pixels,
    Frames,
    Files,
}

/// A progress bar; hidden ones cost nothing, so library code can always report.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar of `total` units on stderr, or a hidden one when `visible` is false (or stderr is not a
    /// terminal: indicatif then draws nothing).
    pub fn new(total: u64, unit: Unit, label: &str, visible: bool) -> Progress {
        let bar = if visible {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let rate = match unit {
            Unit::Pixels => "{mpx}",
            Unit::Frames => "{per_sec:.1} fps",
            Unit::Files => "{per_sec:.2} files/s",
        };
        let count = match unit {
            Unit::Pixels => "{percent}%",
            _ => "{pos}/{len}",
        };
        let template = format!(
            "{{prefix}} [{{elapsed_precise}}] {{wide_bar}} {count} {rate} ETA {{eta}} {{msg}}"
        );
        let style = ProgressStyle::with_template(&template)
            .expect("valid template")
            .with_key(
                "mpx",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.2} MP/s", state.per_sec() / 1e6);
                },
            );
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar }
    }

    /// A bar that draws nothing.
    pub fn hidden() -> Progress {
        Progress {
            bar: ProgressBar::hidden(),
        }
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn set_position(&self, n: u64) {
        self.bar.set_position(n);
    }

    pub fn set_length(&self, n: u64) {
        self.bar.set_length(n);
    }

    pub fn set_message(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// Prints a line above the bar (warnings, per-file failures) without breaking it.
    pub fn println(&self, line: impl AsRef<str>) {
        if self.bar.is_hidden() {
            eprintln!("{}", line.as_ref());
        } else {
            self.bar.println(line);
        }
    }

    pub fn finish(&self) {
        self.bar.finish();
    }
}
