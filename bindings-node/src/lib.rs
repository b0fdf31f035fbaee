//! Node.js binding for Headwater (napi-rs). It converts arguments, calls the Rust core and maps
//! errors; every behaviour lives in `core/`. `index.js` loads this addon and adds `HeadwaterError`.
//!
//! - `js`: raw Node-API helpers (argument checks that raise real `TypeError`s).
//! - `rt`: promises settled from core's threads through one unref'd threadsafe function per env.
//! - `producer`, `broker`: the classes.
//! - `waiting`: pending sends by ticket, so that awaiting a send's promise sends its batch now.

#![allow(clippy::missing_safety_doc)]

mod broker;
mod js;
mod producer;
mod rt;
mod waiting;

use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsValue, Result};
use napi_derive::napi;

pub use broker::{Admin, TestBroker};
pub use producer::Producer;

#[napi_derive::module_init]
fn init() {
    headwater::logging::install();
}

/// Registers the JS `HeadwaterError` class, so core errors reach JS as its instances (index.js).
#[napi(js_name = "__setErrorClass", skip_typescript)]
pub fn set_error_class(env: Env, class: Unknown) -> Result<()> {
    rt::set_error_class(env.raw(), class.raw())
}

/// Registers the bulk `RecordMetadata` builder (index.js).
#[napi(js_name = "__setMetadataFactory", skip_typescript)]
pub fn set_metadata_factory(env: Env, f: Unknown) -> Result<()> {
    rt::set_metadata_factory(env.raw(), f.raw())
}

/// The fast `[send(id, key, value, options), sendAll(id, values, valueLengths, keys, keyLengths),
/// sendAllList(id, records), sendNow(n)]` functions; `key` is the symbol under which each `Producer`
/// carries its id, `register` the `Float64Array` shared with index.js: the sends leave each promise's
/// ticket in element 0, `sendNow(n)` reads the `n` tickets queued after it (index.js installs them on
/// `Producer.prototype`).
#[napi(js_name = "__fastFunctions", skip_typescript)]
pub fn fast_functions(env: Env, key: Unknown, register: Unknown) -> Result<sys::napi_value> {
    let env = env.raw();
    rt::set_native_key(env, key.raw())?;
    waiting::set_register(env, register.raw())?;
    let fs = producer::fast_functions(env)?;
    let arr = js::array(env, fs.len())?;
    for (i, f) in fs.into_iter().enumerate() {
        js::set_element(env, arr, i as u32, f)?;
    }
    Ok(arr)
}

/// For the shared error vectors: the error a core failure of `kind` (or of Fluvio error code
/// `fluvioCode`) becomes in JS.
#[napi(js_name = "__errorForTests", skip_typescript)]
pub fn error_for_tests(
    env: Env,
    kind: String,
    fluvio_code: Option<i32>,
) -> Result<sys::napi_value> {
    use headwater::ErrorKind::*;
    let e = match fluvio_code {
        Some(c) => headwater::Error::from_code(
            &headwater::protocol::ErrorCode::from_code(c as i16),
            "test",
        ),
        None => {
            let k = match kind.as_str() {
                "Config" => Config,
                "Timeout" => Timeout,
                "QueueFull" => QueueFull,
                "RecordTooLarge" => RecordTooLarge,
                "UnknownTopic" => UnknownTopic,
                "UnknownPartition" => UnknownPartition,
                "Compression" => Compression,
                "Transport" => Transport,
                "Protocol" => Protocol,
                "Broker" => Broker(-1),
                "Closed" => Closed,
                "Forked" => Forked,
                "InvalidArgument" => InvalidArgument,
                "Internal" => Internal,
                other => return Err(napi::Error::from_reason(format!("unknown kind {other}"))),
            };
            headwater::Error::new(k, "test")
        }
    };
    Ok(rt::error_value(env.raw(), &e))
}

struct LogTarget {
    tsfn: Mutex<usize>,
}

impl LogTarget {
    fn close(&self) {
        let mut t = self.tsfn.lock().unwrap();
        if *t != 0 {
            unsafe {
                sys::napi_release_threadsafe_function(
                    *t as sys::napi_threadsafe_function,
                    sys::ThreadsafeFunctionReleaseMode::release,
                )
            };
            *t = 0;
        }
    }
}

static LOGGER: Mutex<Option<Arc<LogTarget>>> = Mutex::new(None);

