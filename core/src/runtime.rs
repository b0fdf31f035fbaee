//! The one process-wide tokio runtime. Every background task (connections, producers' senders, the
//! embedded broker) runs here, so futures handed to users only await channels and work on any executor.
//! Fork-aware: objects remember the pid that created them and fail with `Forked` in a child.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static CREATED_PID: OnceLock<u32> = OnceLock::new();

/// The shared runtime, built on first use.
pub fn get() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let _ = CREATED_PID.set(std::process::id());
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
        Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("headwater-rt")
            .enable_all()
            .build()
            .expect("failed to build the headwater runtime")
    })
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

/// Current process id, used to detect objects inherited across `fork()`.
pub fn pid() -> u32 {
    std::process::id()
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
