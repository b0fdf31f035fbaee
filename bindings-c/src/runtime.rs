//! `hw_shutdown`: stops the library's threads once every object is freed, and the count of live
//! objects it checks first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::Thread;
use std::time::Duration;

use crate::error::hw_error;
use crate::ffi::guard_send;

/// How long `hw_shutdown` waits for the background work of freed objects to end (a reconnection
/// attempt of a freed admin can take a few seconds; usually it is milliseconds).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How many objects of one kind are alive: created and not yet freed.
pub(crate) struct LiveCount(AtomicUsize);

impl LiveCount {
    pub(crate) fn created(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    pub(crate) fn freed(&self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

pub(crate) static PRODUCERS: LiveCount = LiveCount(AtomicUsize::new(0));
pub(crate) static BROKERS: LiveCount = LiveCount(AtomicUsize::new(0));
pub(crate) static ADMINS: LiveCount = LiveCount(AtomicUsize::new(0));

/// A handle to the thread that last called `hw_shutdown` (the program's main thread, usually).
/// std keeps every thread's own handle in a thread-local as a pointer into the middle of its
/// allocation and frees it when the thread exits, which the main thread never does before the
/// process ends: a leak checker then calls those 48 bytes "possibly lost". A clone held here points
/// at the allocation's start, so they are reachable, as they really are.
static CALLER: Mutex<Option<Thread>> = Mutex::new(None);

/// Stops the library's background threads and frees what they hold, so that a program that freed
/// everything exits with nothing of the library running (valgrind and leak checkers then report no
/// leak, with no suppression file). Optional: without it the threads simply end with the process.
/// Call it last, after `hw_producer_free`, `hw_broker_stop` and `hw_admin_free` of every object,
/// from the thread that ends the program (main's, usually), while no other thread calls the
/// library. While a producer, broker or admin is alive it changes nothing and returns an
/// `HW_ERROR_KIND_INVALID_ARGUMENT` error saying how many of each (so does a call from inside a
/// callback). It waits up to 10 s for the background work of freed objects to end (usually
/// milliseconds), else it changes nothing and returns an `HW_ERROR_KIND_TIMEOUT` error. Returns
/// NULL when stopped, or when there was nothing to stop. Afterwards the library is still usable:
/// the next call starts fresh threads (call `hw_shutdown` again at the end). In a child process
/// after `fork()`, objects inherited from the parent count as alive until freed.
#[no_mangle]
pub extern "C" fn hw_shutdown() -> *mut hw_error {
    // guard_send, not guard: guard enters the runtime, which would start one only to stop it.
    guard_send(|| {
        let alive: Vec<String> = [
            (PRODUCERS.get(), "producer"),
            (BROKERS.get(), "broker"),
            (ADMINS.get(), "admin"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}{}", if *n == 1 { "" } else { "s" }))
        .collect();
        if !alive.is_empty() {
            return Err(hw::Error::invalid(format!(
                "hw_shutdown: {} still alive; free every producer, broker and admin first",
                alive.join(", ")
            )));
        }
        hw::runtime::shutdown(SHUTDOWN_GRACE)?;
        *CALLER.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::thread::current());
        Ok(())
    })
}
