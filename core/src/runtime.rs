//! The one process-wide tokio runtime. Every background task (connections, producers' senders, the
//! embedded broker) runs here, so futures handed to users only await channels and work on any executor.
//!
//! Fork-aware: a child process cannot use the parent's runtime (its threads do not exist there), so a
//! `pthread_atfork` child handler marks it stale and the next use builds a fresh runtime (the old one is
//! leaked, never dropped: its locks may be held by threads that no longer exist). Objects remember the
//! pid that created them and fail with `Forked` in a child; new objects work.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::sync::{Mutex, Weak};

use tokio::runtime::{Builder, Runtime};

/// Everything that must not cross a fork: the runtime and the per-endpoint cluster registry.
pub(crate) struct ProcessState {
    pub runtime: Runtime,
    pub clusters: tokio::sync::Mutex<HashMap<String, Weak<crate::client::Cluster>>>,
}

static STATE: AtomicPtr<ProcessState> = AtomicPtr::new(std::ptr::null_mut());
static STATE_PID: AtomicU32 = AtomicU32::new(0);
static STALE: AtomicBool = AtomicBool::new(false);
static BUILD: Mutex<()> = Mutex::new(());
/// This process's id, cached: `getpid` on every send would be a syscall per record. 0 = unknown.
static CACHED_PID: AtomicU32 = AtomicU32::new(0);
static ATFORK: std::sync::Once = std::sync::Once::new();

extern "C" fn after_fork_in_child() {
    // Async-signal-safe: only atomic stores.
    STALE.store(true, Ordering::SeqCst);
    CACHED_PID.store(0, Ordering::SeqCst);
}

fn register_fork_handler() {
    ATFORK.call_once(|| {
        // SAFETY: registering a plain extern "C" handler; it only stores atomics.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
}

fn build() -> ProcessState {
    let threads = std::env::var("HEADWATER_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .clamp(2, 4)
        });
    let runtime = Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("headwater-rt")
        .enable_all()
        .build()
        .expect("failed to build the headwater runtime");
    ProcessState {
        runtime,
        clusters: Default::default(),
    }
}

pub(crate) fn state() -> &'static ProcessState {
    let p = STATE.load(Ordering::Acquire);
    if !p.is_null() && !STALE.load(Ordering::Acquire) {
        // SAFETY: set once per process generation from a leaked Box and never freed.
        return unsafe { &*p };
    }
    // After a fork the parent's BUILD lock may be held forever: the child takes a fresh path.
    let stale = STALE.load(Ordering::Acquire);
    let _guard = if stale {
        None
    } else {
        Some(BUILD.lock().unwrap_or_else(|e| e.into_inner()))
    };
    let p = STATE.load(Ordering::Acquire);
    if !p.is_null() && !STALE.load(Ordering::Acquire) {
        // SAFETY: as above.
        return unsafe { &*p };
    }
    register_fork_handler();
    let fresh: &'static ProcessState = Box::leak(Box::new(build()));
    STATE.store(
        fresh as *const ProcessState as *mut ProcessState,
        Ordering::Release,
    );
    STATE_PID.store(std::process::id(), Ordering::Release);
    STALE.store(false, Ordering::Release);
    fresh
}

/// The shared runtime, built on first use (and again in a forked child).
pub fn get() -> &'static Runtime {
    &state().runtime
}

/// Spawns a task on the shared runtime.
pub fn spawn<F>(f: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    get().spawn(f)
}

/// Runs `f` on the shared runtime and awaits its result from any executor.
pub async fn run<F, T>(f: F) -> crate::Result<T>
where
    F: Future<Output = crate::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    match spawn(f).await {
        Ok(r) => r,
        Err(e) => Err(crate::Error::internal(format!(
            "background task failed: {e}"
        ))),
    }
}

/// Blocks the calling (non-runtime) thread on a future; for bindings and synchronous callers.
pub fn block_on<F: Future>(f: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        // Inside a runtime thread: block_in_place keeps the worker from stalling the scheduler.
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| futures_executor::block_on(f))
        }
        _ => futures_executor::block_on(f),
    }
}

/// Current process id (cached; reset in a forked child), used to detect objects inherited across
/// `fork()`.
pub fn pid() -> u32 {
    let p = CACHED_PID.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    register_fork_handler();
    let p = std::process::id();
    CACHED_PID.store(p, Ordering::Relaxed);
    p
}

/// A sleep on the shared runtime's timer, usable from any executor.
pub fn sleep(d: std::time::Duration) -> tokio::time::Sleep {
    let _guard = get().enter();
    tokio::time::sleep(d)
}

/// Runs `f` for at most `d`; `None` if the time ran out. Works from any executor (the timer belongs
/// to the shared runtime, and no runtime context is held across awaits).
pub async fn timeout<F: Future>(d: std::time::Duration, f: F) -> Option<F::Output> {
    let s = sleep(d);
    tokio::pin!(s);
    tokio::pin!(f);
    tokio::select! {
        biased;
        v = &mut f => Some(v),
        _ = &mut s => None,
    }
}
