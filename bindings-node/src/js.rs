//! Raw Node-API helpers: reading arguments (a wrong one is core's `INVALID_ARGUMENT`, as in every
//! language) and building values. Everything here runs on the JS thread of one environment.

use std::ptr;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, Unknown};
use napi::{sys, JsValue, Status};

pub type Env = sys::napi_env;
pub type Value = sys::napi_value;

/// An argument of a napi-rs method, taken as is: the `get_*` readers below check it, so that a wrong
/// one gets core's message rather than napi-rs's.
pub type Arg<'a> = Option<Unknown<'a>>;

pub fn raw(v: &Arg<'_>) -> Option<Value> {
    v.as_ref().map(|v| v.raw())
}

/// A `#[napi(object)]` of core's `u64` counters, and its `From` core's struct (JS numbers are exact
/// far beyond any counter). Docs are written `#[doc = " ..."]`: a `///` comment passed through a
/// macro becomes a raw string, which napi-rs's type generator copies with its `r"`.
macro_rules! counters {
    ($(#[$m:meta])* $name:ident from $core:path { $($(#[$fm:meta])* $f:ident,)* }) => {
        $(#[$m])*
        #[napi_derive::napi(object)]
        pub struct $name { $($(#[$fm])* pub $f: i64,)* }

        impl From<$core> for $name {
            fn from(s: $core) -> Self {
                // Exhaustive: a counter core adds and this list lacks is a compile error, not a
                // field JavaScript silently never sees.
                let $core { $($f,)* } = s;
                Self { $($f: $f as i64,)* }
            }
        }
    };
}
pub(crate) use counters;

/// Why an entry point failed: a core error (wrong arguments are `INVALID_ARGUMENT`), or a Node-API
/// failure (then often a JavaScript exception is pending, e.g. thrown by an options getter).
pub enum Fail {
    Core(headwater::Error),
    Napi(napi::Error),
}

pub type Res<T> = std::result::Result<T, Fail>;

impl From<napi::Error> for Fail {
    fn from(e: napi::Error) -> Fail {
        Fail::Napi(e)
    }
}

impl From<headwater::Error> for Fail {
    fn from(e: headwater::Error) -> Fail {
        Fail::Core(e)
    }
}

/// A wrong argument.
pub fn invalid<T>(msg: impl Into<String>) -> Res<T> {
    Err(Fail::Core(headwater::Error::invalid(msg)))
}

/// A JavaScript exception is pending; napi-rs must not throw another one.
pub fn pending() -> napi::Error {
    napi::Error::new(Status::PendingException, "")
}

/// Calls the Node-API function `f(args)`: a failure status becomes an error naming `f`.
macro_rules! napi_call {
    ($f:ident($($arg:expr),* $(,)?)) => {
        $crate::js::check(unsafe { napi::sys::$f($($arg),*) }, stringify!($f))
    };
}
pub(crate) use napi_call;

pub fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            Status::from(status),
            format!("Node-API call failed: {what}"),
        ))
    }
}

/// A new reference to `v`, as a number: what holds one may cross threads, while the reference
/// itself is used only on the JS thread of its environment.
pub fn new_ref(env: Env, v: Value) -> napi::Result<usize> {
    let mut r = ptr::null_mut();
    napi_call!(napi_create_reference(env, v, 1, &mut r))?;
    Ok(r as usize)
}

/// The value of reference `r` (`None`: 0, or the value is gone).
pub fn ref_value(env: Env, r: usize) -> napi::Result<Option<Value>> {
    if r == 0 {
        return Ok(None);
    }
    let mut v = ptr::null_mut();
    napi_call!(napi_get_reference_value(env, r as sys::napi_ref, &mut v))?;
    Ok((!v.is_null()).then_some(v))
}

/// Deletes reference `r` (0: none).
pub fn drop_ref(env: Env, r: usize) {
    if r != 0 {
        unsafe { sys::napi_delete_reference(env, r as sys::napi_ref) };
    }
}

pub fn string(env: Env, s: &str) -> napi::Result<Value> {
    unsafe { <&str>::to_napi_value(env, s) }
}

pub fn number(env: Env, n: f64) -> napi::Result<Value> {
    unsafe { f64::to_napi_value(env, n) }
}

pub fn undefined(env: Env) -> napi::Result<Value> {
    unsafe { <()>::to_napi_value(env, ()) }
}

pub fn array(env: Env, len: usize) -> napi::Result<Value> {
    let mut v = ptr::null_mut();
    napi_call!(napi_create_array_with_length(env, len, &mut v))?;
    Ok(v)
}

/// A new `Float64Array` of `len` zeros, and its elements to fill in.
pub fn new_float64_array<'a>(env: Env, len: usize) -> napi::Result<(Value, &'a mut [f64])> {
    let mut data = ptr::null_mut();
    let mut ab = ptr::null_mut();
    napi_call!(napi_create_arraybuffer(env, len * 8, &mut data, &mut ab))?;
    let mut ta = ptr::null_mut();
    napi_call!(napi_create_typedarray(
        env,
        sys::TypedarrayType::float64_array,
        len,
        ab,
        0,
        &mut ta
    ))?;
    // SAFETY: the buffer was just allocated with room for `len` doubles (8-aligned); the array
    // keeps it alive while the caller's handle scope holds `ta`.
    let out = if len == 0 {
        &mut [][..]
    } else {
        unsafe { std::slice::from_raw_parts_mut(data as *mut f64, len) }
    };
    Ok((ta, out))
}

