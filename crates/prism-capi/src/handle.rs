//! Opaque handles: boxed on creation, locked for each call, dropped on free.

use std::sync::Mutex;

use crate::error::{Failure, PrismStatus, Result};

/// A handle type: a lock around the library object.
pub trait Handle: Sized {
    type Inner;
    fn lock(&self) -> &Mutex<Self::Inner>;

    /// Runs `f` on the object behind `handle`, holding its lock.
    ///
    /// # Safety
    /// `handle` is NULL or a live handle of this type.
    unsafe fn with<T>(
        handle: *mut Self,
        f: impl FnOnce(&mut Self::Inner) -> Result<T>,
    ) -> Result<T> {
        let handle =
            unsafe { handle.as_ref() }.ok_or_else(|| Failure::invalid("handle is NULL"))?;
        let mut inner = handle.lock().lock().map_err(|_| Failure {
            status: PrismStatus::Internal,
            message: "the handle is unusable after an earlier internal error; free it".into(),
        })?;
        f(&mut inner)
    }
}

/// A new handle owning `value`.
pub fn create<H>(value: H) -> *mut H {
    Box::into_raw(Box::new(value))
}

/// Drops a handle (NULL: nothing). Never unwinds.
///
/// # Safety
/// `handle` is NULL or came from [`create`] and is not used afterwards.
pub unsafe fn destroy<H>(handle: *mut H) {
    if handle.is_null() {
        return;
    }
    let boxed = unsafe { Box::from_raw(handle) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(boxed)));
}
