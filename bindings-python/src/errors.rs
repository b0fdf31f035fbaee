//! Core `Error` -> Python exception. The classes live in `headwater/_errors.py` (Python classes can
//! inherit from builtins such as `ValueError` and `TimeoutError`); this maps mechanically by code.
//! Every entry point runs inside [`guard`], so a panic is an `InternalError`.

use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};

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

/// Runs the body of an entry point; a panic becomes core's `Internal` error (pyo3 would raise its
/// `PanicException`, a `BaseException` that `except Exception` does not catch).
pub fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(to_pyerr(Error::from_panic(&*panic, "Python"))))
}

/// A test hook's answer: the exception object itself, not raised.
fn exc(py: Python<'_>, e: &Error) -> PyObject {
    make_err(py, e).into_value(py).into_any()
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
    let kind = ErrorKind::from_code(code)
        .ok_or_else(|| crate::convert::invalid(format!("unknown error code {code:?}")))?;
    let kind = broker_code.map_or(kind, |b| kind.with_broker_code(b));
    Ok(exc(py, &Error::new(kind, message)))
}

/// Test hook: the exception a broker response carrying Fluvio error `code` maps to.
#[pyfunction]
pub fn fluvio_error_for_test(py: Python<'_>, code: i16) -> PyObject {
    let code = headwater::protocol::ErrorCode::from_code(code);
    exc(py, &Error::from_code(&code, "test"))
}

/// Test hook: panics inside an entry point (the test asserts an `InternalError`).
#[pyfunction]
#[pyo3(name = "_debug_panic")]
pub fn debug_panic() -> PyResult<()> {
    guard(|| panic!("_debug_panic was called"))
}

/// The `InvalidArgumentError` for a wrong argument the Python layer finds (core's message form).
#[pyfunction]
pub fn invalid_argument(py: Python<'_>, message: &str) -> PyObject {
    exc(py, &Error::invalid(message))
}

/// A core object held by a Python object. Only the process that created it may use it: in a forked
/// child its threads and locks belong to the parent, so [`get`](Self::get) raises `ForkedProcessError` and
/// the object is leaked, not dropped.
pub struct Local<T> {
    inner: ManuallyDrop<T>,
    pid: u32,
}

impl<T> Local<T> {
    pub fn new(inner: T) -> Self {
        let pid = headwater::runtime::pid();
        let inner = ManuallyDrop::new(inner);
        Local { inner, pid }
    }

    /// The object, unless this is a forked child (`what` names it in the error).
    #[inline]
    pub fn get(&self, what: &str) -> PyResult<&T> {
        if self.pid != headwater::runtime::pid() {
            return Err(forked(what));
        }
        Ok(&self.inner)
    }
}

/// Unchecked access, for what is safe in a child too (plain fields: names, counts, `repr`).
impl<T> Deref for Local<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> Drop for Local<T> {
    fn drop(&mut self) {
        if self.pid == headwater::runtime::pid() {
            // SAFETY: dropped exactly once, here.
            unsafe { ManuallyDrop::drop(&mut self.inner) };
        }
    }
}

/// The error for an object inherited across fork() (core's `Forked` kind).
pub fn forked(what: &str) -> PyErr {
    to_pyerr(Error::new(
        ErrorKind::Forked,
        format!("this {what} was created before fork(); create a new one in the child process (or use the 'spawn'/'forkserver' start method)"),
    ))
}
