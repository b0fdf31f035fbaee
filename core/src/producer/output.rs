//! Delivery results: one shared [`BatchResult`] per batch, one cheap [`ProduceOutput`] per record.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::{Error, Result};

/// Where a record landed. `offset` is -1 when unknown (at-most-once delivery).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordMetadata {
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
    /// Milliseconds since the epoch, as stored in the batch.
    pub timestamp: i64,
}

type Callback = Box<dyn FnOnce(&Result<i64>) + Send>;

/// The offset of the record at `index` in a batch stored at `base` (-1 when the base is unknown:
/// at-most-once delivery).
fn record_offset(base: i64, index: u32) -> i64 {
    if base < 0 {
        -1
    } else {
        base + index as i64
    }
}

/// Sends a batch that is still open (accumulating records) at once, without waiting out `linger_ms`:
/// what the producer does when someone starts waiting on one of the batch's records.
pub(crate) trait SendNow: Send + Sync {
    fn send_now(&self, partition: u32, batch: &Arc<BatchResult>);
}

/// The outcome of one batch: its base offset or the error that failed it.
pub struct BatchResult {
    value: OnceLock<Result<i64>>,
    notify: Notify,
    callbacks: std::sync::Mutex<Vec<Callback>>,
    /// The topic, once per batch rather than once per record.
    topic: Arc<str>,
    /// Who can send this batch early, and its partition (none for batches made outside a producer).
    sender: Option<(Weak<dyn SendNow>, u32)>,
    /// Names the batch within its partition (see [`ProduceOutput::batch_id`]); 0 outside a producer.
    id: u64,
    /// Set by the first waiter: later waiters do not take the partition's lock again.
    urged: AtomicBool,
}

impl std::fmt::Debug for BatchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchResult")
            .field("value", &self.value.get())
            .finish()
    }
}

impl BatchResult {
    pub fn new(topic: Arc<str>) -> Arc<BatchResult> {
        Self::build(topic, None, 0)
    }

    pub(crate) fn with_sender(
        topic: Arc<str>,
        sender: Weak<dyn SendNow>,
        partition: u32,
        id: u64,
    ) -> Arc<BatchResult> {
        Self::build(topic, Some((sender, partition)), id)
    }

    fn build(
        topic: Arc<str>,
        sender: Option<(Weak<dyn SendNow>, u32)>,
        id: u64,
    ) -> Arc<BatchResult> {
        Arc::new(BatchResult {
            id,
            value: OnceLock::new(),
            notify: Notify::new(),
            callbacks: Default::default(),
            topic,
            sender,
            urged: AtomicBool::new(false),
        })
    }

    /// Someone waits on this batch: if it is still open, seal it and send it now. Only the first
    /// call does anything; a batch already sealed or completed is left as it is.
    pub fn send_now(self: &Arc<Self>) {
        if self.is_done() || self.urged.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some((sender, partition)) = &self.sender {
            if let Some(sender) = sender.upgrade() {
                sender.send_now(*partition, self);
            }
        }
    }
    /// Records the outcome once; later calls are ignored.
    pub fn complete(&self, r: Result<i64>) -> bool {
        let set = self.value.set(r).is_ok();
        if set {
            // Callbacks first: whoever waits on this batch (flush) sees them all run.
            let callbacks = std::mem::take(&mut *self.callbacks.lock().unwrap());
            let v = self.value.get().expect("just set");
            for cb in callbacks {
                cb(v);
            }
            self.notify.notify_waiters();
        }
        set
    }

    /// Runs `cb` once with the outcome: on the completing (library) thread, or on a runtime thread if
    /// the outcome is already known.
    pub fn on_complete(self: &Arc<Self>, cb: impl FnOnce(&Result<i64>) + Send + 'static) {
        {
            let mut cbs = self.callbacks.lock().unwrap();
            if self.value.get().is_none() {
                cbs.push(Box::new(cb));
                return;
            }
        }
        let me = self.clone();
        crate::runtime::spawn(async move { cb(me.value.get().expect("known")) });
    }
    pub fn get(&self) -> Option<&Result<i64>> {
        self.value.get()
    }
    /// The batch's id within its partition (0 outside a producer).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
    pub fn is_done(&self) -> bool {
        self.value.get().is_some()
    }
    /// Waits for the outcome.
    pub async fn wait(&self) -> &Result<i64> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = self.value.get() {
                return v;
            }
            notified.await;
        }
    }
}

