//! `io.headwater.Producer`'s native half.
//!
//! Futures are completed in groups, not one by one. `Producer.send` puts each future in a slot of a
//! Java array (`Object[4096]`, a fresh one when full) and passes the array, its id and the slot;
//! each send joins the producer's open [`Group`] (records sent one after another into one array,
//! closed at its first completion or by `flush`/`close`), which holds one global reference to the
//! array. When the group's last outstanding record completes, every future of the group is
//! completed in one attached span with one call into Java (`Native.completeAll`). Per record that
//! leaves no JNI call at all on the completing side and no global reference on the sending side; a
//! thread attach, a `RecordMetadata` constructor call and a `complete` call through JNI per record
//! become a handful of JNI calls per group. Core runs a batch's callbacks one after another on one
//! thread, so a group normally completes with the last record of its last batch, and none is held
//! back longer than the batches its records are in. A `sendAll` call is a group of its own, over
//! the call's own array of futures (closed from the start; its slots are not cleared, as that array
//! is the caller's list).
//!
//! Records reach their groups through one core `DeliveryTracker` per producer: each send files a
//! [`Token`] (its group and position) with its batch, and the tracker's sink runs once per batch with
//! all of them, settling each run of a group's records under one lock and completing every group the
//! batch finished in one attached span. No closure is boxed and no `RecordMetadata` (with its own
//! topic string) is built per record. As the token goes in with the send, a record joins its group
//! before it is sent; a refused send withdraws its entry.
//!
//! `flush`/`close` use core's flush barrier (`flush_blocking_tracked`): it waits for the sink runs of
//! the records tracked before it. A group's futures complete when its last record settled, which
//! can be after the sink of an earlier record ran, or outside a sink (a group whose last entry was
//! withdrawn, or a part of a waited-on group, is delivered on a runtime thread). So a flush also
//! counts every group that exists when it starts as one delivery of its own ([`Barrier`]: a core
//! `Mark`, reported once the group's futures are complete): it returns when each future of a record
//! whose send returned before it is complete. It first closes the open group, so no group it waits
//! for takes later records.

//! Waiting sends a record's batch at once (issue 19): `send` returns the record's key (its group's
//! number and its position there, see [`record_key`]), which its Java future (`ProduceFuture`)
//! keeps; `get`/`join` on a future not complete yet call `producerSendNow` with it, which finds the
//! group through the [`Registry`] and calls core's `ProduceOutput::send_now` on the record's
//! pending send (kept in its group entry from the send's return until it settles: an `Arc` clone,
//! no allocation per record). Core seals the record's batch if it is still open and leaves it alone
//! otherwise. As a group's futures complete together, a waited-on group is from then on delivered
//! in parts, each record as soon as its batch completed ([`Parts`]): the waiter does not wait for
//! the group's other batches, which may linger. Groups nobody waits on are delivered as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use headwater::error::{check_range, MAX_COUNT};
use headwater::producer::{
    decode_packed, AsRecord, BatchDelivery, DeliveryTracker, Mark, ProduceOutput,
};
use headwater::{Producer, Record};
use jni::objects::{GlobalRef, JByteArray, JIntArray, JLongArray, JObject, JObjectArray, JString};
use jni::sys::{jboolean, jbyte, jint, jlong, jobject};
use jni::JNIEnv;

use crate::{complete_all, config, string, Fail, R};

/// What the Java `Producer` points at.
struct JProducer {
    inner: Producer,
    /// The topic as a Java string, shared by every `RecordMetadata` this producer completes.
    topic: GlobalRef,
    /// The group new sends join.
    open: Mutex<Option<Arc<Group>>>,
    /// Groups not delivered yet.
    registry: Arc<Registry>,
    /// Files every record with its batch; its sink ([`settle`]) settles a batch's records at once.
    /// Also the flush barrier (see the module doc). Groups hold it weakly.
    delivery: Arc<DeliveryTracker<Token>>,
}

/// What a record filed with the producer's [`DeliveryTracker`] settles: its group's entry `pos`.
struct Token(Arc<Group>, u32);

/// The groups of a producer not delivered yet, by the low 32 bits of their number (what a future's
/// key holds, see [`record_key`]), with the full number: where `producerSendNow` finds a record's
/// batch, and which groups a flush waits for.
#[derive(Default)]
struct Registry {
    st: Mutex<RegistryState>,
}

#[derive(Default)]
struct RegistryState {
    /// The last group number handed out.
    last: u64,
    /// Held weakly: the groups' records' tokens own them.
    live: HashMap<u32, (u64, Weak<Group>)>,
}

