//! Progress callbacks: a Python callable `callback(done, total)` called between steps (tiles,
//! frames, optimiser steps) with the GIL taken back briefly. Returning `False` or raising stops
//! the run; so does Ctrl-C (Python's pending signals are checked at every step).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use pyo3::types::PyBool;

/// One run's callback, cancellation flag and the exception that stopped it.
pub struct Progress {
    callback: Option<Py<PyAny>>,
    cancel: AtomicBool,
    error: Mutex<Option<PyErr>>,
}

impl Progress {
    pub fn new(callback: Option<Bound<'_, PyAny>>) -> Progress {
        Progress {
            callback: callback.filter(|c| !c.is_none()).map(Bound::unbind),
            cancel: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    /// The flag a library polls between steps.
    pub fn flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// Whether the run should stop.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Reports `done` of `total` (may be called without the GIL); false once the run should stop.
    pub fn report(&self, done: u64, total: u64) -> bool {
        if self.cancelled() {
            return false;
        }
        Python::attach(|py| {
            if let Err(e) = py.check_signals() {
                return self.stop(Some(e));
            }
            let Some(callback) = &self.callback else {
                return true;
            };
            match callback.call1(py, (done, total)) {
                Ok(answer) => {
                    let answer = answer.bind(py);
                    if answer.is_instance_of::<PyBool>() && !answer.is_truthy().unwrap_or(true) {
                        return self.stop(None);
                    }
                    true
                }
                Err(e) => self.stop(Some(e)),
            }
        })
    }

    fn stop(&self, error: Option<PyErr>) -> bool {
        if let Some(e) = error {
            *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
        self.cancel.store(true, Ordering::SeqCst);
        false
    }

    /// The run's result, or the exception the callback raised (or Ctrl-C's KeyboardInterrupt),
    /// which takes the place of the library's `Cancelled`.
    pub fn finish<T>(self, result: PyResult<T>) -> PyResult<T> {
        match self.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(e),
            None => result,
        }
    }
}
