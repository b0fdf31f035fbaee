//! Thin helpers over raw Node-API calls: reading arguments with JS-style type checks (a wrong type is
//! a real `TypeError`), and building values. Everything here runs on the JS thread of one environment.

use std::ffi::CString;
use std::ptr;

use napi::sys;
use napi::{Error, Result, Status};

pub type Env = sys::napi_env;
pub type Value = sys::napi_value;

/// A JavaScript exception is pending; napi-rs must not throw another one.
pub fn pending() -> Error {
    Error::new(Status::PendingException, "")
}

pub fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::from(status),
            format!("Node-API call failed: {what}"),
        ))
    }
}

pub fn string(env: Env, s: &str) -> Result<Value> {
    let mut v = ptr::null_mut();
    check(
        unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v) },
        "create string",
    )?;
    Ok(v)
}

pub fn number(env: Env, n: f64) -> Result<Value> {
    let mut v = ptr::null_mut();
    check(
        unsafe { sys::napi_create_double(env, n, &mut v) },
        "create number",
    )?;
    Ok(v)
}

pub fn boolean(env: Env, b: bool) -> Result<Value> {
    let mut v = ptr::null_mut();
    check(
        unsafe { sys::napi_get_boolean(env, b, &mut v) },
        "get boolean",
    )?;
    Ok(v)
}

pub fn undefined(env: Env) -> Result<Value> {
    let mut v = ptr::null_mut();
    check(
        unsafe { sys::napi_get_undefined(env, &mut v) },
        "get undefined",
    )?;
    Ok(v)
}

pub fn object(env: Env) -> Result<Value> {
    let mut v = ptr::null_mut();
    check(
        unsafe { sys::napi_create_object(env, &mut v) },
        "create object",
    )?;
    Ok(v)
}

pub fn array(env: Env, len: usize) -> Result<Value> {
    let mut v = ptr::null_mut();
    check(
        unsafe { sys::napi_create_array_with_length(env, len, &mut v) },
        "create array",
    )?;
    Ok(v)
}

pub fn set_element(env: Env, arr: Value, i: u32, v: Value) -> Result<()> {
    check(
        unsafe { sys::napi_set_element(env, arr, i, v) },
        "set element",
    )
}

/// `name` must be NUL-terminated (`c"..."`).
pub fn set(env: Env, obj: Value, name: &std::ffi::CStr, v: Value) -> Result<()> {
    check(
        unsafe { sys::napi_set_named_property(env, obj, name.as_ptr(), v) },
        "set property",
    )
}

pub fn type_of(env: Env, v: Value) -> Result<i32> {
    let mut t = 0;
    check(unsafe { sys::napi_typeof(env, v, &mut t) }, "typeof")?;
    Ok(t)
}

pub fn type_name(env: Env, v: Value) -> &'static str {
    use sys::ValueType::*;
    match type_of(env, v) {
        Ok(t) if t == napi_undefined => "undefined",
        Ok(t) if t == napi_null => "null",
        Ok(t) if t == napi_boolean => "boolean",
        Ok(t) if t == napi_number => "number",
        Ok(t) if t == napi_string => "string",
        Ok(t) if t == napi_function => "function",
        Ok(t) if t == napi_bigint => "bigint",
        Ok(t) if t == napi_object => {
            let mut is_array = false;
            unsafe { sys::napi_is_array(env, v, &mut is_array) };
            if is_array {
                "array"
            } else {
                "object"
            }
        }
        _ => "symbol",
    }
}

pub fn is_nullish(env: Env, v: Option<Value>) -> Result<bool> {
    match v {
        None => Ok(true),
        Some(v) if v.is_null() => Ok(true),
        Some(v) => {
            let t = type_of(env, v)?;
            Ok(t == sys::ValueType::napi_undefined || t == sys::ValueType::napi_null)
        }
    }
}

/// Creates a `TypeError` value.
pub fn type_error_value(env: Env, msg: &str) -> Result<Value> {
    let m = string(env, msg)?;
    let code = string(env, "ERR_INVALID_ARG_TYPE")?;
    let mut v = ptr::null_mut();
    check(
        unsafe { sys::napi_create_type_error(env, code, m, &mut v) },
        "create TypeError",
    )?;
    Ok(v)
}

/// Throws a `TypeError` and returns the error napi-rs should propagate.
pub fn throw_type_error(env: Env, msg: &str) -> Error {
    if let Ok(v) = type_error_value(env, msg) {
        unsafe { sys::napi_throw(env, v) };
        return pending();
    }
    Error::new(Status::InvalidArg, msg.to_string())
}

