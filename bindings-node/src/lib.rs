//! Node.js binding for Headwater (napi-rs): it converts arguments, calls the Rust core and maps
//! errors; every behaviour lives in `core/`. `index.js` loads this addon and adds what is JavaScript
//! by nature (`HeadwaterError`, the outputs of `send`), handing it to `__setup`.
//!
//! `js`: Node-API helpers and argument checks; `rt`: promises settled from core's threads and the
//! entry-point guards; `producer`, `broker`: the classes; `waiting`: pending `sendAll`s by ticket.

#![allow(clippy::missing_safety_doc)]

mod broker;
mod js;
mod producer;
mod rt;
mod waiting;

use std::sync::Arc;

use headwater::logging::{self, Level};
use napi::bindgen_prelude::{FnArgs, FromNapiValue, Function, Unknown};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{sys, Env, JsValue, Result};
use napi_derive::napi;

pub use broker::{Admin, TestBroker};
pub use producer::Producer;

#[napi_derive::module_init]
fn init() {
    logging::install();
}

/// Registers what index.js adds, one value per `rt::Slot` in its order: `[HeadwaterError,
/// metadataFactory, nativeKey, register, state, settle, output]`. Returns
/// [`producer::fast_functions`].
#[napi(js_name = "__setup", skip_typescript)]
pub fn setup(env: Env, values: Vec<Unknown>) -> Result<Vec<sys::napi_value>> {
    let env = env.raw();
    let values: Vec<_> = values.iter().map(Unknown::raw).collect();
    rt::keep(env, &values)?;
    waiting::set_register(env, values[rt::Slot::Register as usize])?;
    Ok(producer::fast_functions(env)?.to_vec())
}

/// For the shared error vectors: the error a core failure with code `code` (or of Fluvio error code
/// `fluvioCode`) becomes in JS.
#[napi(js_name = "__errorForTests", skip_typescript)]
pub fn error_for_tests(
    env: Env,
    code: String,
    fluvio_code: Option<i32>,
) -> Result<sys::napi_value> {
    let e = match (fluvio_code, headwater::ErrorKind::from_code(&code)) {
        (Some(c), _) => headwater::Error::from_code(
            &headwater::protocol::ErrorCode::from_code(c as i16),
            "test",
        ),
        (None, Some(kind)) => headwater::Error::new(kind, "test"),
        (None, None) => return Err(napi::Error::from_reason(format!("unknown code {code}"))),
    };
    Ok(rt::error_value(env.raw(), &e))
}

/// For the panic-safety test: panics inside an entry point (`'sync'`: the call throws) or inside
/// its background work (`'async'`: the promise rejects); either way an `INTERNAL` error.
#[napi(js_name = "__debugPanic", skip_typescript)]
pub fn debug_panic(env: Env, mode: Unknown) -> Result<sys::napi_value> {
    let mode = js::get_string(env.raw(), Some(mode.raw()), "mode");
    let work = || -> headwater::Result<()> { panic!("debugPanic") };
    match mode.as_deref() {
        Ok("async") => rt::blocking(env, |_| Ok(work), rt::void),
        _ => rt::sync_in(env, |_| panic!("debugPanic")),
    }
}

/// Routes core's log lines to `logger(level, target, message)` (called from the event loop; it never
/// keeps the process alive), at `level` and more severe (default: the current level, i.e.
/// `HEADWATER_LOG`'s, else `'warn'`). `null` restores the default: warnings and errors on stderr.
/// An unknown level name is a `CONFIG` error naming `log_level`; anything but a name is
/// `INVALID_ARGUMENT`.
#[napi(
    ts_args_type = "logger: ((level: 'error' | 'warn' | 'info' | 'debug' | 'trace', target: string, message: string) => void) | null, level?: 'off' | 'error' | 'warn' | 'info' | 'debug' | 'trace'"
)]
pub fn set_logger(env: Env, logger: js::Arg, level: js::Arg) -> Result<()> {
    rt::sync_in(env, |env| {
        let f = js::get_function(env, js::raw(&logger), "logger")?;
        let level = match js::some(env, js::raw(&level))? {
            None => logging::current_level(),
            Some(v) if js::type_of(env, v)? == sys::ValueType::napi_string => {
                logging::parse_level(&js::get_string(env, Some(v), "level")?)?
            }
            v => {
                let got = js::type_name(env, v);
                return js::invalid(format!(
                    "`level` must be 'off', 'error', 'warn', 'info', 'debug' or 'trace', got {got}"
                ));
            }
        };
        let Some(f) = f else {
            logging::clear_sink();
            return Ok(());
        };
        type Line = FnArgs<(&'static str, String, String)>;
        let f = unsafe { Function::<Line, ()>::from_napi_value(env, f) }?;
        // Weak: a logger never keeps the process alive.
        let tsfn = f
            .build_threadsafe_function()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        logging::set_sink(
            level,
            Arc::new(move |l: tracing::Level, target: &str, msg: &str| {
                let line = (Level::from(l).name(), target.to_string(), msg.to_string());
                tsfn.call(line.into(), ThreadsafeFunctionCallMode::NonBlocking);
            }),
        );
        Ok(())
    })
}
