//! The one process-wide tokio runtime. Every background task (connections, producers' senders, the
//! embedded broker) runs here, so futures handed to users only await channels and work on any executor.
//!
//! Fork-aware: a child process cannot use the parent's runtime (its threads do not exist there), so a
//! `pthread_atfork` child handler marks it stale and the next use builds a fresh runtime (the old one is
//! leaked, never dropped: its locks may be held by threads that no longer exist). Objects remember the
//! pid that created them and fail with `Forked` in a child; new objects work.
//!
//! [`shutdown`] stops the runtime and joins its threads once nothing uses it (for C programs that
//! want to exit with no thread of ours alive, e.g. under a leak checker); the next use builds a fresh
//! one, as after fork.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Handle, Runtime};

/// Everything that must not cross a fork: the runtime and the per-endpoint cluster registry.
///
/// One per runtime generation, never freed: callers hold `&'static` references into it (the handle,
/// the registry), so a stopped generation stays allocated, reachable from [`RETIRED`].
pub(crate) struct ProcessState {
    handle: Handle,
    /// Owned here so that [`shutdown`] can stop it; `None` once stopped.
    runtime: Mutex<Option<Runtime>>,
    pub clusters: tokio::sync::Mutex<HashMap<String, Weak<crate::client::Cluster>>>,
    /// The generation stopped before this one, once this one is stopped too (the [`RETIRED`] list).
    retired_next: AtomicPtr<ProcessState>,
}

static STATE: AtomicPtr<ProcessState> = AtomicPtr::new(std::ptr::null_mut());
static STATE_PID: AtomicU32 = AtomicU32::new(0);
static STALE: AtomicBool = AtomicBool::new(false);
/// The stopped generations, newest first, linked through `retired_next`.
static RETIRED: AtomicPtr<ProcessState> = AtomicPtr::new(std::ptr::null_mut());
/// Serialises building and stopping. A flag rather than a `Mutex`: the fork handler releases it in
/// the child, where a parent thread that held it does not exist.
static BUILDING: AtomicBool = AtomicBool::new(false);
/// This process's id, cached: `getpid` on every send would be a syscall per record. 0 = unknown.
static CACHED_PID: AtomicU32 = AtomicU32::new(0);
static ATFORK: std::sync::Once = std::sync::Once::new();

extern "C" fn after_fork_in_child() {
    // Async-signal-safe: only atomic stores.
    STALE.store(true, Ordering::SeqCst);
    CACHED_PID.store(0, Ordering::SeqCst);
    BUILDING.store(false, Ordering::SeqCst);
}

fn register_fork_handler() {
    ATFORK.call_once(|| {
        // SAFETY: registering a plain extern "C" handler; it only stores atomics.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
}

/// Holds [`BUILDING`]; held only for a build or a stop, so waiters spin briefly.
struct BuildLock;

impl BuildLock {
    fn acquire() -> BuildLock {
        while BUILDING
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        BuildLock
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        BUILDING.store(false, Ordering::Release);
    }
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
        handle: runtime.handle().clone(),
        runtime: Mutex::new(Some(runtime)),
        clusters: Default::default(),
        retired_next: AtomicPtr::new(std::ptr::null_mut()),
    }
}

/// The current generation, if there is a usable one.
fn current() -> Option<&'static ProcessState> {
    let p = STATE.load(Ordering::Acquire);
    if p.is_null() || STALE.load(Ordering::Acquire) {
        return None;
    }
    // SAFETY: STATE only ever holds leaked Boxes, never freed (stopped ones move to RETIRED).
    Some(unsafe { &*p })
}

pub(crate) fn state() -> &'static ProcessState {
    if let Some(s) = current() {
        return s;
    }
    let _lock = BuildLock::acquire();
    if let Some(s) = current() {
        return s;
    }
    register_fork_handler();
    // In a forked child the parent's generation is left as it is: its locks may be held by threads
    // that do not exist here.
    let fresh: &'static ProcessState = Box::leak(Box::new(build()));
    STATE.store(
        fresh as *const ProcessState as *mut ProcessState,
        Ordering::Release,
    );
    STATE_PID.store(std::process::id(), Ordering::Release);
    STALE.store(false, Ordering::Release);
    fresh
}

