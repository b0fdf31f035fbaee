//! Python values -> core arguments.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyMemoryView, PyString};

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

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// bytes, bytearray, memoryview or str (UTF-8); anything else is a `TypeError`.
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
    Err(PyTypeError::new_err(format!(
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

/// A timeout in seconds (int or float, `None` = no timeout).
pub fn timeout_of(t: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    let Some(t) = t.filter(|t| !t.is_none()) else {
        return Ok(None);
    };
    if t.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(
            "timeout must be a number of seconds or None, not bool",
        ));
    }
    let secs: f64 = t.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "timeout must be a number of seconds or None, not {}",
            type_name(t)
        ))
    })?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(crate::errors::to_pyerr(headwater::Error::invalid(format!(
            "timeout must be a finite number of seconds >= 0, got {secs}"
        ))));
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
    Err(PyTypeError::new_err(format!(
        "config value for `{key}` must be str, int, bool or os.PathLike, not {}",
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
            PyTypeError::new_err(format!(
                "`{key}` must be a str or os.PathLike path, not {}",
                type_name(v)
            ))
        })?;
    let s = p.downcast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "`{key}` must be a str path (os.fspath gave {})",
            type_name(&p)
        ))
    })?;
    utf8(key, s)
}

/// A `str` option as UTF-8; lone surrogates (undecodable bytes of a file name) are a Config error.
fn utf8(key: &str, s: &Bound<'_, PyString>) -> PyResult<String> {
    s.to_cow().map(|s| s.into_owned()).map_err(|_| {
        crate::errors::to_pyerr(headwater::Error::config(
            key,
            "the value is not valid UTF-8 (it has lone surrogates)",
        ))
    })
}

/// Builds a core config from a dict of options; every key and value is validated by core.
pub fn config_of(options: Option<&Bound<'_, PyDict>>) -> PyResult<headwater::ProducerConfig> {
    let mut cfg = headwater::ProducerConfig::default();
    if let Some(options) = options {
        for (k, v) in options.iter() {
            let key = k.downcast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!("config keys must be str, not {}", type_name(&k)))
            })?;
            let key = key.to_cow()?;
            let value = config_value(&key, &v)?;
            cfg.set(&key, &value).map_err(crate::errors::to_pyerr)?;
        }
    }
    Ok(cfg)
}

/// Builds a client TLS config from a dict of TLS options (`tls`, `tls_ca_file`, ...); every key and
/// value is validated by core.
pub fn tls_config_of(options: Option<&Bound<'_, PyDict>>) -> PyResult<headwater::TlsConfig> {
    let mut cfg = headwater::TlsConfig::default();
    if let Some(options) = options {
        for (k, v) in options.iter() {
            let key = k.downcast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "TLS option keys must be str, not {}",
                    type_name(&k)
                ))
            })?;
            let key = key.to_cow()?;
            let value = config_value(&key, &v)?;
            cfg.set(&key, &value).map_err(crate::errors::to_pyerr)?;
        }
    }
    Ok(cfg)
}

/// An int that must fit `u32` (partition numbers, counts).
pub fn u32_of(v: i64, what: &str) -> PyResult<u32> {
    u32::try_from(v).map_err(|_| {
        crate::errors::to_pyerr(headwater::Error::invalid(format!(
            "{what} must be between 0 and {}, got {v}",
            u32::MAX
        )))
    })
}
