//! Getting results from core's threads back to Python without deadlocks, and waiting without
//! blocking Ctrl-C.
//!
//! * Core calls the log sink and delivery callbacks on its own threads, sometimes while holding its
//!   own locks. Those threads never take the GIL: they queue a job, and one dedicated thread
//!   (`headwater-py`), which holds no core lock, takes the GIL and runs the jobs (emit a log record,
//!   resolve an asyncio future). At interpreter exit (`shutdown_logging`, called from `atexit`) the
//!   thread stops taking the GIL; later warnings go to stderr.
//! * [`run_blocking`] runs a core future on core's runtime and waits for it with the GIL released,
//!   in slices, checking for signals between slices so Ctrl-C raises `KeyboardInterrupt`.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use headwater::logging::{self, Level};
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyString};

use crate::convert::int_in;
use crate::errors::{guard, make_err, to_pyerr};

/// How long one GIL-free wait lasts before signals are checked.
pub const SLICE: Duration = Duration::from_millis(50);

type Job = Box<dyn FnOnce(Python<'_>) + Send>;

struct Dispatch {
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
    /// Held by the dispatch thread from "not finalizing?" to the end of its GIL section.
    emit: Mutex<()>,
}

/// Bound on queued jobs, so a log storm cannot eat memory while Python is busy.
const MAX_QUEUED: usize = 100_000;

static DISPATCH: AtomicPtr<Dispatch> = AtomicPtr::new(std::ptr::null_mut());
static START: Mutex<()> = Mutex::new(());
/// Set at interpreter exit: no thread may take the GIL for us any more.
static FINALIZING: AtomicBool = AtomicBool::new(false);

/// Locks `m`; a panic elsewhere while it was held does not stop the dispatching.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn start_dispatch() -> &'static Dispatch {
    let d: &'static Dispatch = Box::leak(Box::new(Dispatch {
        queue: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
        emit: Mutex::new(()),
    }));
    std::thread::Builder::new()
        .name("headwater-py".into())
        .spawn(move || dispatch_loop(d))
        .expect("cannot start the headwater-py thread");
    DISPATCH.store(d as *const Dispatch as *mut Dispatch, Ordering::Release);
    d
}

fn dispatch() -> &'static Dispatch {
    if DISPATCH.load(Ordering::Acquire).is_null() {
        let _g = lock(&START);
        if DISPATCH.load(Ordering::Acquire).is_null() {
            start_dispatch();
        }
    }
    // SAFETY: only ever set to a leaked, never freed Box.
    unsafe { &*DISPATCH.load(Ordering::Acquire) }
}

