//! Python values -> core arguments. A wrong type is core's `InvalidArgument` (`InvalidArgumentError`,
//! which is also a `TypeError`); ranges are core's `check_range`.

use std::time::Duration;

use headwater::error::check_range;
use pyo3::call::PyCallArgs;
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{
    IntoPyDict, PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyList, PyMemoryView, PyString,
};

use crate::errors::to_pyerr;

/// A key or value: borrowed from a `bytes` object (no copy) or an owned copy.
pub enum Bytes<'py> {
    Borrowed(Bound<'py, PyBytes>),
    Owned(Vec<u8>),
}

impl Bytes<'_> {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Borrowed(b) => b.as_bytes(),
            Bytes::Owned(v) => v,
        }
    }
}

/// Core's `InvalidArgument` error as a Python exception.
pub fn invalid(message: impl Into<String>) -> PyErr {
    to_pyerr(headwater::Error::invalid(message))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// bytes, bytearray, memoryview or str (UTF-8).
pub fn bytes_of<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bytes<'py>> {
    if let Ok(b) = obj.downcast::<PyBytes>() {
        return Ok(Bytes::Borrowed(b.clone()));
    }
    if let Ok(s) = obj.downcast::<PyString>() {
        return Ok(Bytes::Owned(s.to_cow()?.into_owned().into_bytes()));
    }
    if let Ok(b) = obj.downcast::<PyByteArray>() {
        return Ok(Bytes::Owned(b.to_vec()));
    }
    if obj.is_instance_of::<PyMemoryView>() {
        let b = obj.call_method0("tobytes")?;
        let b = b.downcast_into::<PyBytes>()?;
        return Ok(Bytes::Borrowed(b));
    }
    Err(invalid(format!(
        "{what} must be bytes, bytearray, memoryview or str, not {}",
        type_name(obj)
    )))
}

/// Like [`bytes_of`], with `None` meaning "no key".
pub fn key_of<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bytes<'py>>> {
    if obj.is_none() {
        Ok(None)
    } else {
        bytes_of(obj, "key (or None)").map(Some)
    }
}

/// A `str` argument (names, endpoints).
pub fn str_of(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    let s = obj
        .downcast::<PyString>()
        .map_err(|_| invalid(format!("`{name}` must be a str, not {}", type_name(obj))))?;
    Ok(s.to_cow()?.into_owned())
}

/// An `int` argument in `lo..=hi` (core's range rule). `bool` is not taken for a number.
pub fn int_in(obj: &Bound<'_, PyAny>, name: &str, lo: i64, hi: i64) -> PyResult<i64> {
    if obj.is_instance_of::<PyBool>() {
        return Err(invalid(format!("`{name}` must be an int, not bool")));
    }
    let v: i64 = match obj.extract() {
        Ok(v) => v,
        // Beyond i64 core's check cannot be asked; its message, with the number as given.
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
            return Err(invalid(format!(
                "`{name}` must be in {lo}..={hi}, got {}",
                obj.str()?
            )))
        }
        Err(_) => {
            return Err(invalid(format!(
                "`{name}` must be an int, not {}",
                type_name(obj)
            )))
        }
    };
    check_range(name, v, lo, hi).map_err(to_pyerr)
}

/// [`int_in`], with `None` (or no argument) meaning "not given".
pub fn opt_int_in(
    obj: Option<&Bound<'_, PyAny>>,
    name: &str,
    lo: i64,
    hi: i64,
) -> PyResult<Option<i64>> {
    obj.filter(|o| !o.is_none())
        .map(|o| int_in(o, name, lo, hi))
        .transpose()
}

/// A timeout in seconds (int or float, `None` = no timeout, 0 = don't wait).
pub fn timeout_of(t: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    seconds_of(t, "timeout")
}

/// Seconds (int or float; `None` = absent); negative, NaN, infinite and non-numbers are refused.
pub fn seconds_of(t: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<Duration>> {
    let Some(t) = t.filter(|t| !t.is_none()) else {
        return Ok(None);
    };
    let secs: f64 = t
        .extract()
        .ok()
        .filter(|_| !t.is_instance_of::<PyBool>())
        .ok_or_else(|| {
            invalid(format!(
                "`{name}` must be a number of seconds or None, not {}",
                type_name(t)
            ))
        })?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(invalid(format!(
            "`{name}` must be a finite number of seconds >= 0, got {secs}"
        )));
    }
    Ok(Some(Duration::from_secs_f64(secs)))
}

/// Config values reach core's one parser as strings: `str` as is, `bool` as `true`/`false`, `int` in
/// decimal, an `os.PathLike` (file keys) as its path.
pub fn config_value(key: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.downcast::<PyString>() {
        return utf8(key, s);
    }
    if let Ok(b) = v.downcast::<PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.to_string());
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(v.str()?.to_cow()?.into_owned());
    }
    if v.hasattr("__fspath__")? {
        return path_value(key, v);
    }
    Err(invalid(format!(
        "config value for `{key}` must be str, int, bool or os.PathLike, not {}",
        type_name(v)
    )))
}