pub fn set_element(env: Env, arr: Value, i: u32, v: Value) -> napi::Result<()> {
    napi_call!(napi_set_element(env, arr, i, v))
}

pub fn element(env: Env, arr: Value, i: u32) -> napi::Result<Value> {
    let mut v = ptr::null_mut();
    napi_call!(napi_get_element(env, arr, i, &mut v))?;
    Ok(v)
}

/// `name` must be NUL-terminated (`c"..."`).
pub fn get(env: Env, obj: Value, name: &std::ffi::CStr) -> napi::Result<Value> {
    let mut v = ptr::null_mut();
    napi_call!(napi_get_named_property(env, obj, name.as_ptr(), &mut v))?;
    Ok(v)
}

pub fn type_of(env: Env, v: Value) -> napi::Result<i32> {
    let mut t = 0;
    napi_call!(napi_typeof(env, v, &mut t))?;
    Ok(t)
}

pub fn is_array(env: Env, v: Value) -> napi::Result<bool> {
    let mut b = false;
    napi_call!(napi_is_array(env, v, &mut b))?;
    Ok(b)
}

pub fn array_len(env: Env, v: Value) -> napi::Result<u32> {
    let mut n = 0u32;
    napi_call!(napi_get_array_length(env, v, &mut n))?;
    Ok(n)
}

/// What a value is, for messages: `typeof`, except `null` and `array`.
pub fn type_name(env: Env, v: Option<Value>) -> &'static str {
    use sys::ValueType::*;
    let Some(v) = v else { return "undefined" };
    match type_of(env, v) {
        Ok(t) if t == napi_undefined => "undefined",
        Ok(t) if t == napi_null => "null",
        Ok(t) if t == napi_boolean => "boolean",
        Ok(t) if t == napi_number => "number",
        Ok(t) if t == napi_string => "string",
        Ok(t) if t == napi_function => "function",
        Ok(t) if t == napi_bigint => "bigint",
        Ok(t) if t == napi_object => match is_array(env, v) {
            Ok(true) => "array",
            _ => "object",
        },
        _ => "symbol",
    }
}