/// Stops the shared runtime and joins its threads, so that nothing of the library runs any more (a
/// leak checker then sees no live thread or connection). For C programs, which have no other way to
/// end the library's threads before exit; other languages never call it.
///
/// It only stops an idle runtime: objects (producers, brokers, admins, consumers) each keep a
/// background task alive, so it waits up to `grace` for the tasks of the objects already dropped to
/// end (a closed connection's reader, a cluster's supervisor; usually milliseconds), and if tasks
/// remain it returns a `Timeout` error and changes nothing. From a runtime thread or inside a task (a
/// delivery callback) it is an `InvalidArgument` error. Nothing to stop (never started, already
/// stopped, or a forked child that has not used the library) is `Ok`.
///
/// The next use of the library builds a fresh runtime, as after fork. The stopped generation stays
/// allocated (a few kilobytes and the runtime's two file descriptors) because references into it
/// may still be held: call this once, at the end. Calls racing with it from other threads are the
/// caller's mistake, but memory-safe: they fail, or run on a fresh runtime.
pub fn shutdown(grace: Duration) -> crate::Result<()> {
    if Handle::try_current().is_ok() {
        return Err(crate::Error::invalid(
            "the runtime cannot be shut down from its own threads (a delivery callback or a task)",
        ));
    }
    let lock = BuildLock::acquire();
    let Some(st) = current() else {
        return Ok(());
    };
    let deadline = Instant::now() + grace;
    loop {
        let alive = st.handle.metrics().num_alive_tasks();
        if alive == 0 {
            break;
        }
        if Instant::now() >= deadline {
            return Err(crate::Error::timeout(format!(
                "shutdown: {alive} background task(s) still running after {} ms; drop every \
                 producer, broker, admin and consumer first",
                grace.as_millis()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let runtime = st.runtime.lock().unwrap_or_else(|e| e.into_inner()).take();
    // Empty now, while nothing holds it: a hash table kept by a stopped generation would show as
    // "possibly lost" to a leak checker.
    if let Ok(mut clusters) = st.clusters.try_lock() {
        *clusters = HashMap::new();
    }
    let p = st as *const ProcessState as *mut ProcessState;
    st.retired_next
        .store(RETIRED.load(Ordering::Acquire), Ordering::Release);
    RETIRED.store(p, Ordering::Release);
    STATE.store(std::ptr::null_mut(), Ordering::Release);
    drop(lock);
    if let Some(rt) = runtime {
        rt.shutdown_timeout(grace);
    }
    Ok(())
}

/// The shared runtime's handle, built on first use (and again in a forked child, or after
/// [`shutdown`]).
pub fn get() -> &'static Handle {
    &state().handle
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// How many threads of this process carry the runtime's thread name.
    fn runtime_threads() -> usize {
        let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim() == "headwater-rt")
            .count()
    }

    /// Stopping the runtime would pull it from under the tests running next to this one, so the
    /// scenario runs in a process of its own: this test binary, filtered to `shutdown_scenario`.
    #[test]
    fn shutdown_stops_the_threads_and_a_later_use_starts_afresh() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "runtime::tests::shutdown_scenario",
                "--exact",
                "--ignored",
                "--test-threads=1",
            ])
            .env("HEADWATER_SHUTDOWN_SCENARIO", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    #[ignore = "run by shutdown_stops_the_threads_and_a_later_use_starts_afresh, in its own process"]
    fn shutdown_scenario() {
        assert!(
            std::env::var_os("HEADWATER_SHUTDOWN_SCENARIO").is_some(),
            "run through shutdown_stops_the_threads_and_a_later_use_starts_afresh"
        );
        // Nothing started: nothing to stop.
        shutdown(Duration::from_secs(1)).unwrap();
        assert_eq!(runtime_threads(), 0);

        // A task still running (as an object's would be): refused, and the runtime keeps working.
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (started, has_started) = std::sync::mpsc::channel::<()>();
        let task = spawn(async move {
            let _ = started.send(());
            let _ = released.await;
        });
        // A worker names itself as it starts, so count only once one has run the task: on a busy
        // machine a freshly created thread can still carry the parent's name.
        has_started.recv().unwrap();
        assert!(runtime_threads() > 0);
        let busy = shutdown(Duration::from_millis(50)).unwrap_err();
        assert_eq!(busy.kind, ErrorKind::Timeout, "{busy}");
        let inside = block_on(spawn(async { shutdown(Duration::ZERO) })).unwrap();
        assert_eq!(inside.unwrap_err().kind, ErrorKind::InvalidArgument);

        // Once the task ends, the runtime stops and its threads are joined.
        release.send(()).unwrap();
        block_on(task).unwrap();
        shutdown(Duration::from_secs(10)).unwrap();
        assert_eq!(runtime_threads(), 0);
        shutdown(Duration::from_secs(1)).unwrap();

        // The next use builds a fresh runtime, which stops the same way.
        assert_eq!(block_on(spawn(async { 7 })).unwrap(), 7);
        assert!(runtime_threads() > 0);
        shutdown(Duration::from_secs(10)).unwrap();
        assert_eq!(runtime_threads(), 0);
    }
}