/// A failed argument check: the message of the `TypeError` to raise.
pub struct TypeErr(pub String);

pub type Check<T> = std::result::Result<T, TypeErr>;

pub fn type_err<T>(msg: impl Into<String>) -> Check<T> {
    Err(TypeErr(msg.into()))
}

fn str_of(env: Env, v: Value) -> Result<String> {
    let mut len = 0usize;
    check(
        unsafe { sys::napi_get_value_string_utf8(env, v, ptr::null_mut(), 0, &mut len) },
        "string length",
    )?;
    let mut buf = vec![0u8; len + 1];
    let mut written = 0usize;
    check(
        unsafe {
            sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), len + 1, &mut written)
        },
        "read string",
    )?;
    buf.truncate(written);
    String::from_utf8(buf).map_err(|e| Error::from_reason(e.to_string()))
}

/// Reads a string argument; anything else is a `TypeError` naming `what`.
pub fn get_string(env: Env, v: Option<Value>, what: &str) -> Result<Check<String>> {
    match v {
        Some(v) if type_of(env, v)? == sys::ValueType::napi_string => Ok(Ok(str_of(env, v)?)),
        Some(v) => Ok(type_err(format!(
            "{what} must be a string, got {}",
            type_name(env, v)
        ))),
        None => Ok(type_err(format!("{what} must be a string, got undefined"))),
    }
}

pub fn get_f64(env: Env, v: Value) -> Result<f64> {
    let mut n = 0f64;
    check(
        unsafe { sys::napi_get_value_double(env, v, &mut n) },
        "read number",
    )?;
    Ok(n)
}

/// Reads an integer in `[min, max]`; a non-number or non-integer is a `TypeError`, out of range a `RangeError`-like `TypeError`.
pub fn get_int(env: Env, v: Value, what: &str, min: f64, max: f64) -> Result<Check<i64>> {
    if type_of(env, v)? != sys::ValueType::napi_number {
        return Ok(type_err(format!(
            "{what} must be an integer, got {}",
            type_name(env, v)
        )));
    }
    let n = get_f64(env, v)?;
    if n.fract() != 0.0 || !n.is_finite() || n < min || n > max {
        return Ok(type_err(format!(
            "{what} must be an integer from {min} to {max}, got {n}"
        )));
    }
    Ok(Ok(n as i64))
}

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
pub fn get_bytes<'a>(env: Env, v: Value, what: &str) -> Result<Check<Bytes<'a>>> {
    let t = type_of(env, v)?;
    if t == sys::ValueType::napi_string {
        return Ok(Ok(Bytes::Owned(str_of(env, v)?.into_bytes())));
    }
    if t == sys::ValueType::napi_object {
        let mut is_ta = false;
        check(
            unsafe { sys::napi_is_typedarray(env, v, &mut is_ta) },
            "is typedarray",
        )?;
        if is_ta {
            let mut ty = 0;
            let mut len = 0usize;
            let mut data = ptr::null_mut();
            let mut ab = ptr::null_mut();
            let mut off = 0usize;
            check(
                unsafe {
                    sys::napi_get_typedarray_info(
                        env, v, &mut ty, &mut len, &mut data, &mut ab, &mut off,
                    )
                },
                "typedarray info",
            )?;
            if ty == sys::TypedarrayType::uint8_array {
                let s: &'a [u8] = if len == 0 || data.is_null() {
                    &[]
                } else {
                    unsafe { std::slice::from_raw_parts(data as *const u8, len) }
                };
                return Ok(Ok(Bytes::Borrowed(s)));
            }
        }
    }
    Ok(type_err(format!(
        "{what} must be a Buffer, Uint8Array or string, got {}",
        type_name(env, v)
    )))
}

pub fn get_named(env: Env, obj: Value, name: &str) -> Result<Value> {
    let c = CString::new(name).map_err(|e| Error::from_reason(e.to_string()))?;
    let mut v = ptr::null_mut();
    check(
        unsafe { sys::napi_get_named_property(env, obj, c.as_ptr(), &mut v) },
        "get property",
    )?;
    Ok(v)
}

/// An options argument: `undefined`/`null` = none; anything but a plain object is a `TypeError`.
pub fn get_options(env: Env, v: Option<Value>, what: &str) -> Result<Check<Option<Value>>> {
    if is_nullish(env, v)? {
        return Ok(Ok(None));
    }
    let v = v.unwrap();
    let t = type_name(env, v);
    if t != "object" {
        return Ok(type_err(format!("{what} must be an object, got {t}")));
    }
    Ok(Ok(Some(v)))
}