/// `None` (a missing argument), `undefined` or `null`.
pub fn is_nullish(env: Env, v: Option<Value>) -> napi::Result<bool> {
    match v {
        None => Ok(true),
        Some(v) if v.is_null() => Ok(true),
        Some(v) => {
            let t = type_of(env, v)?;
            Ok(t == sys::ValueType::napi_undefined || t == sys::ValueType::napi_null)
        }
    }
}

/// The argument, or `None` when it is `undefined`/`null`.
pub fn some(env: Env, v: Option<Value>) -> napi::Result<Option<Value>> {
    Ok(if is_nullish(env, v)? { None } else { v })
}

/// A function argument (`None`: `undefined` or `null`).
pub fn get_function(env: Env, v: Option<Value>, name: &str) -> Res<Option<Value>> {
    match some(env, v)? {
        Some(f) if type_of(env, f)? == sys::ValueType::napi_function => Ok(Some(f)),
        None => Ok(None),
        f => invalid(format!(
            "`{name}` must be a function or null, got {}",
            type_name(env, f)
        )),
    }
}

pub fn get_string(env: Env, v: Option<Value>, name: &str) -> Res<String> {
    match v {
        Some(v) if type_of(env, v)? == sys::ValueType::napi_string => {
            Ok(unsafe { String::from_napi_value(env, v) }?)
        }
        _ => invalid(format!(
            "`{name}` must be a string, got {}",
            type_name(env, v)
        )),
    }
}

/// An integer in `lo..=hi` (core's range rule and message).
pub fn get_int(env: Env, v: Option<Value>, name: &str, lo: i64, hi: i64) -> Res<i64> {
    let n = match v {
        Some(v) if type_of(env, v)? == sys::ValueType::napi_number => unsafe {
            f64::from_napi_value(env, v)?
        },
        _ => {
            let got = type_name(env, v);
            return invalid(format!("`{name}` must be an integer, got {got}"));
        }
    };
    if !n.is_finite() || n.fract() != 0.0 {
        return invalid(format!("`{name}` must be an integer, got {n}"));
    }
    // Saturates past i64, which every range here excludes.
    Ok(headwater::error::check_range(name, n as i64, lo, hi)?)
}

/// The largest integer a JavaScript number holds exactly.
pub const MAX_SAFE: i64 = (1 << 53) - 1;

/// Bytes of a string (UTF-8, owned) or a Uint8Array/Buffer (borrowed for the duration of the call).
pub enum Bytes<'a> {
    Owned(Vec<u8>),
    Borrowed(&'a [u8]),
}

impl std::ops::Deref for Bytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Borrowed(s) => s,
        }
    }
}

/// Reads a `Buffer | Uint8Array | string`.
///
/// The borrowed slice points into the typed array's backing store, which stays put while the JS
/// value is alive (it is an argument of the running call).
pub fn get_bytes<'a>(env: Env, v: Option<Value>, name: &str) -> Res<Bytes<'a>> {
    match v {
        Some(v) => bytes_of(env, v, type_of(env, v)?, name),
        None => bytes_of(env, ptr::null_mut(), sys::ValueType::napi_undefined, name),
    }
}

/// A key: `Buffer | Uint8Array | string`, or `None` for `undefined`/`null` (no key).
pub fn get_key<'a>(env: Env, v: Option<Value>) -> Res<Option<Bytes<'a>>> {
    let Some(v) = v else { return Ok(None) };
    match type_of(env, v)? {
        t if t == sys::ValueType::napi_undefined || t == sys::ValueType::napi_null => Ok(None),
        t => Ok(Some(bytes_of(env, v, t, "key")?)),
    }
}

fn bytes_of<'a>(env: Env, v: Value, t: i32, name: &str) -> Res<Bytes<'a>> {
    if t == sys::ValueType::napi_string {
        return Ok(Bytes::Owned(
            unsafe { String::from_napi_value(env, v) }?.into_bytes(),
        ));
    }
    if t == sys::ValueType::napi_object {
        if let Ok(s) = unsafe { <&[u8]>::from_napi_value(env, v) } {
            return Ok(Bytes::Borrowed(s));
        }
    }
    let got = if v.is_null() {
        "undefined"
    } else {
        type_name(env, Some(v))
    };
    invalid(format!(
        "`{name}` must be a Buffer, Uint8Array or string, got {got}"
    ))
}

