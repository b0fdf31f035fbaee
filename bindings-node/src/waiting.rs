//! Awaiting a send sends its batch now: the records of every pending `send`/`sendAll`, by ticket.
//!
//! A `send` files its promise and its record's `ProduceOutput` here under a *ticket*, a number unique
//! in this JS environment, which index.js keeps on the promise it returns. When someone starts waiting
//! on that promise (`await`, `then`, `Promise.all`, ...), index.js queues the ticket for `sendNow`
//! (one call per microtask) and core seals the record's batch if it is still open
//! (`ProduceOutput::send_now`: an atomic flag per batch, so later waiters on the same batch cost
//! nothing). A `sendAll` files its records' outputs; its promise is settled by its group. An entry
//! leaves when its promise settles (then its ticket is never valid again).
//!
//! Only the JS thread of one environment touches its store (a thread-local: Node runs each environment
//! on its own thread). Tickets are consecutive, so the store is a deque indexed by ticket: filing and
//! taking cost no hashing and no allocation. Entries still pending behind many settled ones (a record
//! stuck on a stalled partition while others flow) are moved to a map, so the deque never holds much
//! more than what is pending.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};

use headwater::producer::ProduceOutput;
use napi::bindgen_prelude::FromNapiValue;
use napi::Result;

use crate::js::{Env, Value};
use crate::rt::{self, SendPromise};

/// What a ticket stands for.
pub enum Waiting {
    /// A `send`: its promise (settled by the drain) and its record.
    Send(SendPromise, ProduceOutput),
    /// A `sendAll`'s records (its promise belongs to its group).
    All(Vec<ProduceOutput>),
}

impl Waiting {
    fn send_now(&self) {
        match self {
            Waiting::Send(_, o) => o.send_now(),
            Waiting::All(outs) => outs.iter().for_each(ProduceOutput::send_now),
        }
    }
}

/// Below this length the deque is never compacted.
const COMPACT_MIN: usize = 4096;

struct Store {
    /// The ticket of `live[0]`. Tickets start at 1: 0 means "none" to index.js.
    base: u64,
    /// Entries by ticket from `base` on; `None` once taken.
    live: VecDeque<Option<Waiting>>,
    /// The `Some` entries of `live`.
    count: usize,
    /// Pending entries older than `base`.
    old: HashMap<u64, Waiting>,
}

thread_local! {
    /// index.js's register (its first element and length): element 0 is where the fast sends return
    /// each promise's ticket, without a second return value; elements 1.. are the tickets `sendNow`
    /// is given, queued by index.js.
    static REGISTER: Cell<(*mut f64, usize)> = const { Cell::new((std::ptr::null_mut(), 0)) };
    static STORE: RefCell<Store> = RefCell::new(Store {
        base: 1,
        live: VecDeque::new(),
        count: 0,
        old: HashMap::new(),
    });
}

impl Store {
    fn file(&mut self, w: Waiting) -> u64 {
        let t = self.next();
        self.live.push_back(Some(w));
        self.count += 1;
        if self.live.len() >= COMPACT_MIN && self.live.len() > 4 * self.count {
            self.compact();
        }
        t
    }

    fn next(&self) -> u64 {
        self.base + self.live.len() as u64
    }

    /// Moves the pending entries of the older half of `live` to `old` (settled ones are most of it).
    fn compact(&mut self) {
        for _ in 0..self.live.len() / 2 {
            if let Some(Some(w)) = self.live.pop_front() {
                self.old.insert(self.base, w);
                self.count -= 1;
            }
            self.base += 1;
        }
        self.trim();
    }

    /// Drops the taken entries at the front.
    fn trim(&mut self) {
        while let Some(None) = self.live.front() {
            self.live.pop_front();
            self.base += 1;
        }
    }

    fn take(&mut self, t: u64) -> Option<Waiting> {
        if t < self.base {
            return self.old.remove(&t);
        }
        let w = self.live.get_mut((t - self.base) as usize)?.take()?;
        self.count -= 1;
        self.trim();
        Some(w)
    }