/// An optional integer property of an options object.
pub fn opt_int(
    env: Env,
    obj: Option<Value>,
    name: &str,
    what: &str,
    min: f64,
    max: f64,
) -> Result<Check<Option<i64>>> {
    let Some(obj) = obj else { return Ok(Ok(None)) };
    let v = get_named(env, obj, name)?;
    if is_nullish(env, Some(v))? {
        return Ok(Ok(None));
    }
    Ok(get_int(env, v, what, min, max)?.map(Some))
}

/// An optional string property of an options object.
pub fn opt_string(
    env: Env,
    obj: Option<Value>,
    name: &str,
    what: &str,
) -> Result<Check<Option<String>>> {
    let Some(obj) = obj else { return Ok(Ok(None)) };
    let v = get_named(env, obj, name)?;
    if is_nullish(env, Some(v))? {
        return Ok(Ok(None));
    }
    Ok(get_string(env, Some(v), what)?.map(Some))
}

/// Own enumerable string keys of an object.
pub fn own_keys(env: Env, obj: Value) -> Result<Vec<(String, Value)>> {
    let mut keys = ptr::null_mut();
    check(
        unsafe {
            sys::napi_get_all_property_names(
                env,
                obj,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut keys,
            )
        },
        "property names",
    )?;
    let n = array_len(env, keys)?;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let k = element(env, keys, i)?;
        let name = str_of(env, k)?;
        let mut v = ptr::null_mut();
        check(
            unsafe { sys::napi_get_property(env, obj, k, &mut v) },
            "get property",
        )?;
        out.push((name, v));
    }
    Ok(out)
}

pub fn is_array(env: Env, v: Value) -> Result<bool> {
    let mut b = false;
    check(unsafe { sys::napi_is_array(env, v, &mut b) }, "is array")?;
    Ok(b)
}

pub fn array_len(env: Env, v: Value) -> Result<u32> {
    let mut n = 0u32;
    check(
        unsafe { sys::napi_get_array_length(env, v, &mut n) },
        "array length",
    )?;
    Ok(n)
}

pub fn element(env: Env, arr: Value, i: u32) -> Result<Value> {
    let mut v = ptr::null_mut();
    check(
        unsafe { sys::napi_get_element(env, arr, i, &mut v) },
        "get element",
    )?;
    Ok(v)
}

/// The string form of a config value: strings as is, numbers and bigints in decimal, booleans as
/// `true`/`false` (core decides whether the key takes one), `undefined` skipped (`None`); null,
/// objects, functions and symbols are a `TypeError`.
pub fn config_value(env: Env, key: &str, v: Value) -> Result<Check<Option<String>>> {
    use sys::ValueType::*;
    let t = type_of(env, v)?;
    if t == napi_undefined {
        return Ok(Ok(None));
    }
    if t == napi_string {
        return Ok(Ok(Some(str_of(env, v)?)));
    }
    if t == napi_boolean {
        let mut b = false;
        check(
            unsafe { sys::napi_get_value_bool(env, v, &mut b) },
            "read boolean",
        )?;
        return Ok(Ok(Some(b.to_string())));
    }
    if t == napi_number {
        let n = get_f64(env, v)?;
        let s = if n.is_finite() && n.fract() == 0.0 {
            format!("{n:.0}")
        } else {
            format!("{n}")
        };
        return Ok(Ok(Some(s)));
    }
    if t == napi_bigint {
        let mut s = ptr::null_mut();
        check(
            unsafe { sys::napi_coerce_to_string(env, v, &mut s) },
            "bigint to string",
        )?;
        return Ok(Ok(Some(str_of(env, s)?)));
    }
    Ok(type_err(format!(
        "config `{key}` must be a string, a number or a boolean, got {}",
        type_name(env, v)
    )))
}

/// An options object as (key, string value) pairs for core's option parsers (see [`config_value`]):
/// `undefined`/`null` options give none, `undefined` values are skipped.
pub fn string_options(
    env: Env,
    v: Option<Value>,
    what: &str,
) -> Result<Check<Vec<(String, String)>>> {
    let obj = match get_options(env, v, what)? {
        Ok(Some(o)) => o,
        Ok(None) => return Ok(Ok(Vec::new())),
        Err(e) => return Ok(Err(e)),
    };
    let mut out = Vec::new();
    for (k, v) in own_keys(env, obj)? {
        match config_value(env, &k, v)? {
            Ok(Some(s)) => out.push((k, s)),
            Ok(None) => {}
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(out))
}
