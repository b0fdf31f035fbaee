//! The boundary helpers every export uses: panic catching, error mapping, and argument checks that
//! turn NULL pointers and invalid UTF-8 into `HW_ERROR_KIND_INVALID_ARGUMENT` errors.

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use hw::error::{check_range, MAX_COUNT};
use hw::{Compression, Error, Result};

use crate::error::hw_error;

/// The boundary of every fallible export: runs `f` inside the shared runtime's context, maps its
/// error, catches panics.
///
/// The runtime context is entered because some core futures create tokio timers on the polling
/// thread (e.g. the connect and TLS handshake timeouts of `client::connection`), which panic ("no
/// reactor running") on a plain C thread otherwise.
pub(crate) fn guard(f: impl FnOnce() -> Result<()>) -> *mut hw_error {
    guard_send(|| {
        let _rt = hw::runtime::get().enter();
        f()
    })
}

/// [`guard`] without entering the runtime, for the per-record send functions: entering costs an
/// `Arc` clone and drop of the runtime handle plus thread-local bookkeeping per call, and the send
/// path needs no context (enqueueing is synchronous; a full queue waits through
/// `hw::runtime::block_on`, whose timer is created inside the runtime by `hw::runtime::timeout`).
/// Also for `hw_shutdown`, which must not start a runtime.
pub(crate) fn guard_send(f: impl FnOnce() -> Result<()>) -> *mut hw_error {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(e)) => hw_error::into_raw(&e),
        Err(p) => hw_error::into_raw(&Error::from_panic(&*p, "C")),
    }
}

/// [`guard`] for an export whose one output is `out`: `*out = f()` on success. `out` is checked
/// first, so `f` never creates something that could not be handed over.
pub(crate) unsafe fn guard_out<T>(out: *mut T, f: impl FnOnce() -> Result<T>) -> *mut hw_error {
    guard(|| {
        let out = out_arg(out, "out")?;
        *out = f()?;
        Ok(())
    })
}

/// The boundary of infallible exports: a panic yields `fallback`.
pub(crate) fn guard_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// An infallible accessor of `*p`: `f(&*p)`, or `null` for NULL (and for a panic).
pub(crate) unsafe fn get<T, R: Copy>(p: *const T, null: R, f: impl FnOnce(&T) -> R) -> R {
    guard_or(null, || p.as_ref().map_or(null, f))
}

/// A new object handed to C; [`free_with`] takes it back.
pub(crate) fn boxed<T>(v: T) -> *mut T {
    Box::into_raw(Box::new(v))
}

/// The `*_free` functions: NULL is fine; `f` gets the object to drop.
pub(crate) unsafe fn free_with<T>(p: *mut T, f: impl FnOnce(Box<T>)) {
    guard_or((), || {
        if !p.is_null() {
            f(Box::from_raw(p))
        }
    })
}

/// A C string of `s` for C to read: an embedded NUL (which C cannot see past) becomes U+FFFD.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

/// A caller's context pointer, passed back to its callbacks from library threads.
pub(crate) struct Ctx(pub(crate) *mut c_void);
// SAFETY: the caller hands `ctx` to the library to be passed back from a library thread; the
// header says so (the C side is responsible for making what it points to usable there).
unsafe impl Send for Ctx {}
unsafe impl Sync for Ctx {}

pub(crate) unsafe fn arg<'a, T>(p: *const T, name: &str) -> Result<&'a T> {
    p.as_ref()
        .ok_or_else(|| Error::invalid(format!("`{name}` must not be NULL")))
}

pub(crate) unsafe fn out_arg<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T> {
    p.as_mut()
        .ok_or_else(|| Error::invalid(format!("`{name}` (an output) must not be NULL")))
}

pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    CStr::from_ptr(arg(p, name)?)
        .to_str()
        .map_err(|_| Error::invalid(format!("`{name}` is not valid UTF-8")))
}