unsafe extern "C" fn log_call_js(
    env: sys::napi_env,
    f: sys::napi_value,
    _ctx: *mut c_void,
    data: *mut c_void,
) {
    if data.is_null() {
        return;
    }
    let line = unsafe { Box::from_raw(data as *mut (String, String, String)) };
    if env.is_null() || f.is_null() {
        return;
    }
    let args = [
        js::string(env, &line.0),
        js::string(env, &line.1),
        js::string(env, &line.2),
    ];
    let [Ok(a), Ok(b), Ok(c)] = args else { return };
    let mut recv = ptr::null_mut();
    unsafe { sys::napi_get_undefined(env, &mut recv) };
    let argv = [a, b, c];
    let mut out = ptr::null_mut();
    if unsafe { sys::napi_call_function(env, recv, f, 3, argv.as_ptr(), &mut out) }
        != sys::Status::napi_ok
    {
        let mut pending = false;
        unsafe { sys::napi_is_exception_pending(env, &mut pending) };
        if pending {
            let mut ex = ptr::null_mut();
            unsafe { sys::napi_get_and_clear_last_exception(env, &mut ex) };
            unsafe { sys::napi_fatal_exception(env, ex) };
        }
    }
}

unsafe extern "C" fn log_finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    if data.is_null() {
        return;
    }
    let target = unsafe { Arc::from_raw(data as *const LogTarget) };
    *target.tsfn.lock().unwrap() = 0;
}

fn parse_level(s: &str) -> Option<Option<tracing::Level>> {
    Some(match s.to_ascii_lowercase().as_str() {
        "off" | "none" => None,
        "error" => Some(tracing::Level::ERROR),
        "warn" | "warning" => Some(tracing::Level::WARN),
        "info" => Some(tracing::Level::INFO),
        "debug" => Some(tracing::Level::DEBUG),
        "trace" => Some(tracing::Level::TRACE),
        _ => return None,
    })
}

/// Routes core's log lines to `logger(level, target, message)` (called from the event loop; it never
/// keeps the process alive). `level` defaults to `HEADWATER_LOG` if set, else `'info'`. `null`
/// restores the default: warnings and errors on stderr.
#[napi(
    ts_args_type = "logger: ((level: 'error' | 'warn' | 'info' | 'debug' | 'trace', target: string, message: string) => void) | null, level?: 'off' | 'error' | 'warn' | 'info' | 'debug' | 'trace'"
)]
pub fn set_logger(env: Env, logger: Option<Unknown>, level: Option<Unknown>) -> Result<()> {
    let env = env.raw();
    let f = logger.as_ref().map(|v| v.raw());
    let old = LOGGER.lock().unwrap().take();
    if let Some(old) = old {
        old.close();
    }
    if js::is_nullish(env, f)? {
        headwater::logging::clear_sink();
        return Ok(());
    }
    let f = f.unwrap();
    if js::type_of(env, f)? != sys::ValueType::napi_function {
        return Err(js::throw_type_error(
            env,
            &format!(
                "logger must be a function or null, got {}",
                js::type_name(env, f)
            ),
        ));
    }
    let level_s = match level.as_ref().map(|v| v.raw()) {
        v if js::is_nullish(env, v)? => {
            std::env::var("HEADWATER_LOG").unwrap_or_else(|_| "info".into())
        }
        Some(v) => js::get_string(env, Some(v), "level")?
            .map_err(|js::TypeErr(m)| js::throw_type_error(env, &m))?,
        None => "info".into(),
    };
    let Some(level) = parse_level(&level_s) else {
        return Err(js::throw_type_error(
            env,
            &format!("level must be one of off, error, warn, info, debug, trace; got {level_s:?}"),
        ));
    };
    let Some(level) = level else {
        headwater::logging::set_sink(tracing::Level::ERROR, Arc::new(|_, _, _| {}));
        return Ok(());
    };
    let target = Arc::new(LogTarget {
        tsfn: Mutex::new(0),
    });
    let raw = Arc::into_raw(target.clone()) as *mut c_void;
    let name = js::string(env, "headwater.logger")?;
    let mut tsfn = ptr::null_mut();
    js::check(
        unsafe {
            sys::napi_create_threadsafe_function(
                env,
                f,
                ptr::null_mut(),
                name,
                0,
                1,
                raw,
                Some(log_finalize),
                ptr::null_mut(),
                Some(log_call_js),
                &mut tsfn,
            )
        },
        "create threadsafe function",
    )?;
    js::check(
        unsafe { sys::napi_unref_threadsafe_function(env, tsfn) },
        "unref",
    )?;
    *target.tsfn.lock().unwrap() = tsfn as usize;
    *LOGGER.lock().unwrap() = Some(target.clone());
    headwater::logging::set_sink(
        level,
        Arc::new(move |level: tracing::Level, tgt: &str, msg: &str| {
            let t = target.tsfn.lock().unwrap();
            if *t == 0 {
                return;
            }
            let lv = match level {
                tracing::Level::ERROR => "error",
                tracing::Level::WARN => "warn",
                tracing::Level::INFO => "info",
                tracing::Level::DEBUG => "debug",
                _ => "trace",
            };
            let data = Box::into_raw(Box::new((lv.to_string(), tgt.to_string(), msg.to_string())));
            let st = unsafe {
                sys::napi_call_threadsafe_function(
                    *t as sys::napi_threadsafe_function,
                    data.cast(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
            if st != sys::Status::napi_ok {
                drop(unsafe { Box::from_raw(data) });
            }
        }),
    );
    Ok(())
}