fn dispatch_loop(d: &'static Dispatch) {
    loop {
        let jobs: Vec<Job> = {
            let mut q = lock(&d.queue);
            while q.is_empty() {
                q = d.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            q.drain(..).collect()
        };
        let _emit = lock(&d.emit);
        if FINALIZING.load(Ordering::Acquire) {
            // Python objects inside may not be touched (or dropped) any more.
            std::mem::forget(jobs);
            continue;
        }
        Python::with_gil(|py| {
            for job in jobs {
                job(py);
            }
        });
    }
}

/// Queues `job` to run with the GIL on the `headwater-py` thread. Never blocks on the GIL.
pub fn submit(job: impl FnOnce(Python<'_>) + Send + 'static) {
    if FINALIZING.load(Ordering::Acquire) {
        std::mem::forget(job);
        return;
    }
    let d = dispatch();
    let mut q = lock(&d.queue);
    if q.len() >= MAX_QUEUED {
        std::mem::forget(job);
        return;
    }
    q.push_back(Box::new(job));
    drop(q);
    d.ready.notify_one();
}

/// A core level as a `logging` level number: how records are logged and what the `headwater`
/// logger's level is set to. By core's numbering, OFF (above CRITICAL, so nothing passes) to TRACE.
fn py_level(level: Level) -> i32 {
    [51, 40, 30, 20, 10, 5][level.number() as usize]
}

fn emit_log(py: Python<'_>, level: i32, target: &str, msg: &str) -> PyResult<()> {
    let logger = py
        .import("logging")?
        .call_method1("getLogger", ("headwater",))?;
    let extra = [("headwater_target", target)].into_py_dict(py)?;
    let kwargs = [("extra", extra)].into_py_dict(py)?;
    logger.call_method("log", (level, "%s", msg), Some(&kwargs))?;
    Ok(())
}

fn sink(level: tracing::Level, target: &str, msg: &str) {
    if FINALIZING.load(Ordering::Acquire) {
        if level <= tracing::Level::WARN {
            eprintln!("headwater {level}: {msg}");
        }
        return;
    }
    let (target, msg) = (target.to_string(), msg.to_string());
    let lvl = py_level(level.into());
    submit(move |py| {
        if let Err(e) = emit_log(py, lvl, &target, &msg) {
            e.print(py);
        }
    });
}

/// Routes core's events at `level` and above to `logging.getLogger("headwater")`.
pub fn install_log_sink(level: Level) {
    headwater::logging::set_sink(level, Arc::new(sink));
}

/// Sets the level core forwards events at: a level name (core's parser) or a `logging` level number
/// in 0..=50. Returns the `logging` level for the `headwater` logger.
#[pyfunction]
pub fn set_log_level(level: &Bound<'_, PyAny>) -> PyResult<i32> {
    guard(|| {
        let (core, py) = if let Ok(name) = level.downcast::<PyString>() {
            let l = logging::parse_level(&name.to_cow()?).map_err(to_pyerr)?;
            (l, py_level(l))
        } else {
            // logging's numbers: NOTSET=0 .. CRITICAL=50; TRACE (5) is below DEBUG.
            let n = int_in(level, "log_level", 0, 50)? as i32;
            let l = match n {
                ..=5 => Level::TRACE,
                6..=10 => Level::DEBUG,
                11..=20 => Level::INFO,
                21..=30 => Level::WARN,
                _ => Level::ERROR,
            };
            (l, n)
        };
        logging::set_level(core);
        Ok(py)
    })
}

/// The `logging` level `HEADWATER_LOG` asks for (core reads it), or None when it is unset.
#[pyfunction]
pub fn env_log_level() -> PyResult<Option<i32>> {
    guard(|| Ok(logging::env_level().map(py_level)))
}

/// Called from `atexit`: emits the queued jobs; after it nothing takes the GIL on core's behalf and
/// warnings go to stderr.
#[pyfunction]
pub fn shutdown_logging(py: Python<'_>) -> PyResult<()> {
    guard(|| {
        let d = dispatch();
        // Emit what is queued now, on this thread (it holds the GIL), so exit loses no log record.
        let pending: Vec<Job> = lock(&d.queue).drain(..).collect();
        for job in pending {
            job(py);
        }
        py.allow_threads(|| {
            let _emit = lock(&d.emit);
            FINALIZING.store(true, Ordering::Release);
        });
        Ok(())
    })
}

/// `os.register_at_fork(after_in_child=...)`: the dispatch thread does not exist in the child.
#[pyfunction]
pub fn after_fork_in_child() -> PyResult<()> {
    // The old queue (and its locks, which may have been held at fork time) is leaked.
    guard(|| {
        start_dispatch();
        Ok(())
    })
}

/// Runs `fut` on core's runtime and waits for it with the GIL released, in slices; between slices
/// pending signals are handled, so Ctrl-C raises `KeyboardInterrupt`. On an interrupt the task is
/// aborted if `abort_on_interrupt`, else left to finish in the background.
pub fn run_blocking<T, F>(
    py: Python<'_>,
    what: &str,
    abort_on_interrupt: bool,
    fut: F,
) -> PyResult<T>
where
    F: Future<Output = headwater::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let (tx, mut rx) = sync_channel(1);
    let handle = headwater::runtime::spawn(async move {
        let _ = tx.send(fut.await);
    });
    loop {
        // The receiver moves into the GIL-free closure and back (a `&Receiver` is not `Send`).
        let (r, back) = py.allow_threads(move || (rx.recv_timeout(SLICE), rx));
        rx = back;
        match r {
            Ok(r) => return r.map_err(to_pyerr),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    if abort_on_interrupt {
                        handle.abort();
                    }
                    return Err(e);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(to_pyerr(headwater::Error::internal(format!(
                    "{what}: the background task ended without a result"
                ))))
            }
        }
    }
}

/// Runs `fut` to completion on this thread with the GIL released (for short waits: no signal
/// checks).
pub fn block_on<T: Send>(
    py: Python<'_>,
    fut: impl Future<Output = headwater::Result<T>> + Send,
) -> PyResult<T> {
    py.allow_threads(|| headwater::runtime::block_on(fut))
        .map_err(to_pyerr)
}

/// Resolves an asyncio future from any thread: `loop.call_soon_threadsafe(_set_future, fut, ok, v)`.
pub fn resolve_future(
    py: Python<'_>,
    event_loop: &PyObject,
    fut: &PyObject,
    result: PyResult<PyObject>,
) {
    let (ok, value) = match result {
        Ok(v) => (true, v),
        Err(e) => (false, e.into_value(py).into_any()),
    };
    let r = (|| -> PyResult<()> {
        let setter = py.import("headwater._aio")?.getattr("_set_future")?;
        event_loop.call_method1(py, "call_soon_threadsafe", (setter, fut, ok, value))?;
        Ok(())
    })();
    // A closed loop (RuntimeError) means nobody is waiting any more.
    drop(r);
}

/// Runs `fut` on core's runtime and resolves the asyncio future `fut_py` on `event_loop` with its
/// result (`None` or the exception).
pub fn spawn_into_future<F>(event_loop: PyObject, fut_py: PyObject, fut: F)
where
    F: Future<Output = headwater::Result<()>> + Send + 'static,
{
    headwater::runtime::spawn(async move {
        let r = fut.await;
        submit(move |py| {
            let res = r.map(|()| py.None()).map_err(|e| make_err(py, &e));
            resolve_future(py, &event_loop, &fut_py, res);
        });
    });
}
