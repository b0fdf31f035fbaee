//! `io.headwater.Producer`'s native half.
//!
//! Futures are completed in groups, not one by one. `Producer.send` puts each future in a slot of a
//! Java array (`Object[4096]`, a fresh one when full) and passes the array, its id and the slot;
//! each send joins the producer's open [`Group`] (records sent one after another into one array,
//! closed at its first completion or by `flush`/`close`), which holds one global reference to the
//! array. When the group's last outstanding record completes, every future of the group is
//! completed in one attached span with one call into Java (`Native.completeAll`). Per record that leaves no JNI call at all on the
//! completing side and no global reference on the sending side; a thread attach, a `RecordMetadata`
//! constructor call and a `complete` call through JNI per record become a handful of JNI calls per
//! group. Core runs a batch's callbacks one after another on one thread, so a group normally
//! completes with the last record of its last batch, and none is held back longer than the batches
//! its records are in. `sendAll` works the same way with the call's own array of futures.
//!
//! Records reach their groups through one core `DeliveryTracker` per producer: each send files a
//! [`Token`] (its group and position) with its batch, and the tracker's sink runs once per batch with
//! all of them, settling each run of a group's records under one lock and completing every group the
//! batch finished in one attached span. No closure is boxed and no `RecordMetadata` (with its own
//! topic string) is built per record. As the token goes in with the send, a record joins its group
//! before it is sent; a refused send withdraws its entry, and `flush`/`close` first wait for sends
//! that joined before them to return (see [`InFlight`]), so they wait for exactly the records they
//! waited for before.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use headwater::producer::{BatchDelivery, DeliveryTracker};
use headwater::{Producer, Record};
use jni::objects::{
    GlobalRef, JByteArray, JClass, JIntArray, JLongArray, JObject, JObjectArray, JString,
};
use jni::sys::{jbyte, jint, jlong, jlongArray, jobject};
use jni::JNIEnv;

use crate::{complete_all, config, run, string, Fail, R};

/// What the Java `Producer` points at.
struct JProducer {
    inner: Producer,
    /// The topic as a Java string, shared by every `RecordMetadata` this producer completes.
    topic: GlobalRef,
    /// The group new sends join.
    open: Mutex<Option<Arc<Group>>>,
    /// Groups (of `send`s and of `sendAll` calls) not delivered yet.
    tracker: Arc<Tracker>,
    /// Files every record with its batch; its sink ([`settle`]) settles a batch's records at once.
    delivery: DeliveryTracker<Token>,
    /// Sends that joined a group and have not returned yet.
    in_flight: InFlight,
}

/// What a record filed with the producer's [`DeliveryTracker`] settles.
enum Token {
    /// Entry `pos` of a `send` group.
    Send(Arc<Group>, u32),
    /// Record `i` of a `sendAll` call.
    All(Arc<CallGroup>, u32),
}

/// Sends (and `sendAll` calls) between joining their group and returning, counted by epoch parity
/// so `flush`/`close` can wait for those that joined before them without waiting for later ones:
/// the epoch moves on (under the `open` lock, where sends join) when a flush closes the open group,
/// and the flush waits until the old epoch's count drops to zero. Flushes take turns (`turn`), so
/// a parity's count only ever holds one epoch's sends.
#[derive(Default)]
struct InFlight {
    /// Changed only under the producer's `open` lock.
    epoch: std::sync::atomic::AtomicUsize,
    counts: [std::sync::atomic::AtomicUsize; 2],
    turn: Mutex<()>,
}