impl Registry {
    /// A new group's number; `live` is the group, findable by [`find`](Self::find) until it is
    /// delivered.
    fn open(&self, live: Weak<Group>) -> u64 {
        let mut st = lock(&self.st);
        st.last += 1;
        let seq = st.last;
        st.live.insert(seq as u32, (seq, live));
        seq
    }
    fn remove(&self, seq: u64) {
        let mut st = lock(&self.st);
        if st.live.get(&(seq as u32)).is_some_and(|(s, _)| *s == seq) {
            st.live.remove(&(seq as u32));
        }
    }
    /// The undelivered group whose number ends in the 32 bits `id`.
    fn find(&self, id: u32) -> Option<Arc<Group>> {
        lock(&self.st).live.get(&id).and_then(|(_, g)| g.upgrade())
    }
    /// Every undelivered group.
    fn live(&self) -> Vec<Arc<Group>> {
        let st = lock(&self.st);
        st.live.values().filter_map(|(_, g)| g.upgrade()).collect()
    }
}

/// A group's part in the flush barrier: its number in the [`Registry`] and, once a flush waits for
/// it, the core `Mark` reported when its futures are complete.
struct Barrier {
    seq: u64,
    registry: Arc<Registry>,
    tracker: Weak<DeliveryTracker<Token>>,
    /// Set with `Marked`: read on every send, without the lock.
    marked: AtomicBool,
    mark: Mutex<MarkState>,
}

enum MarkState {
    Unmarked,
    Marked(Mark),
    /// The group was delivered: a later flush has nothing to wait for.
    Delivered,
}

impl Barrier {
    fn new(p: &JProducer, live: Weak<Group>) -> Barrier {
        Barrier {
            seq: p.registry.open(live),
            registry: p.registry.clone(),
            tracker: Arc::downgrade(&p.delivery),
            marked: AtomicBool::new(false),
            mark: Mutex::new(MarkState::Unmarked),
        }
    }
    /// A flush starts: it waits for this group's delivery too (once per group, for every flush).
    fn mark(&self) {
        let mut m = lock(&self.mark);
        if let MarkState::Unmarked = *m {
            if let Some(t) = self.tracker.upgrade() {
                *m = MarkState::Marked(t.mark());
                self.marked.store(true, Ordering::Release);
            }
        }
    }
    /// A flush waits for this group: a record that joins it late has its batch sent at once, so the
    /// flush does not wait out its linger.
    fn is_marked(&self) -> bool {
        self.marked.load(Ordering::Acquire)
    }
    /// Every future of the group is complete.
    fn delivered(&self) {
        self.registry.remove(self.seq);
        let was = std::mem::replace(&mut *lock(&self.mark), MarkState::Delivered);
        if let (MarkState::Marked(m), Some(t)) = (was, self.tracker.upgrade()) {
            t.report(m);
        }
    }
}

/// The key a record's Java future keeps (`ProduceFuture.key`) to have its batch sent at once
/// (`producerSendNow`): the low 32 bits of its group's number, then its position in the group. Never
/// 0 (group numbers start at 1). Two groups share the high half only 2^32 groups apart, and a group
/// is looked up only until it is delivered.
fn record_key(seq: u64, pos: u32) -> jlong {
    ((seq << 32) | pos as u64) as jlong
}