/// An options argument: `undefined`/`null` = none; anything but a plain object is `INVALID_ARGUMENT`.
pub fn get_options(env: Env, v: Option<Value>, name: &str) -> Res<Option<Value>> {
    match some(env, v)? {
        None => Ok(None),
        Some(o) if type_name(env, Some(o)) == "object" => Ok(Some(o)),
        o => invalid(format!(
            "`{name}` must be an object, got {}",
            type_name(env, o)
        )),
    }
}

/// An optional integer property of an options object (`undefined`/`null`: `None`).
pub fn opt_int(
    env: Env,
    obj: Option<Value>,
    name: &std::ffi::CStr,
    lo: i64,
    hi: i64,
) -> Res<Option<i64>> {
    let Some(obj) = obj else { return Ok(None) };
    match some(env, Some(get(env, obj, name)?))? {
        None => Ok(None),
        v => Ok(Some(get_int(env, v, name.to_str().unwrap_or("?"), lo, hi)?)),
    }
}

/// Own enumerable string keys of an object, with their values.
fn own_keys(env: Env, obj: Value) -> napi::Result<Vec<(String, Value)>> {
    let mut keys = ptr::null_mut();
    napi_call!(napi_get_all_property_names(
        env,
        obj,
        sys::KeyCollectionMode::own_only,
        sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
        sys::KeyConversion::numbers_to_strings,
        &mut keys
    ))?;
    let n = array_len(env, keys)?;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let k = element(env, keys, i)?;
        let mut v = ptr::null_mut();
        napi_call!(napi_get_property(env, obj, k, &mut v))?;
        out.push((unsafe { String::from_napi_value(env, k) }?, v));
    }
    Ok(out)
}

/// The string form of an option value: strings as is, numbers and bigints in decimal, booleans as
/// `true`/`false` (core decides whether the key takes one), `undefined` skipped (`None`); null,
/// objects, functions and symbols are `INVALID_ARGUMENT`.
fn option_value(env: Env, key: &str, v: Value) -> Res<Option<String>> {
    use sys::ValueType::*;
    let t = type_of(env, v)?;
    Ok(Some(match t {
        _ if t == napi_undefined => return Ok(None),
        _ if t == napi_string => unsafe { String::from_napi_value(env, v) }?,
        _ if t == napi_boolean => unsafe { bool::from_napi_value(env, v) }?.to_string(),
        _ if t == napi_number => {
            let n = unsafe { f64::from_napi_value(env, v) }?;
            if n.is_finite() && n.fract() == 0.0 {
                format!("{n:.0}")
            } else {
                format!("{n}")
            }
        }
        _ if t == napi_bigint => {
            let mut s = ptr::null_mut();
            napi_call!(napi_coerce_to_string(env, v, &mut s))?;
            unsafe { String::from_napi_value(env, s) }?
        }
        _ => {
            let got = type_name(env, Some(v));
            return invalid(format!(
                "`{key}` must be a string, a number or a boolean, got {got}"
            ));
        }
    }))
}

/// An options object as (key, string value) pairs for core's option parsers
/// (`ProducerConfig`/`BrokerConfig`/`TopicConfig::from_options`): `undefined`/`null` options give
/// none, `undefined` values are skipped.
pub fn string_options(env: Env, v: Option<Value>, name: &str) -> Res<Vec<(String, String)>> {
    let Some(obj) = get_options(env, v, name)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (k, v) in own_keys(env, obj)? {
        if let Some(s) = option_value(env, &k, v)? {
            out.push((k, s));
        }
    }
    Ok(out)
}

/// The pairs as core's option parsers take them.
pub fn pairs(o: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    o.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}