/// A topic option as core's string form: `int` in decimal (core checks the range, so `-1` is
/// reported as given) or `str` as is.
pub fn topic_value(key: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.downcast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
        return Ok(v.str()?.to_cow()?.into_owned());
    }
    Err(invalid(format!(
        "topic option `{key}` must be an int or str, not {}",
        type_name(v)
    )))
}

/// A path given as `str` or `os.PathLike` (whose `os.fspath` is `str`), as core's string option.
pub fn path_value(key: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    let p = v
        .py()
        .import("os")?
        .getattr("fspath")?
        .call1((v,))
        .map_err(|_| {
            invalid(format!(
                "`{key}` must be a str or os.PathLike path, not {}",
                type_name(v)
            ))
        })?;
    let s = p.downcast::<PyString>().map_err(|_| {
        invalid(format!(
            "`{key}` must be a str path (os.fspath gave {})",
            type_name(&p)
        ))
    })?;
    utf8(key, s)
}

/// A `str` option as UTF-8; lone surrogates (undecodable bytes of a file name) are a Config error.
fn utf8(key: &str, s: &Bound<'_, PyString>) -> PyResult<String> {
    s.to_cow().map(|s| s.into_owned()).map_err(|_| {
        to_pyerr(headwater::Error::config(
            key,
            "the value is not valid UTF-8 (it has lone surrogates)",
        ))
    })
}

/// A dict of string-keyed options as core's `(key, value)` string pairs.
fn options_of(options: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<(String, String)>> {
    let Some(options) = options.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    let options = options
        .downcast::<PyDict>()
        .map_err(|_| invalid(format!("{what} must be a dict, not {}", type_name(options))))?;
    let mut out = Vec::with_capacity(options.len());
    for (k, v) in options.iter() {
        let key = k
            .downcast::<PyString>()
            .map_err(|_| invalid(format!("{what} keys must be str, not {}", type_name(&k))))?;
        let key = key.to_cow()?.into_owned();
        let value = config_value(&key, &v)?;
        out.push((key, value));
    }
    Ok(out)
}

/// A keyword argument and its name; `None` means "not given".
pub type Arg<'a, 'py> = (&'static str, Option<&'a Bound<'py, PyAny>>);

/// The given keyword arguments as core's `(key, value)` string options, each converted by `value`.
pub fn given(
    args: &[Arg<'_, '_>],
    value: fn(&str, &Bound<'_, PyAny>) -> PyResult<String>,
) -> PyResult<Vec<(&'static str, String)>> {
    args.iter()
        .filter_map(|(key, arg)| Some((*key, arg.filter(|v| !v.is_none())?)))
        .map(|(key, v)| Ok((key, value(key, v)?)))
        .collect()
}

/// `(key, value)` options as core's `from_options` takes them.
pub fn pairs<K: AsRef<str>>(options: &[(K, String)]) -> impl Iterator<Item = (&str, &str)> {
    options.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
}

/// A core producer config from a dict of options; every key and value is validated by core.
pub fn config_of(options: Option<&Bound<'_, PyAny>>) -> PyResult<headwater::ProducerConfig> {
    let options = options_of(options, "config")?;
    headwater::ProducerConfig::from_options(pairs(&options)).map_err(to_pyerr)
}

/// A client TLS config from a dict of TLS options (`tls`, `tls_ca_file`, ...); every key and value
/// is validated by core.
pub fn tls_config_of(options: Option<&Bound<'_, PyAny>>) -> PyResult<headwater::TlsConfig> {
    let options = options_of(options, "TLS options")?;
    headwater::TlsConfig::from_options(pairs(&options)).map_err(to_pyerr)
}

/// A class of `headwater._types` (the plain Python classes results are returned as).
pub fn types_attr<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("headwater._types")?.getattr(name)
}

/// A list of `headwater._types.<class>` objects, one per item, each made from `args(item)`.
pub fn types_list<'py, T, A: PyCallArgs<'py>>(
    py: Python<'py>,
    class: &str,
    items: Vec<T>,
    args: impl Fn(T) -> A,
) -> PyResult<Bound<'py, PyList>> {
    let cls = types_attr(py, class)?;
    let objs: Vec<_> = items
        .into_iter()
        .map(|i| cls.call1(args(i)))
        .collect::<PyResult<_>>()?;
    PyList::new(py, objs)
}

/// A `headwater._types.<class>` of core's counters (`fields()`), passed by name.
pub fn counters<'py>(
    py: Python<'py>,
    class: &str,
    fields: Vec<(&'static str, u64)>,
) -> PyResult<Bound<'py, PyAny>> {
    types_attr(py, class)?.call((), Some(&fields.into_py_dict(py)?))
}