/// A pending send. Await it (or call [`wait`](Self::wait)) for the record's metadata; it can be waited
/// on any number of times, from any executor.
#[derive(Debug, Clone)]
pub struct ProduceOutput {
    pub(crate) batch: Arc<BatchResult>,
    pub(crate) index: u32,
    pub(crate) partition: u32,
    pub(crate) timestamp: i64,
}

impl ProduceOutput {
    pub fn partition(&self) -> u32 {
        self.partition
    }
    pub fn done(&self) -> bool {
        self.batch.is_done()
    }
    /// Names this record's batch among its partition's batches (never 0), for bindings that keep
    /// only numbers per record (Go, through C): [`Producer::send_now`](super::Producer::send_now)
    /// with the partition and this id sends the batch now if it is still open.
    pub fn batch_id(&self) -> u64 {
        self.batch.id
    }
    /// This record's offset in a batch with outcome `r`, or the batch's error.
    fn offset_in(&self, r: &Result<i64>) -> Result<i64> {
        match r {
            Ok(base) => Ok(record_offset(*base, self.index)),
            Err(e) => Err(e.clone()),
        }
    }
    fn resolve(&self, r: &Result<i64>) -> Result<RecordMetadata> {
        Ok(RecordMetadata {
            topic: String::from(&*self.batch.topic),
            partition: self.partition,
            offset: self.offset_in(r)?,
            timestamp: self.timestamp,
        })
    }
    /// Calls `cb` exactly once with the record's result, from a library thread (never the caller's).
    pub fn on_done(&self, cb: impl FnOnce(Result<RecordMetadata>) + Send + 'static) {
        let me = self.clone();
        self.batch.on_complete(move |r| cb(me.resolve(r)));
    }

    /// Milliseconds since the epoch, as stored in the batch.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }
    /// The record's offset (-1 when unknown: at-most-once) or its batch's error, if already known:
    /// [`try_get`](Self::try_get) without building a [`RecordMetadata`] (no topic string copied).
    pub fn try_offset(&self) -> Option<Result<i64>> {
        self.batch.get().map(|r| self.offset_in(r))
    }

    /// The result if it is already known.
    pub fn try_get(&self) -> Option<Result<RecordMetadata>> {
        self.batch.get().map(|r| self.resolve(r))
    }
    /// Sends this record's batch now if it is still open (lingering): a caller who waits on one
    /// record needs it now. Every wait (`wait`, `wait_timeout`, `wait_blocking`, `.await`) does this
    /// itself; bindings call it when their language's future starts being awaited. Records sent
    /// without anyone waiting keep lingering and batching.
    pub fn send_now(&self) {
        self.batch.send_now();
    }
    /// Waits for the record's metadata (sending its batch now if it is still open).
    pub async fn wait(&self) -> Result<RecordMetadata> {
        self.send_now();
        let r = self.batch.wait().await;
        self.resolve(r)
    }
    /// Waits at most `timeout` (a `Timeout` error after that; the send itself goes on).
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<RecordMetadata> {
        match crate::runtime::timeout(timeout, self.wait()).await {
            Some(r) => r,
            None => Err(Error::timeout(format!(
                "record not acknowledged within {timeout:?} (it may still be delivered)"
            ))),
        }
    }
    /// Blocks the calling thread (not for use inside async code).
    pub fn wait_blocking(&self, timeout: Option<Duration>) -> Result<RecordMetadata> {
        if let Some(r) = self.try_get() {
            return r;
        }
        self.send_now();
        match timeout {
            Some(t) => crate::runtime::block_on(self.wait_timeout(t)),
            None => crate::runtime::block_on(self.wait()),
        }
    }
}

impl std::future::IntoFuture for ProduceOutput {
    type Output = Result<RecordMetadata>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<RecordMetadata>> + Send>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.wait().await })
    }
}

