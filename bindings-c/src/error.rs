//! Errors: the `hw_error` type, its accessors (code, number, message, retriability, Fluvio code)
//! and the `hw_error_kind` numbers.

use std::ffi::{c_char, CString};
use std::ptr;

use hw::{Error, ErrorKind};

use crate::ffi::{boxed, c_string, free_with, get, guard_or};

/// The kind of an error: one value per core `ErrorKind`, with the numbers of
/// `tests/vectors/errors.json` (stable across releases).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum hw_error_kind {
    /// Not an error (what `hw_error_number(NULL)` returns).
    Ok = 0,
    /// An invalid configuration key or value; the message names the key.
    Config = 1,
    /// A wait ran past its deadline (retriable).
    Timeout = 2,
    /// The partition's queue stayed full for `send_timeout_ms`.
    QueueFull = 3,
    /// A record larger than `max_request_size`.
    RecordTooLarge = 4,
    /// The topic does not exist.
    UnknownTopic = 5,
    /// The topic has no such partition.
    UnknownPartition = 6,
    /// A codec failed, or the topic's compression policy forbids the codec.
    Compression = 7,
    /// The connection failed or dropped (retriable).
    Transport = 8,
    /// A peer sent bytes that do not decode.
    Protocol = 9,
    /// The broker answered with a Fluvio error code (`hw_error_broker_code`); retriability follows it.
    Broker = 10,
    /// The producer (or broker) was closed.
    Closed = 11,
    /// The object was created before `fork()` and cannot be used in the child.
    Forked = 12,
    /// A bad argument: a NULL pointer, invalid UTF-8, a call that is not allowed here.
    InvalidArgument = 13,
    /// A bug: a panic caught at the C boundary, a broken invariant.
    Internal = 14,
}

/// An error (opaque). Created by the library; read it with `hw_error_code`, `hw_error_number`,
/// `hw_error_message`, `hw_error_is_retriable` and `hw_error_broker_code`; free it with
/// `hw_error_free` unless the function that handed it to you says the library owns it (delivery
/// callbacks).
pub struct hw_error {
    kind: ErrorKind,
    message: CString,
}

impl hw_error {
    pub(crate) fn new(e: &Error) -> hw_error {
        // Display = "[CODE] message" (broker errors also carry the Fluvio code and its name).
        hw_error {
            kind: e.kind,
            message: c_string(&e.to_string()),
        }
    }
    pub(crate) fn into_raw(e: &Error) -> *mut hw_error {
        boxed(hw_error::new(e))
    }
}

/// The stable code string of `err` (`"CONFIG"`, `"QUEUE_FULL"`, ... as in every language; `"OK"`
/// for NULL). Static storage: never free it.
#[no_mangle]
pub unsafe extern "C" fn hw_error_code(err: *const hw_error) -> *const c_char {
    hw_error_code_name(hw_error_number(err))
}

/// The stable number of `err`: an `hw_error_kind` value (`HW_ERROR_KIND_OK`, 0, for NULL).
#[no_mangle]
pub unsafe extern "C" fn hw_error_number(err: *const hw_error) -> i32 {
    guard_or(hw_error_kind::Internal as i32, || {
        err.as_ref().map_or(0, |e| e.kind.number())
    })
}

/// The message of `err`: NUL-terminated UTF-8 (it starts with the code, e.g. `[CONFIG] ...`).
/// Owned by `err`: valid until `err` is freed. Returns NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_error_message(err: *const hw_error) -> *const c_char {
    get(err, ptr::null(), |e| e.message.as_ptr())
}

/// Whether retrying the failed operation may succeed (transport errors, timeouts, retriable Fluvio
/// codes). False for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_error_is_retriable(err: *const hw_error) -> bool {
    get(err, false, |e| e.kind.is_retriable())
}

/// The Fluvio error code of an `HW_ERROR_KIND_BROKER` error; 0 for other kinds and for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_error_broker_code(err: *const hw_error) -> i16 {
    get(err, 0, |e| match e.kind {
        ErrorKind::Broker(code) => code,
        _ => 0,
    })
}

/// The stable code string of an error number (an `hw_error_kind` value): `"CONFIG"` for
/// `HW_ERROR_KIND_CONFIG`, ..., `"OK"` for `HW_ERROR_KIND_OK`. Static storage: never free it. NULL
/// for a number outside the enum.
#[no_mangle]
pub extern "C" fn hw_error_code_name(number: i32) -> *const c_char {
    guard_or(ptr::null(), || match number {
        0 => c"OK".as_ptr(),
        n => ErrorKind::from_number(n.into()).map_or(ptr::null(), |k| k.code_cstr().as_ptr()),
    })
}

/// Frees an error returned by any `hw_*` function. NULL is fine. Must not be called twice on the
/// same error, nor on the `const hw_error *` a delivery callback receives (the library owns that).
#[no_mangle]
pub unsafe extern "C" fn hw_error_free(err: *mut hw_error) {
    free_with(err, drop)
}
