//! The C ABI of Headwater (`include/headwater.h`, generated from these sources by cbindgen).
//!
//! This layer only converts arguments, calls the core crate (`hw` here) and maps errors. Conventions,
//! kept by every exported function:
//!
//! - Fallible functions return `hw_error *`: `NULL` on success, otherwise an error the caller owns and
//!   frees with `hw_error_free`.
//! - Every pointer argument is checked: `NULL` where a value is required is an
//!   `HW_ERROR_KIND_INVALID_ARGUMENT` error, never a crash.
//! - Panics are caught at the boundary and become `HW_ERROR_KIND_INTERNAL` errors.
//! - Output parameters are written only on success.
//! - The library copies what it needs: caller buffers may be reused as soon as a call returns.
#![allow(non_camel_case_types)]
// Every `unsafe extern "C"` function documents its pointer contract in its doc comment (copied into
// the header); the checks that can be made (NULL) are made.
#![allow(clippy::missing_safety_doc)]

// cbindgen writes items in the order it meets them: the modules stay in header order (blank lines
// keep rustfmt from sorting them). Public, so that what C uses is not dead code to rustc.
pub mod ffi;

pub mod error;

pub mod config;

pub mod broker;

pub mod admin;

pub mod producer;

pub mod log;

pub mod runtime;

/// The library version (`"0.1.0"`). Static storage: never free it.
#[no_mangle]
pub extern "C" fn hw_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