thread_local! {
    /// Set while this thread completes futures, inside or outside core's sink: a `flush` from a
    /// dependent stage would wait for the group being delivered.
    static DELIVERING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How far a group's delivery got. A group is normally delivered once, when its last record's
/// outcome is known. Once a future of it is waited on ([`urged`](Self::urged)), its records are
/// delivered in parts instead, each as soon as its batch completed, so the waiter does not wait for
/// the group's other batches (which may still linger). The group's array of futures is released,
/// and the group marked delivered, by whichever delivery finishes last.
#[derive(Default)]
struct Parts {
    /// A future of the group is waited on: settled records are delivered at once.
    urged: bool,
    /// Deliveries handed out whose futures are not all complete yet (each uses the array).
    busy: u32,
    /// The last delivery was handed out: the group has no record left.
    last: bool,
}

impl Parts {
    /// A delivery is handed out (under the group's lock); `last` if no record is left after it.
    fn start(&mut self, last: bool) {
        self.busy += 1;
        self.last |= last;
    }
    /// A delivery finished (under the group's lock): true if the group is done with its array.
    fn finish(&mut self) -> bool {
        self.busy -= 1;
        self.busy == 0 && self.last
    }
}

/// A delivery ready to be completed: futures of one group and their outcomes (outcome `i` for
/// `futures[slots[i]]`, or for `futures[i]` without slots).
struct Ready {
    group: Arc<Group>,
    slots: Option<Vec<jint>>,
    outcomes: Vec<Option<Outcome>>,
}

/// Completes deliveries in one attached span (see [`complete_all`]); a delivery with no outcome
/// (every record withdrawn) completes nothing. A group whose last delivery this was has its array
/// reference deleted, and is then marked delivered.
fn deliver_all(ready: Vec<Ready>) {
    if ready.is_empty() {
        return;
    }
    let was = DELIVERING.with(|d| d.replace(true));
    let mut reached = 0;
    let mut finished = Vec::new();
    crate::with_attached(|env, c| {
        for r in &ready {
            if !r.outcomes.is_empty() {
                let g = &r.group;
                let slots = r.slots.as_deref();
                let futures = ArrayRef(g.array.0);
                complete_all(env, c, &g.topic, futures, slots, g.shared, &r.outcomes);
            }
            reached += 1;
            if lock(&r.group.st).parts.finish() {
                crate::release_array(env, ArrayRef(r.group.array.0));
                finished.push(&r.group);
            }
        }
        Ok(())
    });
    DELIVERING.with(|d| d.set(was));
    // Deliveries the span did not reach (the thread could not attach, or a panic) still finish.
    for r in &ready[reached..] {
        if lock(&r.group.st).parts.finish() {
            finished.push(&r.group);
        }
    }
    for g in finished {
        g.barrier.delivered();
    }
}

/// Same as [`deliver_all`], on a runtime thread: for deliveries a refused send or a waiter
/// ([`Group::send_now`]) brings about, whose futures complete on a library thread as always, not on
/// the caller's.
fn deliver_later(ready: Ready) {
    headwater::runtime::spawn(async move { deliver_all(vec![ready]) });
}

/// The producer's [`DeliveryTracker`] sink: once per batch, on the completing library thread, the
/// outcome of each record goes to its group, one lock per run of records of one group, and every
/// group this finishes (and every part of a waited-on group it settles, see [`Parts`]) is completed
/// in one attached span.
fn settle(b: BatchDelivery<'_, Token>) {
    let landed = |r: &headwater::producer::TrackedRecord<Token>| -> Outcome {
        b.offset(r).map(|offset| (b.partition, offset, r.timestamp))
    };
    let recs = &b.records;
    let mut ready = Vec::new();
    let mut j = 0;
    while let Some(Token(g, _)) = recs.get(j).map(|r| &r.token) {
        let mut st = lock(&g.st);
        st.closed = true;
        // The run's positions, when its records are delivered at once (urged).
        let mut run = Vec::new();
        while let Some(r) = recs.get(j) {
            let Token(h, pos) = &r.token;
            if !Arc::ptr_eq(g, h) {
                break;
            }
            st.entries[*pos as usize].state = EntryState::Settled(landed(r));
            if st.parts.urged {
                run.push(*pos);
            }
            st.outstanding -= 1;
            j += 1;
        }
        if st.outstanding == 0 {
            let entries = std::mem::take(&mut st.entries);
            st.parts.start(true);
            drop(st);
            ready.push(g.ready(entries));
        } else if let Some((slots, outcomes)) = take_settled(&mut st, run) {
            drop(st);
            ready.push(Ready {
                group: g.clone(),
                slots: Some(slots),
                outcomes,
            });
        }
    }
    deliver_all(ready);
}

/// A raw JNI global reference (to an array of futures), deleted by [`complete_all`] on an attached
/// thread. Plain `jobject` rather than `GlobalRef`: no allocation and no attach on drop.
pub(crate) struct ArrayRef(pub(crate) jobject);
// SAFETY: a global reference may be used from any attached thread.
unsafe impl Send for ArrayRef {}
unsafe impl Sync for ArrayRef {}

/// Where a record landed (partition, offset, timestamp), or why it failed.
pub(crate) type Outcome = headwater::Result<(u32, i64, i64)>;

/// One record of a `send` group.
struct Entry {
    /// The future's slot in the group's array ([`GONE`] once it has no future to complete).
    slot: jint,
    state: EntryState,
}

/// Where a record of a `send` group is.
enum EntryState {
    /// Sent, outcome not known yet; with the pending send once `send` returned it, kept so a wait
    /// on the record's future can have its batch sent at once ([`Group::send_now`]). One `Arc`
    /// clone kept rather than dropped: no allocation per record, and no room beyond the outcome's.
    Sent(Option<ProduceOutput>),
    /// The record's outcome is known.
    Settled(Outcome),
    /// The outcome went to the record's future (a part of the group's delivery).
    Delivered,
}

#[derive(Default)]
struct GroupState {
    /// The group's records, in the order they joined.
    entries: Vec<Entry>,
    /// Entries whose outcome is not known yet.
    outstanding: usize,
    /// No more records join (set at the first completion): the group is delivered exactly once, or
    /// in parts that cover each record exactly once ([`Parts`]).
    closed: bool,
    parts: Parts,
}

/// Records of one producer whose futures sit in one Java array, completed together (or, once one
/// of them is waited on, each as soon as its batch completed: see [`Parts`]): `send`s into a shared
/// array, or one `sendAll` call with its own.
pub(crate) struct Group {
    barrier: Barrier,
    /// Global reference to the array of futures (deleted by the group's last delivery).
    array: ArrayRef,
    /// The Java side's id of a `send` group's shared array; `None` for a `sendAll` call's own.
    array_id: Option<jlong>,
    /// The array is shared by many `send`s: completed slots are cleared (not a `sendAll` call's
    /// own, which the caller holds as its list of futures).
    shared: bool,
    st: Mutex<GroupState>,
    topic: GlobalRef,
}

/// An entry's slot once it has no future to complete: its send was refused, or its future was
/// completed already (by a part of the group's delivery).
const GONE: jint = -1;

impl Entry {
    fn new(slot: jint) -> Entry {
        Entry {
            slot,
            state: EntryState::Sent(None),
        }
    }
}

/// Under a group's lock: the part of an urged group to deliver now, the settled entries among
/// `positions` whose futures are not completed yet (each then marked [`GONE`]); `None` if the group
/// is not urged or there are none.
fn take_settled(
    st: &mut GroupState,
    positions: impl IntoIterator<Item = u32>,
) -> Option<(Vec<jint>, Vec<Option<Outcome>>)> {
    if !st.parts.urged || st.parts.last {
        return None;
    }
    let (mut slots, mut outcomes) = (Vec::new(), Vec::new());
    for pos in positions {
        let Some(e) = st.entries.get_mut(pos as usize) else {
            continue;
        };
        if e.slot != GONE && matches!(e.state, EntryState::Settled(_)) {
            let EntryState::Settled(o) = std::mem::replace(&mut e.state, EntryState::Delivered)
            else {
                unreachable!("matched above")
            };
            slots.push(e.slot);
            outcomes.push(Some(o));
            e.slot = GONE;
        }
    }
    if slots.is_empty() {
        return None;
    }
    st.parts.start(false);
    Some((slots, outcomes))
}

impl Group {
    /// The group's last delivery, from its remaining entries (those without a future left out).
    /// Call after [`Parts::start`]`(true)`.
    fn ready(self: &Arc<Self>, entries: Vec<Entry>) -> Ready {
        let n = entries.len();
        let (slots, outcomes): (Vec<jint>, Vec<Option<Outcome>>) = entries
            .into_iter()
            .filter(|e| e.slot != GONE)
            .map(|e| match e.state {
                EntryState::Settled(o) => (e.slot, Some(o)),
                // not possible once none is outstanding: reported as a missing result
                EntryState::Sent(_) | EntryState::Delivered => (e.slot, None),
            })
            .unzip();
        // A whole `sendAll` call's entries are slots 0..n: Java needs no slot array for them.
        let whole = !self.shared && slots.len() == n;
        Ready {
            group: self.clone(),
            slots: (!whole).then_some(slots),
            outcomes,
        }
    }

    /// No more records join. Returns the group's delivery if it had none outstanding (every entry
    /// withdrawn: nothing else would deliver it); `None` if it was closed already.
    fn close(self: &Arc<Self>) -> Option<Ready> {
        let mut st = lock(&self.st);
        if st.closed {
            return None;
        }
        st.closed = true;
        if st.outstanding != 0 {
            return None;
        }
        let entries = std::mem::take(&mut st.entries);
        st.parts.start(true);
        drop(st);
        Some(self.ready(entries))
    }

    /// Keeps each entry's pending send (just returned by core, with the entry's position) for
    /// [`send_now`](Self::send_now), unless the record already settled (or was delivered).
    fn keep(&self, outputs: impl IntoIterator<Item = (usize, ProduceOutput)>) {
        let mut st = lock(&self.st);
        for (pos, output) in outputs {
            if let Some(Entry {
                slot,
                state: EntryState::Sent(kept),
            }) = st.entries.get_mut(pos)
            {
                if *slot != GONE {
                    *kept = Some(output);
                }
            }
        }
    }

    /// Someone waits on entry `pos`'s future: its batch is sealed and sent now if it is still open,
    /// and from now on the group's records are delivered as their batches complete ([`Parts`]);
    /// those that completed already are delivered at once (on a runtime thread). Core's send-now
    /// takes the partition's lock, under which a batch can complete and settle into this group: the
    /// output is cloned out first, so no group lock is held across it.
    fn send_now(self: &Arc<Self>, pos: u32) {
        let (output, part) = {
            let mut st = lock(&self.st);
            let output = match st.entries.get(pos as usize).map(|e| &e.state) {
                Some(EntryState::Sent(o)) => o.clone(),
                _ => None,
            };
            let part = if st.parts.urged {
                None
            } else {
                st.parts.urged = true;
                let n = st.entries.len() as u32;
                take_settled(&mut st, 0..n)
            };
            (output, part)
        };
        if let Some((slots, outcomes)) = part {
            deliver_later(Ready {
                group: self.clone(),
                slots: Some(slots),
                outcomes,
            });
        }
        if let Some(o) = output {
            o.send_now();
        }
    }

    /// The entries at `positions` were refused (never filed): they leave the group. A closed group
    /// (after its first completion, or a `sendAll` call's) left with none outstanding is delivered
    /// (on a runtime thread); an open one is delivered when it closes.
    fn withdraw(self: &Arc<Self>, positions: std::ops::Range<usize>) {
        let done = {
            let mut st = lock(&self.st);
            st.outstanding -= positions.len();
            for e in &mut st.entries[positions] {
                e.slot = GONE;
            }
            let last = st.outstanding == 0 && st.closed;
            if last {
                st.parts.start(true);
            }
            last.then(|| std::mem::take(&mut st.entries))
        };
        if let Some(entries) = done {
            deliver_later(self.ready(entries));
        }
    }
}

impl JProducer {
    /// Closes the open group: later sends start a new one.
    fn close_open_group(&self) {
        let g = lock(&self.open).take();
        if let Some(ready) = g.and_then(|g| g.close()) {
            deliver_all(vec![ready]);
        }
    }

    /// `flush` (`close` false) or `close`: core's tracked flush or close, which also waits for the
    /// delivery of every group that exists when it starts (see the module doc).
    fn flush_or_close(&self, close: bool, timeout: Option<Duration>) -> headwater::Result<()> {
        if DELIVERING.with(|d| d.get()) {
            return Err(headwater::Error::invalid(
                "flush and close must not be called from inside a delivery callback (they would wait for it)",
            ));
        }
        // Under the `open` lock, where sends make their groups: the open group is closed (it takes
        // no later record), and a group made after this holds only records sent after this call
        // started, which it does not wait for.
        let (closed, live) = {
            let mut open = lock(&self.open);
            (open.take(), self.registry.live())
        };
        if let Some(ready) = closed.and_then(|g| g.close()) {
            deliver_all(vec![ready]);
        }
        for group in live {
            group.barrier.mark();
        }
        if close {
            self.inner.close_blocking_tracked(&self.delivery, timeout)
        } else {
            self.inner.flush_blocking_tracked(&self.delivery, timeout)
        }
    }

    /// Adds slot `slot` of array `array` (id `array_id`) to the open group, or to a new group if the
    /// open one is closed or for another array; returns the group and the entry's position. Call
    /// just before sending the record, from the sending (attached) thread; withdraw the entry if the
    /// send is refused.
    fn join(
        &self,
        env: &mut JNIEnv<'_>,
        array: &JObjectArray<'_>,
        array_id: jlong,
        slot: jint,
    ) -> R<(Arc<Group>, u32)> {
        let mut open = lock(&self.open);
        if let Some(g) = &*open {
            if g.array_id == Some(array_id) {
                let mut st = lock(&g.st);
                if !st.closed {
                    st.entries.push(Entry::new(slot));
                    st.outstanding += 1;
                    let pos = (st.entries.len() - 1) as u32;
                    return Ok((g.clone(), pos));
                }
            }
        }
        let g = self.new_group(env, array, Some(array_id), vec![Entry::new(slot)])?;
        // The group it replaces (of another array) takes no more records either.
        let old = open.replace(g.clone());
        drop(open);
        if let Some(ready) = old.and_then(|o| o.close()) {
            deliver_all(vec![ready]);
        }
        Ok((g, 0))
    }

    /// A new group over `array` (a `send` group's shared one with its `array_id`, or without one a
    /// `sendAll` call's own, closed from the start), whose records are `entries` (outstanding).
    fn new_group(
        &self,
        env: &mut JNIEnv<'_>,
        array: &JObjectArray<'_>,
        array_id: Option<jlong>,
        entries: Vec<Entry>,
    ) -> R<Arc<Group>> {
        let array = global_ref(env, array)?;
        let shared = array_id.is_some();
        Ok(Arc::new_cyclic(|me| Group {
            barrier: Barrier::new(self, me.clone()),
            array,
            array_id,
            shared,
            st: Mutex::new(GroupState {
                outstanding: entries.len(),
                entries,
                closed: !shared,
                parts: Parts::default(),
            }),
            topic: self.topic.clone(),
        }))
    }
}

/// A new global reference to `obj`, owned by the returned [`ArrayRef`].
fn global_ref(env: &mut JNIEnv<'_>, obj: &JObject<'_>) -> R<ArrayRef> {
    let raw = env.get_raw();
    // SAFETY: a valid env of this thread and a live local reference.
    let g = unsafe { ((**raw).NewGlobalRef.expect("JNI NewGlobalRef"))(raw, obj.as_raw()) };
    if g.is_null() {
        return Err(Fail::Jni(jni::errors::Error::NullPtr("NewGlobalRef")));
    }
    Ok(ArrayRef(g))
}

/// Records up to this size are read into a stack buffer (no allocation per send).
const STACK_BYTES: usize = 1024;

/// Runs `f` with the bytes of `arr` (`None` for a null array). Up to [`STACK_BYTES`] are copied into
/// an uninitialised stack buffer with raw JNI calls: no allocation, no zero-filling, no extra
/// exception checks on the per-record path.
fn with_bytes<T>(
    env: &mut JNIEnv<'_>,
    arr: &JByteArray<'_>,
    f: impl FnOnce(&mut JNIEnv<'_>, Option<&[u8]>) -> R<T>,
) -> R<T> {
    if arr.is_null() {
        return f(env, None);
    }
    let raw = env.get_raw();
    // SAFETY: a valid env of this thread and a live, non-null local reference to a byte[].
    let len = unsafe { ((**raw).GetArrayLength.expect("JNI GetArrayLength"))(raw, arr.as_raw()) };
    let len = usize::try_from(len)
        .map_err(|_| Fail::Jni(jni::errors::Error::JniCall(jni::errors::JniError::Unknown)))?;
    if len <= STACK_BYTES {
        let mut buf = std::mem::MaybeUninit::<[u8; STACK_BYTES]>::uninit();
        let ptr = buf.as_mut_ptr().cast::<jbyte>();
        // SAFETY: `ptr` has room for `len` bytes; the region [0, len) of the array exists, so the
        // call cannot raise ArrayIndexOutOfBounds.
        unsafe {
            ((**raw).GetByteArrayRegion.expect("JNI GetByteArrayRegion"))(
                raw,
                arr.as_raw(),
                0,
                len as jint,
                ptr,
            )
        };
        // SAFETY: the JVM wrote exactly `len` bytes at `ptr`.
        let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
        f(env, Some(bytes))
    } else {
        let v = env.convert_byte_array(arr)?;
        f(env, Some(&v))
    }
}

/// No timestamp (`Long.MIN_VALUE` on the Java side).
const NO_TIMESTAMP: jlong = jlong::MIN;
/// No explicit partition (`Long.MIN_VALUE` on the Java side, which an `int` partition never is).
const NO_PARTITION: jlong = jlong::MIN;

/// A partition from Java: [`NO_PARTITION`] (the partitioner decides) or an index checked by core's
/// range rule before it is narrowed (an index past the topic's count is core's `UNKNOWN_PARTITION`).
fn partition(p: jlong) -> headwater::Result<Option<u32>> {
    if p == NO_PARTITION {
        return Ok(None);
    }
    Ok(Some(check_range("partition", p, 0, MAX_COUNT)? as u32))
}

fn timestamp(t: jlong) -> Option<i64> {
    (t != NO_TIMESTAMP).then_some(t)
}

fn producer<'a>(handle: jlong) -> R<&'a JProducer> {
    crate::from_handle(handle, "producer")
}

/// A wait's bound from Java: `forever` (the overloads without a `Duration`), else nanoseconds
/// (`Duration.ZERO` = don't wait; a negative `Duration` is `INVALID_ARGUMENT`, reported as given).
pub(crate) fn timeout(forever: bool, nanos: jlong) -> headwater::Result<Option<Duration>> {
    if forever {
        return Ok(None);
    }
    let n = check_range("timeout_nanos", nanos, 0, jlong::MAX)?;
    Ok(Some(Duration::from_nanos(n as u64)))
}

fn bytes(env: &mut JNIEnv<'_>, arr: &JByteArray<'_>) -> R<Option<Vec<u8>>> {
    if arr.is_null() {
        return Ok(None);
    }
    Ok(Some(env.convert_byte_array(arr)?))
}

natives! {
    /// `static native long producerConnect(String endpoint, String topic, String[] keys, String[]
    /// values)`
    fn Java_io_headwater_Native_producerConnect(
        env,
        endpoint: JString<'l>,
        topic: JString<'l>,
        keys: JObjectArray<'l>,
        values: JObjectArray<'l>,
    ) -> jlong {
        let ep = string(env, &endpoint, "endpoint")?;
        let t = string(env, &topic, "topic")?;
        let cfg = config(env, &keys, &values)?;
        let inner = Producer::connect_blocking(&ep, &t, cfg)?;
        Ok(crate::into_handle(JProducer {
            inner,
            topic: env.new_global_ref(&topic)?,
            open: Mutex::new(None),
            registry: Arc::default(),
            delivery: Arc::new(DeliveryTracker::new(settle)),
        }))
    }

    /// `static native long producerSend(long h, byte[] key, byte[] value, long partition, long
    /// timestamp, Object[] futures, long futuresId, int slot)`: `futures[slot]` is this record's
    /// `CompletableFuture<RecordMetadata>`; `futuresId` identifies the array (see the module doc).
    /// `partition == Long.MIN_VALUE` = partitioner decides, `timestamp == Long.MIN_VALUE` = now.
    /// Returns the record's key for `producerSendNow` (see [`record_key`]).
    #[allow(clippy::too_many_arguments)]
    fn Java_io_headwater_Native_producerSend(
        env,
        handle: jlong,
        key: JByteArray<'l>,
        value: JByteArray<'l>,
        partition: jlong,
        timestamp: jlong,
        futures: JObjectArray<'l>,
        futures_id: jlong,
        slot: jint,
    ) -> jlong {
        let p = producer(handle)?;
        if futures.is_null() {
            return Err(Fail::Null("futures"));
        }
        if value.is_null() {
            return Err(Fail::Null("value"));
        }
        let partition = self::partition(partition)?;
        let ts = self::timestamp(timestamp);
        // The record joins its group first: the group and position are what the send files with
        // its batch. A refused send withdraws it again.
        let (group, pos) = p.join(env, &futures, futures_id, slot)?;
        let sent = with_bytes(env, &key, |env, key| {
            with_bytes(env, &value, |_, value| {
                let value = value.ok_or(Fail::Null("value"))?;
                let token = Token(group.clone(), pos);
                Ok(p.inner
                    .send_blocking_tracked(key, value, partition, ts, &p.delivery, token)?)
            })
        });
        match sent {
            Ok(output) => {
                if group.barrier.is_marked() {
                    // A flush started while this send was on its way: it waits for this record.
                    output.send_now();
                }
                group.keep([(pos as usize, output)]);
                Ok(record_key(group.barrier.seq, pos))
            }
            Err(err) => {
                group.withdraw(pos as usize..pos as usize + 1);
                Err(err)
            }
        }
    }
}

/// Enqueues `records` (sizes checked first by core) and completes `futures[i]` with record `i`'s
/// outcome. Returns the key of record 0 (record `i`'s is that plus `i`, see [`record_key`]), 0 for no
/// records.
fn send_all<Rec: AsRecord>(
    env: &mut JNIEnv<'_>,
    p: &JProducer,
    records: &[Rec],
    futures: &JObjectArray<'_>,
) -> R<jlong> {
    if futures.is_null() {
        return Err(Fail::Null("futures"));
    }
    if env.get_array_length(futures)? as usize != records.len() {
        return Err(Fail::Core(headwater::Error::invalid(
            "sendAll: one future per record",
        )));
    }
    if records.is_empty() {
        return Ok(0);
    }
    let entries = (0..records.len() as jint).map(Entry::new).collect();
    let group = p.new_group(env, futures, None, entries)?;
    // Records whose token core asked for: all but the last were enqueued if the call is refused.
    let mut asked = 0usize;
    let sent = p
        .inner
        .send_all_blocking_tracked(records, &p.delivery, |i| {
            asked += 1;
            Token(group.clone(), i as u32)
        });
    match sent {
        Ok(outputs) => {
            if group.barrier.is_marked() {
                // A flush started during the call: have the batches it waits for sent now (the
                // last record of each partition is in that partition's newest batch).
                let mut seen = Vec::new();
                for o in outputs.iter().rev() {
                    if !seen.contains(&o.partition()) {
                        seen.push(o.partition());
                        o.send_now();
                    }
                }
            }
            group.keep(outputs.into_iter().enumerate());
            Ok(record_key(group.barrier.seq, 0))
        }
        Err(err) => {
            group.withdraw(asked.saturating_sub(1)..records.len());
            Err(err.into())
        }
    }
}

/// The explicit partitions and timestamps of `n` records (`Long.MIN_VALUE` = none), checked before
/// anything is sent.
fn placements(
    env: &mut JNIEnv<'_>,
    n: usize,
    partitions: &JLongArray<'_>,
    timestamps: &JLongArray<'_>,
) -> R<Vec<(Option<u32>, Option<i64>)>> {
    if partitions.is_null() || timestamps.is_null() {
        return Err(Fail::Null("partitions"));
    }
    let mut parts = vec![0 as jlong; n];
    env.get_long_array_region(partitions, 0, &mut parts)?;
    let mut times = vec![0 as jlong; n];
    env.get_long_array_region(timestamps, 0, &mut times)?;
    let mut out = Vec::with_capacity(n);
    for (p, t) in parts.into_iter().zip(times) {
        out.push((partition(p)?, timestamp(t)));
    }
    Ok(out)
}

natives! {
    /// `static native long producerSendAll(long h, byte[][] keys, byte[][] values, long[]
    /// partitions, long[] timestamps, CompletableFuture<?>[] futures)`: one call for many records;
    /// nothing is sent if one is too large (core checks sizes first). Returns record 0's key (see
    /// [`send_all`]). `Producer.sendAll` uses it only when the packed form cannot hold the records
    /// (over 2 GiB of keys or values).
    fn Java_io_headwater_Native_producerSendAll(
        env,
        handle: jlong,
        keys: JObjectArray<'l>,
        values: JObjectArray<'l>,
        partitions: JLongArray<'l>,
        timestamps: JLongArray<'l>,
        futures: JObjectArray<'l>,
    ) -> jlong {
        let p = producer(handle)?;
        if keys.is_null() || values.is_null() {
            return Err(Fail::Null("records"));
        }
        let n = env.get_array_length(&values)? as usize;
        let placed = placements(env, n, &partitions, &timestamps)?;
        let mut records = Vec::with_capacity(n);
        for (i, (partition, timestamp)) in placed.into_iter().enumerate() {
            let k = JByteArray::from(env.get_object_array_element(&keys, i as i32)?);
            let v = JByteArray::from(env.get_object_array_element(&values, i as i32)?);
            let record = Record {
                key: bytes(env, &k)?,
                value: bytes(env, &v)?.ok_or(Fail::Null("value"))?,
                partition,
                timestamp,
            };
            env.delete_local_ref(k)?;
            env.delete_local_ref(v)?;
            records.push(record);
        }
        send_all(env, p, &records, &futures)
    }

    /// `static native long producerSendAllPacked(long h, byte[] keys, int[] keyLengths, byte[]
    /// values, int[] valueLengths, long[] partitions, long[] timestamps, Object[] futures)`:
    /// `sendAll` with every key and value in one array each, decoded by core (`decode_packed`:
    /// record `i` takes the next `keyLengths[i]` bytes of `keys`, -1 = no key, and the next
    /// `valueLengths[i]` bytes of `values`). The two arrays are copied out once; the records borrow
    /// that copy (none is copied per record).
    #[allow(clippy::too_many_arguments)]
    fn Java_io_headwater_Native_producerSendAllPacked(
        env,
        handle: jlong,
        keys: JByteArray<'l>,
        key_lengths: JIntArray<'l>,
        values: JByteArray<'l>,
        value_lengths: JIntArray<'l>,
        partitions: JLongArray<'l>,
        timestamps: JLongArray<'l>,
        futures: JObjectArray<'l>,
    ) -> jlong {
        let p = producer(handle)?;
        if keys.is_null() || values.is_null() || key_lengths.is_null() || value_lengths.is_null() {
            return Err(Fail::Null("packed records"));
        }
        let n = env.get_array_length(&value_lengths)? as usize;
        let ints = |env: &mut JNIEnv<'_>, a: &JIntArray<'_>| -> R<Vec<jint>> {
            let mut v = vec![0 as jint; env.get_array_length(a)? as usize];
            env.get_int_array_region(a, 0, &mut v)?;
            Ok(v)
        };
        let key_lens = ints(env, &key_lengths)?;
        let value_lens = ints(env, &value_lengths)?;
        let placed = placements(env, n, &partitions, &timestamps)?;
        // One copy of each packed array, rather than holding them in place (a critical region)
        // while core may block on a full queue.
        let key_bytes = env.convert_byte_array(&keys)?;
        let value_bytes = env.convert_byte_array(&values)?;
        let mut records = decode_packed(&key_bytes, Some(&key_lens), &value_bytes, &value_lens)?;
        for (r, (partition, timestamp)) in records.iter_mut().zip(placed) {
            r.partition = partition;
            r.timestamp = timestamp;
        }
        send_all(env, p, &records, &futures)
    }

    /// `static native void producerSendNow(long h, long key)`: the future of the record with `key`
    /// (from `producerSend`/`producerSendAll`) is being waited on: its batch is sealed and sent now
    /// if it is still open (core's `ProduceOutput::send_now`). A batch already sealed, or a record
    /// already delivered, is left alone. Never throws but for a panic.
    fn Java_io_headwater_Native_producerSendNow(_env, handle: jlong, key: jlong) {
        let key = key as u64;
        let (id, pos) = ((key >> 32) as u32, key as u32);
        if let Some(g) = producer(handle)?.registry.find(id) {
            g.send_now(pos);
        }
        Ok(())
    }

    /// `static native void producerFlush(long h, boolean forever, long timeoutNanos)`.
    fn Java_io_headwater_Native_producerFlush(
        _env,
        handle: jlong,
        forever: jboolean,
        timeout_nanos: jlong,
    ) {
        let t = timeout(forever != 0, timeout_nanos)?;
        Ok(producer(handle)?.flush_or_close(false, t)?)
    }

    /// `static native void producerClose(long h, boolean forever, long timeoutNanos)`: flush, then
    /// stop (idempotent).
    fn Java_io_headwater_Native_producerClose(
        _env,
        handle: jlong,
        forever: jboolean,
        timeout_nanos: jlong,
    ) {
        let t = timeout(forever != 0, timeout_nanos)?;
        Ok(producer(handle)?.flush_or_close(true, t)?)
    }

    /// `static native int producerPartitionCount(long h)`: the topic's partitions, as the producer
    /// knows them.
    fn Java_io_headwater_Native_producerPartitionCount(_env, handle: jlong) -> jint {
        let n = producer(handle)?.inner.partition_count();
        Ok(jint::try_from(n).unwrap_or(jint::MAX))
    }

    /// `static native int producerCompression(long h)`: the codec id batches are compressed with
    /// (config and topic policy combined).
    fn Java_io_headwater_Native_producerCompression(_env, handle: jlong) -> jint {
        Ok(producer(handle)?.inner.compression().id() as jint)
    }

    /// `static native boolean producerIsClosed(long h)`.
    fn Java_io_headwater_Native_producerIsClosed(_env, handle: jlong) -> jboolean {
        Ok(producer(handle)?.inner.is_closed() as jboolean)
    }

    /// `static native long[] producerStats(long h)`: the counters in `tests/vectors/config.json`
    /// order.
    fn Java_io_headwater_Native_producerStats(env, handle: jlong) -> JLongArray<'l> {
        let s = producer(handle)?.inner.stats();
        let v = s.fields().iter().map(|&(_, x)| x as jlong).collect::<Vec<_>>();
        crate::new_long_array(env, &v)
    }

    /// `static native void producerFree(long h)`: called once, by the Java owner's cleaner.
    fn Java_io_headwater_Native_producerFree(_env, handle: jlong) {
        if let Some(p) = crate::free::<JProducer>(handle) {
            // An open group whose every entry was withdrawn has nothing else to release it.
            p.close_open_group();
        }
        Ok(())
    }
}