    fn get(&self, t: u64) -> Option<&Waiting> {
        if t < self.base {
            return self.old.get(&t);
        }
        self.live.get((t - self.base) as usize)?.as_ref()
    }
}

/// Registers index.js's register, a `Float64Array` over an `ArrayBuffer` of its own.
pub fn set_register(env: Env, register: Value) -> Result<()> {
    let r = unsafe { <&mut [f64]>::from_napi_value(env, register) }?;
    if r.len() < 2 {
        return Err(napi::Error::from_reason(
            "the register must be a Float64Array of length 2 or more",
        ));
    }
    // The backing store of an ArrayBuffer stays put; the reference keeps it alive.
    rt::keep_ticket_register(env, register)?;
    REGISTER.with(|c| c.set((r.as_mut_ptr(), r.len())));
    Ok(())
}

/// Writes `ticket` (0: none) to the register, for index.js to read after the call.
pub fn report(ticket: u64) {
    let (r, _) = REGISTER.with(Cell::get);
    if !r.is_null() {
        // SAFETY: `set_register` checked it points at a live Float64Array's first element.
        unsafe { r.write(ticket as f64) };
    }
}

/// Someone started waiting on the promises of the `n` tickets queued in the register (elements
/// `1..=n`): their records' batches are sealed and sent if still open. A ticket already settled, or
/// anything that is not a ticket, does nothing.
pub fn send_now_queued(n: usize) {
    let (r, len) = REGISTER.with(Cell::get);
    if r.is_null() {
        return;
    }
    // SAFETY: `set_register` checked `r` is the first of `len` elements of a live Float64Array.
    let queued = unsafe { std::slice::from_raw_parts(r.add(1), n.min(len - 1)) };
    STORE.with(|s| {
        let s = s.borrow();
        for &t in queued {
            if (1.0..9007199254740992.0).contains(&t) {
                if let Some(w) = s.get(t as u64) {
                    w.send_now();
                }
            }
        }
    });
}

/// The ticket the next [`file`] returns (a `send` names its record's delivery token before filing it).
pub fn next() -> u64 {
    STORE.with(|s| s.borrow().next())
}

/// Files `w`; returns its ticket.
pub fn file(w: Waiting) -> u64 {
    STORE.with(|s| s.borrow_mut().file(w))
}

/// Removes and returns ticket `t`'s entry (`None` if there is none).
pub fn take(t: u64) -> Option<Waiting> {
    STORE.with(|s| s.borrow_mut().take(t))
}

/// The promises of the `send` tickets `ts`, removed (one borrow for a whole drain).
pub fn take_sends(ts: impl Iterator<Item = u64>) -> Vec<Option<SendPromise>> {
    STORE.with(|s| {
        let mut s = s.borrow_mut();
        ts.map(|t| match s.take(t) {
            Some(Waiting::Send(d, _)) => Some(d),
            _ => None,
        })
        .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store {
            base: 1,
            live: VecDeque::new(),
            count: 0,
            old: HashMap::new(),
        }
    }

    #[test]
    fn tickets_stay_valid_across_compaction() {
        let mut s = store();
        let stuck = s.file(Waiting::All(Vec::new()));
        let mut pending = Vec::new();
        for i in 0..100_000u64 {
            let t = s.file(Waiting::All(Vec::new()));
            if i % 1000 == 0 {
                pending.push(t);
            } else {
                assert!(s.take(t).is_some());
            }
        }
        // settled entries behind the stuck one were dropped
        assert!(s.live.len() < 2 * COMPACT_MIN, "{}", s.live.len());
        assert!(s.get(stuck).is_some());
        for t in pending {
            assert!(s.take(t).is_some());
            assert!(s.take(t).is_none());
        }
        assert!(s.take(stuck).is_some());
        assert!(s.get(stuck).is_none());
        assert!(s.take(0).is_none());
        assert!(s.take(s.next()).is_none());
    }
}