/// `(p, n)` as a slice; `p` may be NULL only when `n` is 0.
pub(crate) unsafe fn slice_arg<'a, T>(
    p: *const T,
    n: usize,
    name: &str,
    n_name: &str,
) -> Result<&'a [T]> {
    match (p.is_null(), n) {
        (_, 0) => Ok(&[]),
        (true, _) => Err(Error::invalid(format!(
            "`{name}` is NULL but `{n_name}` is {n}"
        ))),
        (false, _) => Ok(std::slice::from_raw_parts(p, n)),
    }
}

/// `n` key/value pairs from parallel arrays of C strings. The arrays may be NULL only when `n` is 0;
/// no element may be NULL.
pub(crate) unsafe fn pairs_arg<'a>(
    keys: *const *const c_char,
    values: *const *const c_char,
    n: usize,
) -> Result<Vec<(&'a str, &'a str)>> {
    let keys = slice_arg(keys, n, "keys", "n")?;
    let values = slice_arg(values, n, "values", "n")?;
    let at = |p, what, i| str_arg(p, &format!("{what}[{i}]"));
    (keys.iter().zip(values).enumerate())
        .map(|(i, (&k, &v))| Ok((at(k, "keys", i)?, at(v, "values", i)?)))
        .collect()
}

/// Item `index` of a list C reads by index (records, topics, SPUs); `what` names the items.
pub(crate) fn item<'a, T>(items: &'a [T], index: usize, what: &str) -> Result<&'a T> {
    items.get(index).ok_or_else(|| {
        Error::invalid(format!(
            "index {index} is out of range (there are {} {what})",
            items.len()
        ))
    })
}

/// The `*_list_get` functions: a copy of item `index` of `items(list)` in `*out`.
pub(crate) unsafe fn list_get<L, T: Copy>(
    list: *const L,
    index: usize,
    out: *mut T,
    items: impl FnOnce(&L) -> &[T],
    what: &str,
) -> *mut hw_error {
    guard(|| {
        let items = items(arg(list, "list")?);
        *out_arg(out, "out")? = *item(items, index, what)?;
        Ok(())
    })
}

/// A `#[repr(C)]` struct of the same-named fields of a core struct (the stats).
macro_rules! copy_fields {
    ($src:expr => $ty:ident { $($f:ident),* $(,)? }) => {{
        let s = $src;
        $ty { $($f: s.$f),* }
    }};
}
pub(crate) use copy_fields;

/// A partition index as every language checks it (0 to 2147483647, core's range rule); one at or
/// past the topic's partition count is core's `HW_ERROR_KIND_UNKNOWN_PARTITION`.
pub(crate) fn partition_index(partition: u32) -> Result<u32> {
    check_range("partition", partition.into(), 0, MAX_COUNT)?;
    Ok(partition)
}

/// The name of a codec (`"none"`, `"gzip"`, ...), NUL-terminated, static storage.
pub(crate) fn codec_name(c: Compression) -> *const c_char {
    c.name_cstr().as_ptr()
}

/// A test hook, not declared in the header (cbindgen.toml excludes it): panics inside the boundary,
/// so tests can check that a panic becomes an `HW_ERROR_KIND_INTERNAL` error instead of unwinding
/// into C. Tests declare it themselves: `hw_error *hw_debug_panic(void);`.
#[no_mangle]
pub extern "C" fn hw_debug_panic() -> *mut hw_error {
    guard(|| panic!("hw_debug_panic: a panic on purpose"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{hw_error_free, hw_error_kind, hw_error_message, hw_error_number};

    #[test]
    fn panics_become_internal_errors() {
        // A `&str` and a `String` payload: each message is kept.
        for (e, what) in [
            (guard(|| panic!("boom")), "boom"),
            (guard(|| panic!("{}", 7)), "7"),
        ] {
            unsafe {
                assert_eq!(hw_error_number(e), hw_error_kind::Internal as i32);
                let msg = CStr::from_ptr(hw_error_message(e)).to_str().unwrap();
                assert!(msg.contains(&format!("binding: {what})")), "{msg}");
                hw_error_free(e);
            }
        }
        assert_eq!(guard_or(7, || panic!("x")), 7);
    }
}