impl InFlight {
    /// Under the `open` lock: one more send in the current epoch; returns the parity to `leave`.
    fn enter(&self) -> usize {
        let e = self.epoch.load(std::sync::atomic::Ordering::Relaxed) & 1;
        self.counts[e].fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        e
    }
    fn leave(&self, e: usize) {
        self.counts[e].fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
    /// Waits until the sends of epoch parity `e` have returned; false if `deadline` passed first.
    fn drain(&self, e: usize, deadline: Option<std::time::Instant>) -> bool {
        let mut spins = 0u32;
        while self.counts[e].load(std::sync::atomic::Ordering::Acquire) != 0 {
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return false;
            }
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        true
    }
}

/// Which groups of a producer are not delivered yet, so `flush`/`close` can wait for the ones that
/// hold records sent before them: core completes every batch before its flush returns, but a group
/// can also hold a record of a batch that core's flush did not wait for (another thread's record, or
/// one whose callback core ran later on a task), and its futures must still be complete when `flush`
/// returns.
#[derive(Default)]
struct Tracker {
    st: Mutex<(u64, std::collections::BTreeSet<u64>)>,
    cv: std::sync::Condvar,
}

thread_local! {
    /// Set while this thread completes futures: a `flush` from a dependent stage must not wait for
    /// the group being delivered.
    static DELIVERING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Tracker {
    /// A new group's sequence number.
    fn open(&self) -> u64 {
        let mut st = self.st.lock().unwrap_or_else(|e| e.into_inner());
        st.0 += 1;
        let seq = st.0;
        st.1.insert(seq);
        seq
    }
    /// The last sequence number handed out.
    fn last(&self) -> u64 {
        self.st.lock().unwrap_or_else(|e| e.into_inner()).0
    }
    fn delivered(&self, seq: u64) {
        let mut st = self.st.lock().unwrap_or_else(|e| e.into_inner());
        st.1.remove(&seq);
        drop(st);
        self.cv.notify_all();
    }
    /// Waits until every group up to `seq` is delivered; false if `timeout` ran out first.
    fn wait_upto(&self, seq: u64, timeout: Option<Duration>) -> bool {
        if DELIVERING.with(|d| d.get()) {
            return true;
        }
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut st = self.st.lock().unwrap_or_else(|e| e.into_inner());
        while st.1.first().is_some_and(|&first| first <= seq) {
            st = match deadline {
                None => self.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.cv
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        true
    }
}

/// A group ready to be completed: what [`complete_all`] takes, and the group's number to mark
/// delivered after.
struct Ready {
    tracker: Arc<Tracker>,
    seq: u64,
    topic: GlobalRef,
    futures: ArrayRef,
    slots: Option<Vec<jint>>,
    outcomes: Vec<Option<Outcome>>,
}

/// Completes groups in one attached span (see [`complete_all`]); a group with no outcome (every
/// record withdrawn) only has its array reference deleted. Each is then marked delivered.
fn deliver_all(ready: Vec<Ready>) {
    if ready.is_empty() {
        return;
    }
    let was = DELIVERING.with(|d| d.replace(true));
    crate::with_attached(|env, c| {
        for r in &ready {
            if r.outcomes.is_empty() {
                crate::release_array(env, ArrayRef(r.futures.0));
            } else {
                complete_all(
                    env,
                    c,
                    &r.topic,
                    ArrayRef(r.futures.0),
                    r.slots.as_deref(),
                    &r.outcomes,
                );
            }
        }
        Ok(())
    });
    DELIVERING.with(|d| d.set(was));
    for r in &ready {
        r.tracker.delivered(r.seq);
    }
}

/// Same as [`deliver_all`], on a runtime thread: for a group a refused send finished, whose futures
/// complete on a library thread as always, not on the sender's.
fn deliver_later(ready: Ready) {
    headwater::runtime::spawn(async move { deliver_all(vec![ready]) });
}

/// The producer's [`DeliveryTracker`] sink: once per batch, on the completing library thread, the
/// outcome of each record goes to its group, one lock per run of records of one group, and every
/// group this finishes is completed in one attached span.
fn settle(b: BatchDelivery<'_, Token>) {
    let landed = |r: &headwater::producer::TrackedRecord<Token>| -> Outcome {
        b.offset(r).map(|offset| (b.partition, offset, r.timestamp))
    };
    let recs = &b.records;
    let mut ready = Vec::new();
    let mut j = 0;
    while j < recs.len() {
        match &recs[j].token {
            Token::Send(g, _) => {
                let done = {
                    let mut st = g.st.lock().unwrap_or_else(|e| e.into_inner());
                    st.closed = true;
                    while let Some(r) = recs.get(j) {
                        let Token::Send(h, pos) = &r.token else { break };
                        if !Arc::ptr_eq(g, h) {
                            break;
                        }
                        st.entries[*pos as usize].1 = Some(landed(r));
                        st.outstanding -= 1;
                        j += 1;
                    }
                    (st.outstanding == 0).then(|| std::mem::take(&mut st.entries))
                };
                if let Some(entries) = done {
                    ready.push(g.ready(entries));
                }
            }
            Token::All(g, _) => {
                let done = {
                    let mut st = g.st.lock().unwrap_or_else(|e| e.into_inner());
                    while let Some(r) = recs.get(j) {
                        let Token::All(h, i) = &r.token else { break };
                        if !Arc::ptr_eq(g, h) {
                            break;
                        }
                        st.0[*i as usize] = Some(landed(r));
                        st.1 -= 1;
                        j += 1;
                    }
                    (st.1 == 0).then(|| std::mem::take(&mut st.0))
                };
                if let Some(outcomes) = done {
                    ready.push(g.ready(outcomes));
                }
            }
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

#[derive(Default)]
struct GroupState {
    /// (slot in the array, outcome once known), in the order the records joined.
    entries: Vec<(jint, Option<Outcome>)>,
    /// Entries whose outcome is not known yet.
    outstanding: usize,
    /// No more records join (set at the first completion): the group is delivered exactly once.
    closed: bool,
}

/// Records of one producer whose futures sit in one Java array, completed together.
pub(crate) struct Group {
    /// This group's number in the producer's [`Tracker`].
    seq: u64,
    tracker: Arc<Tracker>,
    /// Global reference to the array of futures (deleted at delivery).
    array: ArrayRef,
    /// The Java side's id of that array.
    array_id: jlong,
    st: Mutex<GroupState>,
    topic: GlobalRef,
}

/// An entry's slot once its send was refused: it has no future to complete.
const WITHDRAWN: jint = -1;

impl Group {
    /// The group's delivery, from its entries (withdrawn ones left out).
    fn ready(&self, entries: Vec<(jint, Option<Outcome>)>) -> Ready {
        let (slots, outcomes): (Vec<jint>, Vec<Option<Outcome>>) =
            entries.into_iter().filter(|e| e.0 != WITHDRAWN).unzip();
        Ready {
            tracker: self.tracker.clone(),
            seq: self.seq,
            topic: self.topic.clone(),
            futures: ArrayRef(self.array.0),
            slots: Some(slots),
            outcomes,
        }
    }

    /// No more records join. Returns the group's delivery if it had none outstanding (every entry
    /// withdrawn: nothing else would deliver it); `None` if it was closed already.
    fn close(&self) -> Option<Ready> {
        let mut st = self.st.lock().unwrap_or_else(|e| e.into_inner());
        if st.closed {
            return None;
        }
        st.closed = true;
        let entries = (st.outstanding == 0).then(|| std::mem::take(&mut st.entries))?;
        drop(st);
        Some(self.ready(entries))
    }

    /// Entry `pos`'s send was refused: it leaves the group. If that was the group's last outstanding
    /// entry after its first completion, the group is delivered (on a runtime thread); an open group
    /// left with none outstanding is delivered when it closes.
    fn withdraw(&self, pos: u32) {
        let done = {
            let mut st = self.st.lock().unwrap_or_else(|e| e.into_inner());
            st.entries[pos as usize].0 = WITHDRAWN;
            st.outstanding -= 1;
            (st.outstanding == 0 && st.closed).then(|| std::mem::take(&mut st.entries))
        };
        if let Some(entries) = done {
            deliver_later(self.ready(entries));
        }
    }
}

impl JProducer {
    /// Closes the open group: later sends start a new one. `flush`/`close` do this first, so every
    /// future of a record whose `send` returned before them is complete when they return (its group
    /// holds no record sent after them). Returns the parity of the epoch it ends (see [`InFlight`])
    /// and the last group number then.
    fn close_open_group(&self) -> (usize, u64) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        // The epoch moves on with the group: sends that join from now on are not waited for.
        let e = self
            .in_flight
            .epoch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            & 1;
        let upto = self.tracker.last();
        let g = open.take();
        drop(open);
        if let Some(ready) = g.and_then(|g| g.close()) {
            deliver_all(vec![ready]);
        }
        (e, upto)
    }

    /// `flush`/`close`: closes the open group, waits for sends that joined a group before to return,
    /// runs `f` (core's flush or close), then waits (within `timeout` overall) until every group that
    /// existed before is delivered, unless `f` timed out.
    fn flushing(
        &self,
        timeout: Option<Duration>,
        f: impl FnOnce() -> headwater::Result<()>,
    ) -> headwater::Result<()> {
        let start = std::time::Instant::now();
        let late = || {
            headwater::Error::timeout(format!(
                "flush did not complete within {:?}: some futures are not completed yet",
                timeout.unwrap_or_default()
            ))
        };
        let (upto, drained) = {
            let _turn = self
                .in_flight
                .turn
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let (e, upto) = self.close_open_group();
            // Sends that joined a group before this call are enqueued before core's flush seals.
            // Not from a delivery, which does not wait for groups either (see `wait_upto`).
            let drained =
                DELIVERING.with(|d| d.get()) || self.in_flight.drain(e, timeout.map(|t| start + t));
            (upto, drained)
        };
        let r = f();
        if matches!(&r, Err(e) if e.kind == headwater::ErrorKind::Timeout) {
            return r;
        }
        if !drained {
            return Err(late());
        }
        let left = timeout.map(|t| t.saturating_sub(start.elapsed()));
        if !self.tracker.wait_upto(upto, left) {
            return Err(late());
        }
        r
    }

    /// Adds slot `slot` of array `array` (id `array_id`) to the open group, or to a new group if the
    /// open one is closed or for another array; returns the group, the entry's position and the
    /// [`InFlight`] parity to leave once the send returned. Call just before sending the record, from
    /// the sending (attached) thread; withdraw the entry if the send is refused.
    fn join(
        &self,
        env: &mut JNIEnv<'_>,
        array: &JObjectArray<'_>,
        array_id: jlong,
        slot: jint,
    ) -> R<(Arc<Group>, u32, usize)> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = &*open {
            if g.array_id == array_id {
                let mut st = g.st.lock().unwrap_or_else(|e| e.into_inner());
                if !st.closed {
                    st.entries.push((slot, None));
                    st.outstanding += 1;
                    let pos = (st.entries.len() - 1) as u32;
                    return Ok((g.clone(), pos, self.in_flight.enter()));
                }
            }
        }
        let array = global_ref(env, array)?;
        let g = Arc::new(Group {
            seq: self.tracker.open(),
            tracker: self.tracker.clone(),
            array,
            array_id,
            st: Mutex::new(GroupState {
                entries: vec![(slot, None)],
                outstanding: 1,
                closed: false,
            }),
            topic: self.topic.clone(),
        });
        let e = self.in_flight.enter();
        // The group it replaces (of another array) takes no more records either.
        let old = open.replace(g.clone());
        drop(open);
        if let Some(ready) = old.and_then(|o| o.close()) {
            deliver_all(vec![ready]);
        }
        Ok((g, 0, e))
    }

    /// A `sendAll` call's group for `futures`, which `n` records will join; with the [`InFlight`]
    /// parity to leave once the call's send returned.
    fn call_group(
        &self,
        env: &mut JNIEnv<'_>,
        futures: &JObjectArray<'_>,
        n: usize,
    ) -> R<(Arc<CallGroup>, usize)> {
        let arr = global_ref(env, futures)?;
        // Numbered under the `open` lock, with the epoch, like a `send` group.
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let group = Arc::new(CallGroup {
            seq: self.tracker.open(),
            tracker: self.tracker.clone(),
            futures: arr,
            st: Mutex::new((vec![None; n], n)),
            topic: self.topic.clone(),
        });
        let e = self.in_flight.enter();
        drop(open);
        Ok((group, e))
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

fn array_len(env: &mut JNIEnv<'_>, array: &JByteArray<'_>) -> R<usize> {
    if array.is_null() {
        return Err(Fail::Null("packed records"));
    }
    Ok(env.get_array_length(array)? as usize)
}

/// A `byte[]` read in place (`GetPrimitiveArrayCritical`): no other JNI call may be made while one
/// is held; dropping it releases the array without copying back.
struct Critical {
    env: *mut jni::sys::JNIEnv,
    array: jobject,
    data: *const u8,
    len: usize,
}

impl Critical {
    /// `len` is the array's length, read before (no JNI call may come between two `new`s).
    fn new(env: &mut JNIEnv<'_>, array: &JByteArray<'_>, len: usize) -> R<Critical> {
        let raw = env.get_raw();
        // SAFETY: a valid env of this thread and a live local reference to a byte[].
        let data = unsafe {
            ((**raw)
                .GetPrimitiveArrayCritical
                .expect("JNI GetPrimitiveArrayCritical"))(
                raw, array.as_raw(), std::ptr::null_mut()
            )
        };
        if data.is_null() {
            return Err(Fail::Jni(jni::errors::Error::NullPtr(
                "GetPrimitiveArrayCritical",
            )));
        }
        Ok(Critical {
            env: raw,
            array: array.as_raw(),
            data: data as *const u8,
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the VM gave `len` bytes at `data`, valid until release (in `drop`).
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

impl Drop for Critical {
    fn drop(&mut self) {
        // SAFETY: releases what `new` acquired, on the same thread, without copying back.
        unsafe {
            ((**self.env)
                .ReleasePrimitiveArrayCritical
                .expect("JNI ReleasePrimitiveArrayCritical"))(
                self.env,
                self.array,
                self.data as *mut std::ffi::c_void,
                jni::sys::JNI_ABORT,
            )
        };
    }
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

fn producer<'a>(handle: jlong) -> R<&'a JProducer> {
    if handle == 0 {
        return Err(Fail::Core(headwater::Error::closed(
            "the producer handle is gone",
        )));
    }
    // SAFETY: `handle` came from `producerConnect` and Java frees it only once nothing can call it.
    Ok(unsafe { &*(handle as *const JProducer) })
}

fn timeout(ms: jlong) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

fn bytes(env: &mut JNIEnv<'_>, arr: &JByteArray<'_>) -> R<Option<Vec<u8>>> {
    if arr.is_null() {
        return Ok(None);
    }
    Ok(Some(env.convert_byte_array(arr)?))
}

/// `static native long producerConnect(String endpoint, String topic, String[] keys, String[] values)`
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerConnect<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    endpoint: JString<'l>,
    topic: JString<'l>,
    keys: JObjectArray<'l>,
    values: JObjectArray<'l>,
) -> jlong {
    run(&mut env, 0, |env| {
        let ep = string(env, &endpoint, "endpoint")?;
        let t = string(env, &topic, "topic")?;
        let cfg = config(env, &keys, &values)?;
        let inner = Producer::connect_blocking(&ep, &t, cfg)?;
        let topic = env.new_global_ref(&topic)?;
        Ok(Box::into_raw(Box::new(JProducer {
            inner,
            topic,
            open: Mutex::new(None),
            tracker: Arc::default(),
            delivery: DeliveryTracker::new(settle),
            in_flight: InFlight::default(),
        })) as jlong)
    })
}

/// `static native void producerSend(long h, byte[] key, byte[] value, int partition, long timestamp,
/// Object[] futures, long futuresId, int slot)`: `futures[slot]` is this record's
/// `CompletableFuture<RecordMetadata>`; `futuresId` identifies the array (see the module doc).
/// `partition < 0` = partitioner decides, `timestamp == Long.MIN_VALUE` = now.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_headwater_Native_producerSend<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    key: JByteArray<'l>,
    value: JByteArray<'l>,
    partition: jint,
    timestamp: jlong,
    futures: JObjectArray<'l>,
    futures_id: jlong,
    slot: jint,
) {
    run(&mut env, (), |env| {
        let p = producer(handle)?;
        if futures.is_null() {
            return Err(Fail::Null("futures"));
        }
        let partition = (partition >= 0).then_some(partition as u32);
        let ts = (timestamp != NO_TIMESTAMP).then_some(timestamp);
        // The record joins its group first: the group and position are what the send files with
        // its batch. A refused send withdraws it again.
        let (group, pos, e) = p.join(env, &futures, futures_id, slot)?;
        let sent = with_bytes(env, &key, |env, key| {
            with_bytes(env, &value, |_, value| {
                let value = value.ok_or(Fail::Null("value"))?;
                let token = Token::Send(group.clone(), pos);
                Ok(p.inner
                    .send_blocking_tracked(key, value, partition, ts, &p.delivery, token)?)
            })
        });
        p.in_flight.leave(e);
        if let Err(err) = sent {
            group.withdraw(pos);
            return Err(err);
        }
        Ok(())
    })
}

/// The futures of one `sendAll` call, completed together (one attached span, one call into Java with
/// the call's own array) once every record's outcome is known.
struct CallGroup {
    seq: u64,
    tracker: Arc<Tracker>,
    /// Global reference to the call's `Object[]` of futures (deleted by [`complete_all`]).
    futures: ArrayRef,
    st: Mutex<(Vec<Option<Outcome>>, usize)>,
    topic: GlobalRef,
}

impl CallGroup {
    fn ready(&self, outcomes: Vec<Option<Outcome>>) -> Ready {
        Ready {
            tracker: self.tracker.clone(),
            seq: self.seq,
            topic: self.topic.clone(),
            futures: ArrayRef(self.futures.0),
            slots: None,
            outcomes,
        }
    }

    /// The call was refused after its first `filed` records were enqueued: the others never report,
    /// and their futures (which the caller never sees) are left alone. With none filed the array
    /// reference is released here; otherwise the last filed record's report delivers the group, or
    /// a runtime thread does if they have all reported already.
    fn withdraw_from(&self, filed: usize) {
        let done = {
            let mut st = self.st.lock().unwrap_or_else(|e| e.into_inner());
            let gone = st.0.len() - filed;
            st.0.truncate(filed);
            st.1 -= gone;
            (st.1 == 0).then(|| std::mem::take(&mut st.0))
        };
        match done {
            Some(o) if o.is_empty() => deliver_all(vec![self.ready(o)]),
            Some(o) => deliver_later(self.ready(o)),
            None => {}
        }
    }
}

/// Enqueues `records` (sizes checked first by core) and completes `futures[i]` with record `i`'s
/// outcome.
fn send_all(
    env: &mut JNIEnv<'_>,
    p: &JProducer,
    records: &[Record],
    futures: &JObjectArray<'_>,
) -> R<()> {
    if futures.is_null() {
        return Err(Fail::Null("futures"));
    }
    if env.get_array_length(futures)? as usize != records.len() {
        return Err(Fail::Core(headwater::Error::invalid(
            "sendAll: one future per record",
        )));
    }
    if records.is_empty() {
        return Ok(());
    }
    let (group, e) = p.call_group(env, futures, records.len())?;
    // Records whose token core asked for: all but the last were enqueued if the call is refused.
    let mut asked = 0usize;
    let sent = p
        .inner
        .send_all_blocking_tracked(records, &p.delivery, |i| {
            asked += 1;
            Token::All(group.clone(), i as u32)
        });
    p.in_flight.leave(e);
    if let Err(err) = sent {
        group.withdraw_from(asked.saturating_sub(1));
        return Err(err.into());
    }
    Ok(())
}

/// `static native void producerSendAll(long h, byte[][] keys, byte[][] values, int[] partitions,
/// long[] timestamps, CompletableFuture<?>[] futures)`: one call for many records; nothing is sent
/// if one is too large (core checks sizes first). `Producer.sendAll` uses it only when the packed
/// form cannot hold the records (over 2 GiB of keys or values).
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerSendAll<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    keys: JObjectArray<'l>,
    values: JObjectArray<'l>,
    partitions: JIntArray<'l>,
    timestamps: JLongArray<'l>,
    futures: JObjectArray<'l>,
) {
    run(&mut env, (), |env| {
        let p = producer(handle)?;
        let n = env.get_array_length(&values)?;
        let mut parts = vec![0 as jint; n as usize];
        env.get_int_array_region(&partitions, 0, &mut parts)?;
        let mut times = vec![0 as jlong; n as usize];
        env.get_long_array_region(&timestamps, 0, &mut times)?;
        let mut records = Vec::with_capacity(n as usize);
        for i in 0..n {
            let k = JByteArray::from(env.get_object_array_element(&keys, i)?);
            let v = JByteArray::from(env.get_object_array_element(&values, i)?);
            let record = Record {
                key: bytes(env, &k)?,
                value: bytes(env, &v)?.ok_or(Fail::Null("value"))?,
                partition: (parts[i as usize] >= 0).then_some(parts[i as usize] as u32),
                timestamp: (times[i as usize] != NO_TIMESTAMP).then_some(times[i as usize]),
            };
            env.delete_local_ref(k)?;
            env.delete_local_ref(v)?;
            records.push(record);
        }
        send_all(env, p, &records, &futures)
    })
}

/// `static native void producerSendAllPacked(long h, byte[] keys, int[] keyLengths, byte[] values,
/// int[] valueLengths, int[] partitions, long[] timestamps, Object[] futures)`: `sendAll` with every
/// key and value in one array each (record `i` takes the next `keyLengths[i]` bytes of `keys`, -1 =
/// no key, and the next `valueLengths[i]` bytes of `values`): a few JNI calls per call instead of
/// several per record.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_headwater_Native_producerSendAllPacked<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    keys: JByteArray<'l>,
    key_lengths: JIntArray<'l>,
    values: JByteArray<'l>,
    value_lengths: JIntArray<'l>,
    partitions: JIntArray<'l>,
    timestamps: JLongArray<'l>,
    futures: JObjectArray<'l>,
) {
    run(&mut env, (), |env| {
        let p = producer(handle)?;
        let n = env.get_array_length(&value_lengths)? as usize;
        let ints = |env: &mut JNIEnv<'_>, a: &JIntArray<'_>| -> R<Vec<jint>> {
            let mut v = vec![0 as jint; n];
            env.get_int_array_region(a, 0, &mut v)?;
            Ok(v)
        };
        let key_lens = ints(env, &key_lengths)?;
        let value_lens = ints(env, &value_lengths)?;
        let parts = ints(env, &partitions)?;
        let mut times = vec![0 as jlong; n];
        env.get_long_array_region(&timestamps, 0, &mut times)?;
        // Read in place (no copy of the packed arrays); no JNI call is made until both are released.
        let (key_len, value_len) = (array_len(env, &keys)?, array_len(env, &values)?);
        let key_arr = Critical::new(env, &keys, key_len)?;
        let value_arr = Critical::new(env, &values, value_len)?;
        let (key_bytes, value_bytes) = (key_arr.bytes(), value_arr.bytes());
        let bad = || {
            Fail::Core(headwater::Error::invalid(
                "sendAll: inconsistent packed records",
            ))
        };
        let (mut k, mut v) = (0usize, 0usize);
        let mut records = Vec::with_capacity(n);
        for i in 0..n {
            let key = match key_lens[i] {
                -1 => None,
                l if l >= 0 => {
                    let s = key_bytes.get(k..k + l as usize).ok_or_else(bad)?;
                    k += l as usize;
                    Some(s.to_vec())
                }
                _ => return Err(bad()),
            };
            let l = usize::try_from(value_lens[i]).map_err(|_| bad())?;
            let value = value_bytes.get(v..v + l).ok_or_else(bad)?.to_vec();
            v += l;
            records.push(Record {
                key,
                value,
                partition: (parts[i] >= 0).then_some(parts[i] as u32),
                timestamp: (times[i] != NO_TIMESTAMP).then_some(times[i]),
            });
        }
        drop((value_arr, key_arr));
        send_all(env, p, &records, &futures)
    })
}

/// `static native void producerFlush(long h, long timeoutMs)` (`timeoutMs < 0` = no timeout).
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerFlush<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    timeout_ms: jlong,
) {
    run(&mut env, (), |_env| {
        let p = producer(handle)?;
        let t = timeout(timeout_ms);
        p.flushing(t, || p.inner.flush_blocking(t))?;
        Ok(())
    })
}

/// `static native void producerClose(long h, long timeoutMs)`: flush, then stop (idempotent).
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerClose<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    timeout_ms: jlong,
) {
    run(&mut env, (), |_env| {
        let p = producer(handle)?;
        let t = timeout(timeout_ms);
        p.flushing(t, || p.inner.close_blocking(t))?;
        Ok(())
    })
}

/// `static native long[] producerStats(long h)`: the counters in `tests/vectors/config.json` order.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerStats<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) -> jlongArray {
    run(&mut env, std::ptr::null_mut(), |env| {
        let s = producer(handle)?.inner.stats();
        let v = [
            s.records_sent,
            s.records_acked,
            s.records_failed,
            s.bytes_uncompressed,
            s.bytes_compressed,
            s.batches_sent,
            s.requests_sent,
            s.retries,
            s.errors,
            s.queued_records,
            s.queued_batches,
        ]
        .map(|x| x as jlong);
        let arr = env.new_long_array(v.len() as i32)?;
        env.set_long_array_region(&arr, 0, &v)?;
        Ok(arr.into_raw())
    })
}

/// `static native void producerFree(long h)`: called once, by the Java owner's cleaner.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerFree<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) {
    run(&mut env, (), |_env| {
        if handle != 0 {
            // SAFETY: see `producer`; this is the one place that takes the box back.
            let p = unsafe { Box::from_raw(handle as *mut JProducer) };
            // An open group whose every entry was withdrawn has nothing else to release it.
            p.close_open_group();
            drop(p);
        }
        Ok(())
    })
}
