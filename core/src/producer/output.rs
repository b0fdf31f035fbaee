//! Delivery results: one shared [`BatchResult`] per batch, one cheap [`ProduceOutput`] per record.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

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
        Self::build(topic, None)
    }

    pub(crate) fn with_sender(
        topic: Arc<str>,
        sender: Weak<dyn SendNow>,
        partition: u32,
    ) -> Arc<BatchResult> {
        Self::build(topic, Some((sender, partition)))
    }

    fn build(topic: Arc<str>, sender: Option<(Weak<dyn SendNow>, u32)>) -> Arc<BatchResult> {
        Arc::new(BatchResult {
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
    fn resolve(&self, r: &Result<i64>) -> Result<RecordMetadata> {
        match r {
            Ok(base) => Ok(RecordMetadata {
                topic: String::from(&*self.batch.topic),
                partition: self.partition,
                offset: record_offset(*base, self.index),
                timestamp: self.timestamp,
            }),
            Err(e) => Err(e.clone()),
        }
    }
    /// Calls `cb` exactly once with the record's result, from a library thread (never the caller's).
    pub fn on_done(&self, cb: impl FnOnce(Result<RecordMetadata>) + Send + 'static) {
        let me = self.clone();
        self.batch.on_complete(move |r| cb(me.resolve(r)));
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

/// Records of one batch waiting for its outcome; `done` once the batch's callback took them.
struct Slot<T> {
    done: bool,
    records: Vec<TrackedRecord<T>>,
}

/// Per-record delivery callbacks at a per-batch price, for callers (the language bindings) that
/// report every record: [`track`](Self::track) files a record's token with its batch, and the sink
/// runs once per batch with all of them, on the completing library thread and before `flush` waiters
/// wake. [`ProduceOutput::on_done`] instead boxes a closure per record, whose allocation on the
/// sending thread and free on a library thread cost more than the rest of a send.
pub struct DeliveryTracker<T: Send + 'static> {
    sink: Sink<T>,
    /// The batch each partition's records were last filed with, by partition.
    open: std::sync::Mutex<Vec<Option<OpenSlot<T>>>>,
}

struct OpenSlot<T> {
    batch: Arc<BatchResult>,
    slot: Arc<std::sync::Mutex<Slot<T>>>,
}

impl<T: Send + 'static> DeliveryTracker<T> {
    /// `sink` is called exactly once per tracked record (grouped by batch), from a library thread.
    pub fn new(sink: impl Fn(BatchDelivery<'_, T>) + Send + Sync + 'static) -> Self {
        DeliveryTracker {
            sink: Arc::new(sink),
            open: Default::default(),
        }
    }

    /// Reports `output`'s record to the sink with `token` once its batch completes (at once, on a
    /// runtime thread, if it already has: then a `flush` may return before the report runs).
    /// `Producer::send_blocking_tracked` and `send_all_blocking_tracked` file the record before its
    /// batch can complete, so a `flush` after them always returns after their reports.
    pub fn track(&self, output: &ProduceOutput, token: T) {
        let record = TrackedRecord {
            token,
            index: output.index,
            timestamp: output.timestamp,
        };
        let p = output.partition as usize;
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() <= p {
            open.resize_with(p + 1, || None);
        }
        let same = matches!(&open[p], Some(o) if Arc::ptr_eq(&o.batch, &output.batch));
        if !same {
            let slot = Arc::new(std::sync::Mutex::new(Slot {
                done: false,
                records: Vec::new(),
            }));
            let (sink, taken) = (self.sink.clone(), slot.clone());
            let (topic, partition) = (output.batch.topic.clone(), output.partition);
            output.batch.on_complete(move |result| {
                let records = {
                    let mut s = taken.lock().unwrap_or_else(|e| e.into_inner());
                    s.done = true;
                    std::mem::take(&mut s.records)
                };
                if !records.is_empty() {
                    sink(BatchDelivery {
                        topic: &topic,
                        partition,
                        result,
                        records,
                    });
                }
            });
            open[p] = Some(OpenSlot {
                batch: output.batch.clone(),
                slot,
            });
        }
        let o = open[p].as_ref().expect("filled above");
        let mut s = o.slot.lock().unwrap_or_else(|e| e.into_inner());
        if !s.done {
            s.records.push(record);
            return;
        }
        // The batch completed between the send and this call: report this record by itself.
        drop(s);
        drop(open);
        let (sink, batch, partition) = (self.sink.clone(), output.batch.clone(), output.partition);
        crate::runtime::spawn(async move {
            let result = batch.get().expect("completed");
            sink(BatchDelivery {
                topic: &batch.topic,
                partition,
                result,
                records: vec![record],
            });
        });
    }
}