/// One tracked record of a [`BatchDelivery`]: the caller's token and where the record sits in its batch.
#[derive(Debug)]
pub struct TrackedRecord<T> {
    pub token: T,
    /// Position in the batch: the record's offset is the batch's base offset plus this.
    pub index: u32,
    pub timestamp: i64,
}

/// The outcome of one batch for the records a [`DeliveryTracker`] tracked in it.
#[derive(Debug)]
pub struct BatchDelivery<'a, T> {
    pub topic: &'a str,
    pub partition: u32,
    /// The batch's base offset (negative when unknown: at-most-once), or why it failed.
    pub result: &'a Result<i64>,
    pub records: Vec<TrackedRecord<T>>,
}

impl<T> BatchDelivery<'_, T> {
    /// The offset of `record` (-1 when unknown), or the batch's error.
    pub fn offset(&self, record: &TrackedRecord<T>) -> Result<i64> {
        match self.result {
            Ok(base) => Ok(record_offset(*base, record.index)),
            Err(e) => Err(e.clone()),
        }
    }
}

type Sink<T> = Arc<dyn Fn(BatchDelivery<'_, T>) + Send + Sync>;

thread_local! {
    /// How deep this thread is inside delivery callbacks (tracker sinks).
    static IN_DELIVERY: Cell<u32> = const { Cell::new(0) };
}

/// True on a thread that is running a [`DeliveryTracker`] sink, i.e. a delivery callback. A flush
/// there would wait for its own report: [`DeliveryTracker::wait_reported`] refuses it, and bindings
/// use this to refuse (or skip) their waiting calls.
pub fn in_delivery() -> bool {
    IN_DELIVERY.with(|d| d.get() > 0)
}

/// Runs `sink` counted as a delivery callback on this thread (see [`in_delivery`]).
fn deliver<T>(sink: &Sink<T>, d: BatchDelivery<'_, T>) {
    as_delivery(|| sink(d))
}

/// Runs `f` counted as a delivery callback on this thread (see [`in_delivery`]).
fn as_delivery<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            IN_DELIVERY.with(|c| c.set(c.get() - 1));
        }
    }
    IN_DELIVERY.with(|c| c.set(c.get() + 1));
    let _leave = Leave;
    f()
}

/// Marks not yet reported, as runs of (epoch, count) in epoch order. One run per batch is the rule
/// (a flush's barrier falling inside a batch makes two), so the first run is kept inline.
#[derive(Default)]
struct Tally {
    first: (u64, u64),
    more: Vec<(u64, u64)>,
}

impl Tally {
    fn add(&mut self, epoch: u64) {
        match self.more.last_mut() {
            Some(last) if last.0 == epoch => last.1 += 1,
            Some(_) => self.more.push((epoch, 1)),
            None if self.first.1 == 0 || self.first.0 == epoch => {
                self.first = (epoch, self.first.1 + 1)
            }
            None => self.more.push((epoch, 1)),
        }
    }
    fn runs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        std::iter::once(self.first)
            .filter(|r| r.1 > 0)
            .chain(self.more.iter().copied())
    }
}

/// Records of one batch waiting for its outcome; `done` once the batch's callback took them.
struct Slot<T> {
    done: bool,
    records: Vec<TrackedRecord<T>>,
    /// Their marks, reported once the sink has run.
    marks: Tally,
}

/// The flush barrier's bookkeeping: how many marked sends are not yet reported, by epoch. A
/// [`barrier`](DeliveryTracker::barrier) ends the current epoch; waiting on it waits for the
/// epochs up to it, not for sends marked later (a producer that never stops sending would keep a
/// single count from ever reaching zero).
#[derive(Default)]
struct Reports {
    epoch: u64,
    /// Unreported marks by epoch, oldest first; no zero counts.
    outstanding: VecDeque<(u64, u64)>,
    /// Threads in `wait_reported`: reports only notify when someone waits.
    waiters: usize,
}

