//! Awaiting a `sendAll` sends its batches now: the records of every pending `sendAll`, by ticket; and
//! the register index.js shares with the fast functions.
//!
//! A `sendAll` files its records' `ProduceOutput`s here under a *ticket*, a number unique in this JS
//! environment, which index.js keeps on the promise it returns. When someone starts waiting on that
//! promise (`await`, `then`, `Promise.all`, ...), index.js queues the ticket for `sendNow` (one call
//! per microtask) and core seals the records' batches if still open (`ProduceOutput::send_now`: an
//! atomic flag per batch, so later waiters on the same batch cost nothing). Its promise is settled when
//! its last batch is done; the entry leaves then (its ticket is never valid again). A `send` keeps nothing here:
//! index.js queues its batch (producer, partition, batch id) instead.
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

/// What a ticket stands for: a `sendAll`'s records.
pub type Waiting = std::sync::Arc<[ProduceOutput]>;

/// The register's layout: elements `0..RETURNED` hold what the last fast send returned; then
/// `sendNow`'s queue of tickets (`urge_max` of them), then its queue of batches, (producer id,
/// partition, batch id) each (`urge_max` of them): `RETURNED + 4 * urge_max` elements in all.
const RETURNED: usize = 3;

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
    /// index.js's register (its first element and length; layout at [`RETURNED`]): where the fast
    /// sends return numbers without allocating a JS value, and where index.js queues what `sendNow`
    /// is given.
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

/// Takes index.js's register, a `Float64Array` over an `ArrayBuffer` of its own.
pub fn set_register(env: Env, register: Value) -> Result<()> {
    let r = unsafe { <&mut [f64]>::from_napi_value(env, register) }?;
    if r.len() < RETURNED + 4 || !(r.len() - RETURNED).is_multiple_of(4) {
        return Err(napi::Error::from_reason(
            "the register must be a Float64Array of 3 + 4n elements (n >= 1)",
        ));
    }
    // The backing store of an ArrayBuffer stays put; `rt::Slot::Register` keeps it alive.
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

/// What a `send` accepted by core returns: its sequence number (the ticket of its batch if it is the
/// batch's first `send`), partition and batch id (index.js builds its output from them).
pub fn report_send(seq: u64, partition: u32, batch_id: u64) {
    let (r, _) = REGISTER.with(Cell::get);
    if !r.is_null() {
        // SAFETY: as in `report`; the register has at least `RETURNED` elements.
        unsafe {
            r.write(seq as f64);
            r.add(1).write(partition as f64);
            r.add(2).write(batch_id as f64);
        }
    }
}

/// The `i`th queue of the register (0: tickets, 1: batches), its first `n` entries.
fn queued(i: usize, n: usize) -> &'static [f64] {
    let (r, len) = REGISTER.with(Cell::get);
    if r.is_null() {
        return &[];
    }
    let max = (len - RETURNED) / 4;
    let (start, width) = if i == 0 {
        (RETURNED, 1)
    } else {
        (RETURNED + max, 3)
    };
    // SAFETY: `set_register` checked `r` is the first of `len` elements of a live Float64Array
    // (kept alive by its reference); both queues are inside it.
    unsafe { std::slice::from_raw_parts(r.add(start), n.min(max) * width) }
}

/// The batches queued for `sendNow` (the first `n` of its second queue): (producer id, partition,
/// batch id) each.
pub fn queued_batches(n: usize) -> impl Iterator<Item = (f64, f64, f64)> {
    queued(1, n).chunks_exact(3).map(|c| (c[0], c[1], c[2]))
}

/// Someone started waiting on the promises of the `n` tickets queued in the register: their
/// records' batches are sealed and sent if still open. A ticket already settled, or anything that
/// is not a ticket, does nothing.
pub fn send_now_queued(n: usize) {
    let queued = queued(0, n);
    STORE.with(|s| {
        let s = s.borrow();
        for &t in queued {
            if (1.0..9007199254740992.0).contains(&t) {
                if let Some(w) = s.get(t as u64) {
                    w.iter().for_each(ProduceOutput::send_now);
                }
            }
        }
    });
}

/// Files `w`; returns its ticket.
pub fn file(w: Waiting) -> u64 {
    STORE.with(|s| s.borrow_mut().file(w))
}

/// Removes and returns ticket `t`'s entry (`None` if there is none).
pub fn take(t: u64) -> Option<Waiting> {
    STORE.with(|s| s.borrow_mut().take(t))
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
        let stuck = s.file(Vec::new().into());
        let mut pending = Vec::new();
        for i in 0..100_000u64 {
            let t = s.file(Vec::new().into());
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
