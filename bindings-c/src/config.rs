//! Producer configuration: `hw_config`, set key by key from strings.

use std::ffi::c_char;
use std::ptr;

use hw::ProducerConfig;

use crate::error::hw_error;
use crate::ffi::{boxed, free_with, guard, guard_or, out_arg, str_arg};

/// Producer configuration (opaque): the defaults of the configuration table (README, `tests/vectors/config.json`), changed key by key with
/// `hw_config_set`. Create with `hw_config_new`, free with `hw_config_free`.
#[derive(Default)]
pub struct hw_config {
    pub(crate) inner: ProducerConfig,
}

/// A new configuration holding the defaults. The caller owns it: free it with `hw_config_free`
/// (connecting a producer copies it, so it may be freed right after). NULL only if out of memory.
#[no_mangle]
pub extern "C" fn hw_config_new() -> *mut hw_config {
    guard_or(ptr::null_mut(), || boxed(hw_config::default()))
}

/// Sets one key (snake_case or camelCase, e.g. `"linger_ms"` / `"lingerMs"`) from its string form
/// (`"10"`, `"gzip"`, ...). An unknown key or a bad value is an `HW_ERROR_KIND_CONFIG` error naming
/// the key, and leaves `cfg` unchanged. `key` and `value` are borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn hw_config_set(
    cfg: *mut hw_config,
    key: *const c_char,
    value: *const c_char,
) -> *mut hw_error {
    guard(|| {
        let cfg = out_arg(cfg, "cfg")?;
        let key = str_arg(key, "key")?;
        let value = str_arg(value, "value")?;
        // Parse into a copy so a failed set leaves the configuration as it was.
        let mut next = cfg.inner.clone();
        next.set(key, value)?;
        cfg.inner = next;
        Ok(())
    })
}

/// Frees a configuration. NULL is fine. Must not be called twice on the same pointer.
#[no_mangle]
pub unsafe extern "C" fn hw_config_free(cfg: *mut hw_config) {
    free_with(cfg, drop)
}