impl Reports {
    fn mark(&mut self) -> u64 {
        match self.outstanding.back_mut() {
            Some((e, n)) if *e == self.epoch => *n += 1,
            _ => self.outstanding.push_back((self.epoch, 1)),
        }
        self.epoch
    }
    /// Returns whether anyone should be woken.
    fn report(&mut self, epoch: u64, count: u64) -> bool {
        if let Some(i) = self.outstanding.iter().position(|(e, _)| *e == epoch) {
            let run = &mut self.outstanding[i];
            run.1 = run.1.saturating_sub(count);
            if run.1 == 0 {
                self.outstanding.remove(i);
            }
        }
        self.waiters > 0
    }
    fn reported_upto(&self, epoch: u64) -> bool {
        !matches!(self.outstanding.front(), Some((e, _)) if *e <= epoch)
    }
}

/// What a tracker shares with its batches' callbacks.
struct Shared<T> {
    /// One lock for the per-partition slots and the report counts: `track` takes it once per record.
    state: Mutex<State<T>>,
    reported: Condvar,
}

struct State<T> {
    /// The batch each partition's records were last filed with, by partition.
    open: Vec<Option<OpenSlot<T>>>,
    reports: Reports,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn report(&self, runs: impl Iterator<Item = (u64, u64)>) {
        let mut st = self.lock();
        let mut wake = false;
        for (epoch, count) in runs {
            wake |= st.reports.report(epoch, count);
        }
        drop(st);
        if wake {
            self.reported.notify_all();
        }
    }
}

/// Per-record delivery callbacks at a per-batch price, for callers (the language bindings) that
/// report every record: [`track`](Self::track) files a record's token with its batch, and the sink
/// runs once per batch with all of them, on the completing library thread and before `flush` waiters
/// wake. [`ProduceOutput::on_done`] instead boxes a closure per record, whose allocation on the
/// sending thread and free on a library thread cost more than the rest of a send.
///
/// It is also the flush barrier bindings need so that `flush` returns only after every delivery
/// callback of the records sent before it has run: each tracked record is *marked* when it is
/// filed (under its partition's lock, so before its send returns) and *reported* once the sink that
/// received it has returned. A send that core refuses is never filed, so never marked: it fails at
/// `send` and does not hold up, or fail, a later flush. [`Producer::flush_blocking_tracked`]
/// (and `close_blocking_tracked`) flush and then [`wait_reported`](Self::wait_reported); a binding
/// that completes some deliveries outside the sink counts them with [`mark`](Self::mark) /
/// [`report`](Self::report) / [`withdraw`](Self::withdraw).
///
/// [`Producer::flush_blocking_tracked`]: super::Producer::flush_blocking_tracked
pub struct DeliveryTracker<T: Send + 'static> {
    sink: Sink<T>,
    shared: Arc<Shared<T>>,
}

struct OpenSlot<T> {
    batch: Arc<BatchResult>,
    slot: Arc<Mutex<Slot<T>>>,
}

/// One send counted by [`DeliveryTracker::mark`]; give it back to [`report`](DeliveryTracker::report)
/// or [`withdraw`](DeliveryTracker::withdraw) exactly once.
#[must_use = "an unreported mark holds up every later flush"]
#[derive(Debug)]
pub struct Mark {
    epoch: u64,
}

/// Where a flush starts: [`DeliveryTracker::wait_reported`] waits for the sends marked before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBarrier {
    epoch: u64,
}

/// How long one wait of [`DeliveryTracker::wait_reported`] lasts before its `check` runs again.
pub const REPORT_WAIT_SLICE: Duration = Duration::from_millis(50);

