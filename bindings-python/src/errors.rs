//! Core `Error` -> Python exception. The classes live in `headwater/_errors.py` (Python classes can
//! inherit from builtins such as `ValueError` and `TimeoutError`); this maps mechanically by code.

use headwater::{Error, ErrorKind};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Builds the Python exception for a core error. Needs the GIL.
pub fn make_err(py: Python<'_>, e: &Error) -> PyErr {
    let built = (|| -> PyResult<PyErr> {
        let f = py.import("headwater._errors")?.getattr("_from_native")?;
        let exc = f.call1((
            e.kind.code(),
            e.to_string(),
            e.is_retriable(),
            e.kind.number(),
            e.broker_code(),
        ))?;
        Ok(PyErr::from_value(exc))
    })();
    built.unwrap_or_else(|err| {
        PyRuntimeError::new_err(format!("{e} (and the error could not be mapped: {err})"))
    })
}

pub fn to_pyerr(e: Error) -> PyErr {
    Python::with_gil(|py| make_err(py, &e))
}

fn kind_from_code(code: &str, broker_code: Option<i16>) -> Option<ErrorKind> {
    Some(match code {
        "CONFIG" => ErrorKind::Config,
        "TIMEOUT" => ErrorKind::Timeout,
        "QUEUE_FULL" => ErrorKind::QueueFull,
        "RECORD_TOO_LARGE" => ErrorKind::RecordTooLarge,
        "UNKNOWN_TOPIC" => ErrorKind::UnknownTopic,
        "UNKNOWN_PARTITION" => ErrorKind::UnknownPartition,
        "COMPRESSION" => ErrorKind::Compression,
        "TRANSPORT" => ErrorKind::Transport,
        "PROTOCOL" => ErrorKind::Protocol,
        "BROKER" => ErrorKind::Broker(broker_code.unwrap_or(-1)),
        "CLOSED" => ErrorKind::Closed,
        "FORKED" => ErrorKind::Forked,
        "INVALID_ARGUMENT" => ErrorKind::InvalidArgument,
        "INTERNAL" => ErrorKind::Internal,
        _ => return None,
    })
}

/// Test hook: the exception core's `Error{kind: code}` maps to (checks the mapping for kinds a test
/// cannot provoke, e.g. INTERNAL).
#[pyfunction]
#[pyo3(signature = (code, message, broker_code=None))]
pub fn error_for_test(
    py: Python<'_>,
    code: &str,
    message: &str,
    broker_code: Option<i16>,
) -> PyResult<PyObject> {
    let kind = kind_from_code(code, broker_code).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!("unknown error code {code:?}"))
    })?;
    Ok(make_err(py, &Error::new(kind, message))
        .into_value(py)
        .into_any())
}

/// Test hook: the exception a broker response carrying Fluvio error `code` maps to.
#[pyfunction]
pub fn fluvio_error_for_test(py: Python<'_>, code: i16) -> PyObject {
    let e = Error::from_code(&headwater::protocol::ErrorCode::from_code(code), "test");
    make_err(py, &e).into_value(py).into_any()
}

/// A core-style error built by the binding (only where core cannot report it itself).
pub fn forked(what: &str) -> PyErr {
    to_pyerr(Error::new(
        ErrorKind::Forked,
        format!("this {what} was created before fork(); create a new one in the child process (or use the 'spawn'/'forkserver' start method)"),
    ))
}
