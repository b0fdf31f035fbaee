//! The boundary helpers every export uses: panic catching, error mapping, and argument checks that
//! turn NULL pointers and invalid UTF-8 into `HW_ERROR_KIND_INVALID_ARGUMENT` errors.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use hw::error::{check_range, MAX_COUNT};
use hw::{Compression, Error, ErrorKind};

use crate::error::hw_error;

pub(crate) type Result<T> = std::result::Result<T, Error>;

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}

fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::internal(format!("panic caught at the C boundary: {what}"))
}

/// The boundary of every fallible export: runs `f` inside the shared runtime's context, maps its
/// error, catches panics.
///
/// The runtime context is entered because some core futures create tokio timers on the polling
/// thread (e.g. the connect and TLS handshake timeouts of `client::connection`), which panic ("no
/// reactor running") on a plain C thread otherwise.
pub(crate) fn guard(f: impl FnOnce() -> Result<()>) -> *mut hw_error {
    match catch_unwind(AssertUnwindSafe(|| {
        let _rt = hw::runtime::get().enter();
        f()
    })) {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(e)) => hw_error::into_raw(&e),
        Err(p) => hw_error::into_raw(&panic_error(p)),
    }
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
        Err(p) => hw_error::into_raw(&panic_error(p)),
    }
}

/// The boundary of infallible exports: a panic yields `fallback`.
pub(crate) fn guard_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

pub(crate) unsafe fn arg<'a, T>(p: *const T, name: &str) -> Result<&'a T> {
    p.as_ref()
        .ok_or_else(|| invalid(format!("`{name}` must not be NULL")))
}

pub(crate) unsafe fn out_arg<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T> {
    p.as_mut()
        .ok_or_else(|| invalid(format!("`{name}` (an output) must not be NULL")))
}

pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(invalid(format!("`{name}` must not be NULL")));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|_| invalid(format!("`{name}` is not valid UTF-8")))
}

/// `(ptr, len)` as bytes; NULL is allowed only with `len == 0`.
pub(crate) unsafe fn bytes_arg<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if p.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(invalid(format!("`{name}` is NULL but its length is {len}")));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// `n` key/value pairs from parallel arrays of C strings. The arrays may be NULL only when `n` is 0;
/// no element may be NULL.
pub(crate) unsafe fn pairs_arg<'a>(
    keys: *const *const c_char,
    values: *const *const c_char,
    n: usize,
) -> Result<Vec<(&'a str, &'a str)>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if keys.is_null() || values.is_null() {
        let which = if keys.is_null() { "keys" } else { "values" };
        return Err(invalid(format!("`{which}` is NULL but `n` is {n}")));
    }
    let (keys, values) = (
        std::slice::from_raw_parts(keys, n),
        std::slice::from_raw_parts(values, n),
    );
    keys.iter()
        .zip(values)
        .enumerate()
        .map(|(i, (&k, &v))| {
            let k = str_arg(k, &format!("keys[{i}]"))?;
            let v = str_arg(v, &format!("values[{i}]"))?;
            Ok((k, v))
        })
        .collect()
}

/// A partition index as every language checks it (0 to 2147483647, core's range rule); one at or
/// past the topic's partition count is core's `HW_ERROR_KIND_UNKNOWN_PARTITION`.
pub(crate) fn partition_index(partition: u32) -> Result<u32> {
    check_range("partition", partition.into(), 0, MAX_COUNT)?;
    Ok(partition)
}

/// The name of a codec (`"none"`, `"gzip"`, ...), NUL-terminated, static storage.
pub(crate) fn codec_name(c: Compression) -> *const c_char {
    // TODO(core): a `CStr` form of `Compression::name` (as `ErrorKind::code_cstr`) would replace this.
    let s: &'static CStr = match c {
        Compression::None => c"none",
        Compression::Gzip => c"gzip",
        Compression::Snappy => c"snappy",
        Compression::Lz4 => c"lz4",
        Compression::Zstd => c"zstd",
    };
    s.as_ptr()
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
        let e = hw_debug_panic();
        unsafe {
            assert_eq!(hw_error_number(e), hw_error_kind::Internal as i32);
            hw_error_free(e);
        }
        let e = guard(|| panic!("boom"));
        unsafe {
            assert_eq!(hw_error_number(e), hw_error_kind::Internal as i32);
            let msg = CStr::from_ptr(hw_error_message(e)).to_str().unwrap();
            assert!(msg.contains("boom"), "{msg}");
            hw_error_free(e);
        }
        assert_eq!(guard_or(7, || panic!("x")), 7);
    }
}