impl<T: Send + 'static> DeliveryTracker<T> {
    /// `sink` is called exactly once per tracked record (grouped by batch), from a library thread.
    pub fn new(sink: impl Fn(BatchDelivery<'_, T>) + Send + Sync + 'static) -> Self {
        DeliveryTracker {
            sink: Arc::new(sink),
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    open: Vec::new(),
                    reports: Reports::default(),
                }),
                reported: Condvar::new(),
            }),
        }
    }

    /// Reports `output`'s record to the sink with `token` once its batch completes (at once, on a
    /// runtime thread, if it already has: then a `flush` may return before the report runs, but
    /// [`wait_reported`](Self::wait_reported) after a barrier taken later waits for it).
    /// `Producer::send_blocking_tracked` and `send_all_blocking_tracked` file the record before its
    /// batch can complete, so a `flush` after them always returns after their reports.
    pub fn track(&self, output: &ProduceOutput, token: T) {
        let record = TrackedRecord {
            token,
            index: output.index,
            timestamp: output.timestamp,
        };
        let p = output.partition as usize;
        let mut st = self.shared.lock();
        let epoch = st.reports.mark();
        if st.open.len() <= p {
            st.open.resize_with(p + 1, || None);
        }
        let same = matches!(&st.open[p], Some(o) if Arc::ptr_eq(&o.batch, &output.batch));
        if !same {
            let slot = Arc::new(Mutex::new(Slot {
                done: false,
                records: Vec::new(),
                marks: Tally::default(),
            }));
            let (sink, taken) = (self.sink.clone(), slot.clone());
            // Weak: the batch's callback must not keep the tracker alive (nobody could wait on it).
            let shared = Arc::downgrade(&self.shared);
            let (topic, partition) = (output.batch.topic.clone(), output.partition);
            output.batch.on_complete(move |result| {
                let (records, marks) = {
                    let mut s = taken.lock().unwrap_or_else(|e| e.into_inner());
                    s.done = true;
                    (std::mem::take(&mut s.records), std::mem::take(&mut s.marks))
                };
                if !records.is_empty() {
                    deliver(
                        &sink,
                        BatchDelivery {
                            topic: &topic,
                            partition,
                            result,
                            records,
                        },
                    );
                }
                if let Some(shared) = shared.upgrade() {
                    shared.report(marks.runs());
                }
            });
            st.open[p] = Some(OpenSlot {
                batch: output.batch.clone(),
                slot,
            });
        }
        let o = st.open[p].as_ref().expect("filled above");
        let mut s = o.slot.lock().unwrap_or_else(|e| e.into_inner());
        if !s.done {
            s.records.push(record);
            s.marks.add(epoch);
            return;
        }
        // The batch completed between the send and this call: report this record by itself.
        drop(s);
        drop(st);
        let (sink, batch, partition) = (self.sink.clone(), output.batch.clone(), output.partition);
        let shared = Arc::downgrade(&self.shared);
        crate::runtime::spawn(async move {
            let result = batch.get().expect("completed");
            deliver(
                &sink,
                BatchDelivery {
                    topic: &batch.topic,
                    partition,
                    result,
                    records: vec![record],
                },
            );
            if let Some(shared) = shared.upgrade() {
                shared.report(std::iter::once((epoch, 1)));
            }
        });
    }

    /// Tracks the records of one `send_all` as one delivery, for bindings that settle one future with
    /// every record's result: `done` runs once, on a library thread and counted as a delivery
    /// callback, after the batch of every record in `outs` completed (read the results with
    /// [`ProduceOutput::try_offset`]); a [`barrier`](Self::barrier) taken after this call waits until
    /// `done` has returned. It costs one callback per batch, where [`track`](Self::track) per record
    /// takes the tracker's lock per record.
    pub fn track_all(&self, outs: &[ProduceOutput], done: impl FnOnce() + Send + 'static) {
        let epoch = self.shared.lock().reports.mark();
        // A partition's records fill its batches in order: a new batch shows as a change of the
        // partition's last one.
        let mut last: Vec<Option<&Arc<BatchResult>>> = Vec::new();
        let mut batches: Vec<Arc<BatchResult>> = Vec::new();
        for o in outs {
            let p = o.partition as usize;
            if last.len() <= p {
                last.resize(p + 1, None);
            }
            if !matches!(last[p], Some(b) if Arc::ptr_eq(b, &o.batch)) {
                last[p] = Some(&o.batch);
                batches.push(o.batch.clone());
            }
        }
        struct Pending<T> {
            left: AtomicUsize,
            done: Mutex<Option<Box<dyn FnOnce() + Send>>>,
            epoch: u64,
            shared: Weak<Shared<T>>,
        }
        impl<T> Pending<T> {
            fn arrived(&self) {
                if self.left.fetch_sub(1, Ordering::AcqRel) != 1 {
                    return;
                }
                if let Some(done) = self.done.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    as_delivery(done);
                }
                if let Some(shared) = self.shared.upgrade() {
                    shared.report(std::iter::once((self.epoch, 1)));
                }
            }
        }
        let pending = Arc::new(Pending {
            left: AtomicUsize::new(batches.len().max(1)),
            done: Mutex::new(Some(Box::new(done))),
            epoch,
            shared: Arc::downgrade(&self.shared),
        });
        if batches.is_empty() {
            crate::runtime::spawn(async move { pending.arrived() });
            return;
        }
        for b in batches {
            let pending = pending.clone();
            b.on_complete(move |_| pending.arrived());
        }
    }

    /// Counts one send whose delivery the caller reports itself, outside the sink (tracked records
    /// are counted by [`track`](Self::track)). Call it before the send is handed to core.
    pub fn mark(&self) -> Mark {
        Mark {
            epoch: self.shared.lock().reports.mark(),
        }
    }

    /// The delivery counted by `mark` has been reported to the user (its callback returned).
    pub fn report(&self, mark: Mark) {
        self.shared.report(std::iter::once((mark.epoch, 1)));
    }

    /// The send counted by `mark` was refused (it failed at `send`): nothing will be reported, and
    /// no flush waits for it.
    pub fn withdraw(&self, mark: Mark) {
        self.report(mark)
    }

    /// Ends the current epoch: [`wait_reported`](Self::wait_reported) on the barrier waits for the
    /// sends marked so far, not for later ones. Take it before the producer's flush starts.
    pub fn barrier(&self) -> ReportBarrier {
        let mut st = self.shared.lock();
        let epoch = st.reports.epoch;
        st.reports.epoch += 1;
        ReportBarrier { epoch }
    }

    /// Sends marked and not reported yet (in every epoch).
    pub fn unreported(&self) -> u64 {
        self.shared
            .lock()
            .reports
            .outstanding
            .iter()
            .map(|(_, n)| n)
            .sum()
    }

    /// Blocks until every send marked before `barrier` is reported: `Timeout` after `timeout`
    /// (`None`: no limit). Waits in slices of [`REPORT_WAIT_SLICE`] and runs `check` between them;
    /// its error ends the wait and is returned (Python checks for signals there, so Ctrl-C
    /// interrupts a flush). Called from inside a delivery callback it would wait for itself, so it
    /// fails at once with `InvalidArgument`.
    pub fn wait_reported(
        &self,
        barrier: ReportBarrier,
        timeout: Option<Duration>,
        check: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        if in_delivery() {
            return Err(Error::invalid(
                "cannot wait for delivery reports from inside a delivery callback (it would wait for itself)",
            ));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.shared.lock();
        loop {
            if st.reports.reported_upto(barrier.epoch) {
                return Ok(());
            }
            let slice = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        let n: u64 = st
                            .reports
                            .outstanding
                            .iter()
                            .take_while(|(e, _)| *e <= barrier.epoch)
                            .map(|(_, n)| n)
                            .sum();
                        return Err(Error::timeout(format!(
                            "{n} delivery reports did not run within {:?}",
                            timeout.unwrap_or_default()
                        )));
                    }
                    left.min(REPORT_WAIT_SLICE)
                }
                None => REPORT_WAIT_SLICE,
            };
            st.reports.waiters += 1;
            st = self
                .shared
                .reported
                .wait_timeout(st, slice)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            st.reports.waiters -= 1;
            if !st.reports.reported_upto(barrier.epoch) {
                drop(st);
                check()?;
                st = self.shared.lock();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    type Seen = Arc<Mutex<Vec<(u32, usize, Result<i64>)>>>;

    /// A tracker whose sink records (partition, token, offset).
    fn tracker() -> (DeliveryTracker<usize>, Seen) {
        let seen: Seen = Arc::default();
        let s = seen.clone();
        let t = DeliveryTracker::new(move |d: BatchDelivery<'_, usize>| {
            let mut s = s.lock().unwrap();
            for r in &d.records {
                s.push((d.partition, r.token, d.offset(r)));
            }
        });
        (t, seen)
    }

    fn output(batch: &Arc<BatchResult>, partition: u32, index: u32) -> ProduceOutput {
        ProduceOutput {
            batch: batch.clone(),
            index,
            partition,
            timestamp: 0,
        }
    }

    fn no_check() -> impl FnMut() -> Result<()> {
        || Ok(())
    }

    #[test]
    fn a_barrier_waits_for_marks_before_it_only() {
        let (t, _) = tracker();
        let early = t.mark();
        let b1 = t.barrier();
        let late = t.mark();
        let e = t
            .wait_reported(b1, Some(Duration::from_millis(20)), &mut no_check())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert!(e.message.starts_with("1 delivery reports"), "{e}");
        t.report(early);
        t.wait_reported(b1, Some(Duration::ZERO), &mut no_check())
            .unwrap();
        assert_eq!(t.unreported(), 1, "the later mark is still out");
        let b2 = t.barrier();
        t.wait_reported(b2, Some(Duration::from_millis(10)), &mut no_check())
            .unwrap_err();
        t.report(late);
        t.wait_reported(b2, None, &mut no_check()).unwrap();
        assert_eq!(t.unreported(), 0);
    }

    #[test]
    fn a_withdrawn_send_does_not_hold_up_a_later_flush() {
        let (t, seen) = tracker();
        let refused = t.mark();
        t.withdraw(refused);
        let b = t.barrier();
        t.wait_reported(b, Some(Duration::ZERO), &mut no_check())
            .unwrap();
        assert_eq!(t.unreported(), 0);
        assert!(seen.lock().unwrap().is_empty(), "nothing was reported");
    }

    #[test]
    fn track_all_runs_once_after_every_batch_and_holds_up_the_barrier() {
        let (t, seen) = tracker();
        let topic: Arc<str> = Arc::from("t");
        let (b0, b1, b2) = (
            BatchResult::new(topic.clone()),
            BatchResult::new(topic.clone()),
            BatchResult::new(topic),
        );
        // Two partitions, records interleaved (round-robin); partition 0 spills into a second batch.
        let outs = vec![
            output(&b0, 0, 0),
            output(&b1, 1, 0),
            output(&b0, 0, 1),
            output(&b1, 1, 1),
            output(&b2, 0, 0),
        ];
        let (tx, rx) = std::sync::mpsc::channel();
        let read = outs.clone();
        t.track_all(&outs, move || {
            let offsets: Vec<_> = read.iter().map(|o| o.try_offset().unwrap()).collect();
            tx.send((offsets, in_delivery())).unwrap();
        });
        let barrier = t.barrier();
        assert_eq!(t.unreported(), 1, "one mark for the whole call");
        b0.complete(Ok(10));
        b1.complete(Ok(20));
        let e = t
            .wait_reported(barrier, Some(Duration::from_millis(20)), &mut no_check())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout, "b2 is still out");
        assert!(rx.try_recv().is_err(), "done ran before the last batch");
        b2.complete(Err(Error::timeout("lost")));
        t.wait_reported(barrier, Some(Duration::from_secs(60)), &mut no_check())
            .unwrap();
        let (offsets, counted) = rx.try_recv().expect("done ran before the report");
        assert!(counted, "done runs as a delivery callback");
        let ok: Vec<_> = offsets[..4].iter().map(|r| *r.as_ref().unwrap()).collect();
        assert_eq!(ok, [10, 20, 11, 21]);
        assert_eq!(offsets[4].as_ref().unwrap_err().kind, ErrorKind::Timeout);
        assert!(rx.try_recv().is_err(), "done ran once");
        assert!(
            seen.lock().unwrap().is_empty(),
            "the per-record sink is not involved"
        );
    }

    #[test]
    fn track_all_of_nothing_runs_at_once() {
        let (t, _) = tracker();
        let (tx, rx) = std::sync::mpsc::channel();
        t.track_all(&[], move || tx.send(()).unwrap());
        let barrier = t.barrier();
        // Bounded: a `done` that never runs is a failure, not a hung test.
        t.wait_reported(barrier, Some(Duration::from_secs(60)), &mut no_check())
            .unwrap();
        rx.try_recv().expect("done ran before the report");
    }

    #[test]
    fn waiting_returns_only_after_the_sink_ran_for_every_tracked_record() {
        let seen: Seen = Arc::default();
        let s = seen.clone();
        let t = DeliveryTracker::new(move |d: BatchDelivery<'_, usize>| {
            // A slow callback: the wait must outlast it.
            std::thread::sleep(Duration::from_millis(30));
            let mut s = s.lock().unwrap();
            for r in &d.records {
                s.push((d.partition, r.token, d.offset(r)));
            }
        });
        let topic: Arc<str> = Arc::from("t");
        let (b0, b1) = (BatchResult::new(topic.clone()), BatchResult::new(topic));
        for i in 0..3 {
            t.track(&output(&b0, 0, i), i as usize);
        }
        t.track(&output(&b1, 1, 0), 10);
        let barrier = t.barrier();
        // Sent after the barrier (same batch): reported with it, but not waited for.
        t.track(&output(&b0, 0, 3), 3);
        assert_eq!(t.unreported(), 5);
        let completer = std::thread::spawn({
            let (b0, b1) = (b0.clone(), b1.clone());
            move || {
                b0.complete(Ok(100));
                b1.complete(Err(Error::timeout("lost")));
            }
        });
        t.wait_reported(barrier, None, &mut no_check()).unwrap();
        let got = seen.lock().unwrap().clone();
        assert_eq!(got.len(), 5, "every record before the barrier was reported");
        assert_eq!(got[0], (0, 0, Ok(100)));
        assert_eq!(got[3], (0, 3, Ok(103)));
        assert_eq!(got[4].1, 10);
        assert_eq!(got[4].2.as_ref().unwrap_err().kind, ErrorKind::Timeout);
        completer.join().unwrap();
        assert_eq!(t.unreported(), 0);
    }

    #[test]
    fn a_record_tracked_after_its_batch_completed_is_still_waited_for() {
        let (t, seen) = tracker();
        let batch = BatchResult::new(Arc::from("t"));
        batch.complete(Ok(7));
        t.track(&output(&batch, 2, 1), 42);
        let b = t.barrier();
        t.wait_reported(b, Some(Duration::from_secs(30)), &mut no_check())
            .unwrap();
        assert_eq!(seen.lock().unwrap().clone(), vec![(2, 42, Ok(8))]);
    }

    #[test]
    fn the_check_runs_between_slices_and_its_error_ends_the_wait() {
        let (t, _) = tracker();
        let m = t.mark();
        let b = t.barrier();
        let mut calls = 0;
        let e = t
            .wait_reported(b, None, &mut || {
                calls += 1;
                if calls == 2 {
                    Err(Error::internal("interrupted"))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert_eq!(e.message, "interrupted");
        assert_eq!(calls, 2);
        t.report(m);
    }

    #[test]
    fn waiting_from_inside_a_delivery_callback_is_refused() {
        let inner: Arc<Mutex<Option<DeliveryTracker<usize>>>> = Arc::default();
        let outcome: Arc<Mutex<Vec<Result<()>>>> = Arc::default();
        let (i, o) = (inner.clone(), outcome.clone());
        let t = DeliveryTracker::new(move |_d: BatchDelivery<'_, usize>| {
            assert!(in_delivery());
            let other = i.lock().unwrap();
            let other = other.as_ref().unwrap();
            let b = other.barrier();
            o.lock()
                .unwrap()
                .push(other.wait_reported(b, None, &mut || Ok(())));
        });
        *inner.lock().unwrap() = Some(tracker().0);
        let batch = BatchResult::new(Arc::from("t"));
        t.track(&output(&batch, 0, 0), 0);
        assert!(!in_delivery());
        batch.complete(Ok(0));
        let got = outcome.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].as_ref().unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert!(!in_delivery(), "the depth is restored after the sink");
    }
}
