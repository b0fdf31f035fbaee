//! The producer: partitioning, per-partition batching (`batch_size`, `linger_ms`), compression off the
//! caller's thread, one produce request per leader SPU, at most one request in flight per partition
//! under at-least-once (so retries never reorder a key's records), retries with exponential backoff,
//! `delivery_timeout_ms` bounding every wait, and flush/close.
//!
//! - this module: [`Producer`], its public API, and `Inner`, the state its parts share.
//! - `accumulator`: per-partition queues; `send` appends to the open batch, which is sealed when
//!   full, lingered long enough, waited on, or flushed.
//! - `sender`: the background task that sends sealed batches, one request per leader, with retries.
//! - [`records`]: [`Record`], the borrowed [`RecordRef`], the packed form bindings pass in bulk, the
//!   size check.
//! - [`output`]: what a send returns and how delivery is reported ([`DeliveryTracker`]).

mod accumulator;
pub mod config;
pub mod output;
pub mod partitioner;
pub mod records;
mod sender;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Notify;

pub use accumulator::BATCH_OVERHEAD;
use accumulator::{Enqueued, PartitionQueue, Track};
pub use config::{Delivery, Isolation, PartitionerKind, ProducerConfig};
pub use output::{
    in_delivery, BatchDelivery, BatchResult, DeliveryTracker, Mark, ProduceOutput, RecordMetadata,
    ReportBarrier, TrackedRecord, REPORT_WAIT_SLICE,
};
pub use partitioner::{DefaultPartitioner, Partitioner, PartitionerContext, RoundRobinPartitioner};
pub use records::{
    check_record_size, check_record_sizes, decode_packed, AsRecord, Record, RecordRef,
};
pub use sender::REQUEST_TIMEOUT_SLACK;

use crate::client::Cluster;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::Compression;

counters! {
    /// Producer counters; the same field names in every language (`tests/vectors/config.json`).
    pub struct ProducerStats {
        records_sent,
        records_acked,
        records_failed,
        bytes_uncompressed,
        bytes_compressed,
        batches_sent,
        requests_sent,
        /// Produce attempts that were retried.
        retries,
        /// Batches that failed for good (each counted once; their records are in `records_failed`).
        errors,
        queued_records,
        queued_batches,
    }
}

#[derive(Default)]
struct Counters {
    records_acked: AtomicU64,
    records_failed: AtomicU64,
    bytes_uncompressed: AtomicU64,
    bytes_compressed: AtomicU64,
    batches_sent: AtomicU64,
    requests_sent: AtomicU64,
    retries: AtomicU64,
    errors: AtomicU64,
}

/// What the producer's parts share: the accumulator's queues, the sender's wake-up, the counters.
struct Inner {
    topic: Arc<str>,
    cluster: Arc<Cluster>,
    config: ProducerConfig,
    compression: Compression,
    partitioner: Box<dyn Partitioner>,
    partitions: RwLock<Vec<Arc<PartitionQueue>>>,
    available: RwLock<Arc<Vec<u32>>>,
    partition_count: AtomicU32,
    wake: Notify,
    stop: AtomicBool,
    closed: AtomicBool,
    counters: Counters,
    /// The first failure nobody has been told about through `flush`/`close` yet.
    unreported: Mutex<Option<Error>>,
    pid: u32,
}

/// A producer for one topic. Cheap to clone; all clones share one background sender.
#[derive(Clone)]
pub struct Producer {
    handle: Arc<Handle>,
}

/// Owns the background sender; dropping the last one stops it.
struct Handle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("topic", &self.handle.inner.topic)
            .field("endpoint", &self.handle.inner.cluster.endpoint())
            .finish()
    }
}

impl Producer {
    /// Connects to the SC at `endpoint`, waits for `topic`'s metadata, and starts the background sender.
    pub async fn connect(endpoint: &str, topic: &str, config: ProducerConfig) -> Result<Producer> {
        let partitioner: Box<dyn Partitioner> = match config.partitioner {
            PartitionerKind::Default => Box::new(DefaultPartitioner::default()),
            PartitionerKind::RoundRobin => Box::new(RoundRobinPartitioner::default()),
        };
        Producer::connect_with_partitioner(endpoint, topic, config, partitioner).await
    }

    /// Like [`connect`](Self::connect) with a custom partitioner.
    pub async fn connect_with_partitioner(
        endpoint: &str,
        topic: &str,
        config: ProducerConfig,
        partitioner: Box<dyn Partitioner>,
    ) -> Result<Producer> {
        if topic.is_empty() {
            return Err(Error::invalid("topic name must not be empty"));
        }
        let cluster = Cluster::get_with(
            endpoint,
            &config.client_id,
            config.metadata_timeout.max(Duration::from_millis(100)),
            &config.tls,
        )
        .await?;
        let meta = cluster.wait_topic(topic, config.metadata_timeout).await?;
        let policy = meta.spec.compression_type;
        let compression = match (policy.codec(), config.compression) {
            (None, c) => c.unwrap_or(Compression::None),
            (Some(pinned), None) => pinned,
            (Some(pinned), Some(c)) if pinned == c => c,
            (Some(pinned), Some(c)) => {
                return Err(Error::new(
                    ErrorKind::Compression,
                    format!("topic `{topic}` only accepts {pinned} batches; the producer is configured for {c} (set compression to {pinned} or leave it unset)"),
                ))
            }
        };
        let count = meta.spec.partition_count();
        let inner = Arc::new(Inner {
            topic: Arc::from(topic),
            cluster: cluster.clone(),
            compression,
            partitioner,
            partitions: RwLock::new(
                (0..count)
                    .map(|i| {
                        Arc::new(PartitionQueue {
                            index: i,
                            state: Default::default(),
                            space: Notify::new(),
                        })
                    })
                    .collect(),
            ),
            available: RwLock::new(Arc::new(cluster.metadata().online_partitions(topic, count))),
            partition_count: AtomicU32::new(count),
            wake: Notify::new(),
            stop: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            counters: Counters::default(),
            unreported: Mutex::new(None),
            pid: crate::runtime::pid(),
            config,
        });
        crate::runtime::spawn(sender::sender_loop(inner.clone()));
        Ok(Producer {
            handle: Arc::new(Handle { inner }),
        })
    }

    /// Blocking form of [`connect`](Self::connect) for synchronous callers.
    pub fn connect_blocking(
        endpoint: &str,
        topic: &str,
        config: ProducerConfig,
    ) -> Result<Producer> {
        crate::runtime::block_on(Producer::connect(endpoint, topic, config))
    }

    fn inner(&self) -> &Arc<Inner> {
        &self.handle.inner
    }

    pub fn topic(&self) -> &str {
        &self.inner().topic
    }
    pub fn config(&self) -> &ProducerConfig {
        &self.inner().config
    }
    /// The codec batches are compressed with (config and topic policy combined).
    pub fn compression(&self) -> Compression {
        self.inner().compression
    }
    pub fn partition_count(&self) -> u32 {
        self.inner().partition_count.load(Ordering::Acquire)
    }

    fn check_usable(&self) -> Result<()> {
        let inner = self.inner();
        if inner.pid != crate::runtime::pid() {
            return Err(Error::new(
                ErrorKind::Forked,
                "this producer was created before fork(); create a new one in the child process",
            ));
        }
        if inner.closed.load(Ordering::Acquire) {
            return Err(Error::closed("the producer is closed"));
        }
        Ok(())
    }

    /// Sends a record (`None` key = no key). Returns at once unless the partition's queue is full, in
    /// which case it waits up to `send_timeout_ms` and then fails with `QueueFull`.
    pub async fn send(&self, key: Option<&[u8]>, value: &[u8]) -> Result<ProduceOutput> {
        self.send_parts(key, value, None, None).await
    }

    /// Sends to `partition`, bypassing the partitioner; a partition at or past the topic's count
    /// fails with `UnknownPartition`.
    pub async fn send_to(
        &self,
        partition: u32,
        key: Option<&[u8]>,
        value: &[u8],
    ) -> Result<ProduceOutput> {
        self.send_parts(key, value, Some(partition), None).await
    }

    pub async fn send_record(&self, record: Record) -> Result<ProduceOutput> {
        self.send_parts(
            record.key.as_deref(),
            &record.value,
            record.partition,
            record.timestamp,
        )
        .await
    }

    /// Sends with an explicit partition and/or timestamp.
    pub async fn send_parts(
        &self,
        key: Option<&[u8]>,
        value: &[u8],
        partition: Option<u32>,
        timestamp: Option<i64>,
    ) -> Result<ProduceOutput> {
        match self.enqueue(key, value, partition, timestamp, &mut |_| {})? {
            Enqueued::Done(o) => Ok(o),
            Enqueued::Full(q) => {
                self.wait_and_send(q, key, value, partition, timestamp, &mut |_| {})
                    .await
            }
        }
    }

    /// Synchronous send for callers outside async code (bindings): blocks only on a full queue.
    pub fn send_blocking(
        &self,
        key: Option<&[u8]>,
        value: &[u8],
        partition: Option<u32>,
        timestamp: Option<i64>,
    ) -> Result<ProduceOutput> {
        self.send_blocking_with(key, value, partition, timestamp, &mut |_| {})
    }

    /// [`send_blocking`](Self::send_blocking) that files the record with `tracker` under `token`
    /// (reported once its batch completes; see [`DeliveryTracker`]).
    pub fn send_blocking_tracked<T: Send + 'static>(
        &self,
        key: Option<&[u8]>,
        value: &[u8],
        partition: Option<u32>,
        timestamp: Option<i64>,
        tracker: &DeliveryTracker<T>,
        token: T,
    ) -> Result<ProduceOutput> {
        let mut token = Some(token);
        self.send_blocking_with(key, value, partition, timestamp, &mut |o| {
            if let Some(t) = token.take() {
                tracker.track(o, t)
            }
        })
    }

    fn send_blocking_with(
        &self,
        key: Option<&[u8]>,
        value: &[u8],
        partition: Option<u32>,
        timestamp: Option<i64>,
        track: &mut Track<'_>,
    ) -> Result<ProduceOutput> {
        match self.enqueue(key, value, partition, timestamp, track)? {
            Enqueued::Done(o) => Ok(o),
            Enqueued::Full(q) => crate::runtime::block_on(
                self.wait_and_send(q, key, value, partition, timestamp, track),
            ),
        }
    }

    /// Sends without ever waiting: `Ok(None)` when the partition's queue is full (nothing was enqueued).
    pub fn try_send(
        &self,
        key: Option<&[u8]>,
        value: &[u8],
        partition: Option<u32>,
        timestamp: Option<i64>,
    ) -> Result<Option<ProduceOutput>> {
        Ok(
            match self.enqueue(key, value, partition, timestamp, &mut |_| {})? {
                Enqueued::Done(o) => Some(o),
                Enqueued::Full(_) => None,
            },
        )
    }

    /// Sends the batch `batch_id` of `partition` now if it is still open (the numbers of
    /// [`ProduceOutput::partition`] and [`ProduceOutput::batch_id`]); a batch already sealed, sent or
    /// unknown is left alone. What waiting on a record does, for bindings that keep no
    /// `ProduceOutput` per record.
    pub fn send_now(&self, partition: u32, batch_id: u64) {
        self.inner()
            .seal_open_if(partition, |open| open.id() == batch_id);
    }
    /// Seals every open batch and wakes the sender, without waiting (a flush that does not block).
    pub fn seal(&self) {
        self.inner().seal_all();
        self.inner().wake.notify_one();
    }
    /// Sends many records; the sizes are checked before any is enqueued. Records without a
    /// timestamp carry the time of the call.
    pub async fn send_all<I>(&self, records: I) -> Result<Vec<ProduceOutput>>
    where
        I: IntoIterator<Item = Record>,
    {
        let records: Vec<Record> = records.into_iter().collect();
        check_record_sizes(self.config(), &records)?;
        // The records of one call carry the time of the call (one clock read, not one per record).
        let now = Some(accumulator::now_ms());
        let mut out = Vec::with_capacity(records.len());
        for r in &records {
            out.push(
                self.send_parts(r.key.as_deref(), &r.value, r.partition, r.timestamp.or(now))
                    .await?,
            );
        }
        Ok(out)
    }

    /// Blocking form of [`send_all`](Self::send_all), for owned [`Record`]s or borrowed
    /// [`RecordRef`]s (which bindings build over their own buffers: nothing is copied but into the
    /// batches).
    pub fn send_all_blocking<R: AsRecord>(&self, records: &[R]) -> Result<Vec<ProduceOutput>> {
        check_record_sizes(self.config(), records)?;
        let now = Some(accumulator::now_ms());
        records
            .iter()
            .map(|r| {
                let r = r.as_record();
                self.send_blocking(r.key, r.value, r.partition, r.timestamp.or(now))
            })
            .collect()
    }

    /// [`send_all_blocking`](Self::send_all_blocking) that files record `i` with `tracker` under
    /// `token(i)`.
    pub fn send_all_blocking_tracked<R: AsRecord, T: Send + 'static>(
        &self,
        records: &[R],
        tracker: &DeliveryTracker<T>,
        token: impl FnMut(usize) -> T,
    ) -> Result<Vec<ProduceOutput>> {
        let mut out = Vec::with_capacity(records.len());
        self.send_all_blocking_each(records, Some((tracker, token)), |_, o| out.push(o))?;
        Ok(out)
    }

    /// The loop of the `send_all` forms, for callers that must know which records were sent when
    /// one fails midway (C's `hw_producer_send_records`): every size is checked first (a record too
    /// large refuses the whole call), then each record is sent (with `tracked = Some((tracker,
    /// token))`, filed with `tracker` under `token(i)`) and handed to `sent(i, output)` at once; the
    /// first failure ends the call with the records before it sent.
    pub fn send_all_blocking_each<R: AsRecord, T: Send + 'static>(
        &self,
        records: &[R],
        mut tracked: Option<(&DeliveryTracker<T>, impl FnMut(usize) -> T)>,
        mut sent: impl FnMut(usize, ProduceOutput),
    ) -> Result<()> {
        check_record_sizes(self.config(), records)?;
        let now = Some(accumulator::now_ms());
        for (i, r) in records.iter().enumerate() {
            let r = r.as_record();
            let timestamp = r.timestamp.or(now);
            let out = match tracked.as_mut() {
                Some((t, token)) => {
                    self.send_blocking_tracked(r.key, r.value, r.partition, timestamp, t, token(i))?
                }
                None => self.send_blocking(r.key, r.value, r.partition, timestamp)?,
            };
            sent(i, out);
        }
        Ok(())
    }

    /// Seals every open batch and waits until each queued batch is acknowledged or failed. Reports the
    /// first failure since the last flush (including failures of sends nobody awaited).
    pub async fn flush(&self) -> Result<()> {
        if self.inner().pid != crate::runtime::pid() {
            return Err(Error::new(
                ErrorKind::Forked,
                "this producer was created before fork()",
            ));
        }
        let inner = self.inner().clone();
        let pending = inner.seal_all();
        inner.wake.notify_one();
        for r in &pending {
            r.wait().await;
        }
        let unreported = inner.unreported.lock().unwrap().take();
        match unreported {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// [`flush`](Self::flush) bounded by `timeout` (`Timeout` after it; nothing is dropped).
    pub async fn flush_timeout(&self, timeout: Duration) -> Result<()> {
        match crate::runtime::timeout(timeout, self.flush()).await {
            Some(r) => r,
            None => Err(Error::timeout(format!(
                "flush did not complete within {timeout:?}; {} records are still queued",
                self.stats().queued_records
            ))),
        }
    }

    /// Blocking flush for synchronous callers (`None` = no timeout).
    pub fn flush_blocking(&self, timeout: Option<Duration>) -> Result<()> {
        match timeout {
            Some(t) => crate::runtime::block_on(self.flush_timeout(t)),
            None => crate::runtime::block_on(self.flush()),
        }
    }

    /// Flushes, then stops the background sender. Later sends fail with `Closed`. Idempotent.
    pub async fn close(&self) -> Result<()> {
        self.close_timeout(None).await
    }

    pub async fn close_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        let inner = self.inner().clone();
        if inner.pid != crate::runtime::pid() {
            return Err(Error::new(
                ErrorKind::Forked,
                "this producer was created before fork(); it can only be closed in the parent",
            ));
        }
        if inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let flushed = match timeout {
            Some(t) => self.flush_timeout(t).await,
            None => self.flush().await,
        };
        inner.shutdown("the producer was closed before this record was sent");
        flushed
    }

    pub fn close_blocking(&self, timeout: Option<Duration>) -> Result<()> {
        crate::runtime::block_on(self.close_timeout(timeout))
    }

    /// [`flush_blocking`](Self::flush_blocking) that returns only once `tracker`'s sink has run for
    /// every record tracked before the call (see [`DeliveryTracker`]), within the same `timeout`:
    /// what a binding's `flush` is. Refused inside a delivery callback (`InvalidArgument`: it would
    /// wait for itself).
    pub fn flush_blocking_tracked<T: Send + 'static>(
        &self,
        tracker: &DeliveryTracker<T>,
        timeout: Option<Duration>,
    ) -> Result<()> {
        self.tracked(tracker, timeout, |t| self.flush_blocking(t))
    }

    /// [`close_blocking`](Self::close_blocking) with the guarantee of
    /// [`flush_blocking_tracked`](Self::flush_blocking_tracked).
    pub fn close_blocking_tracked<T: Send + 'static>(
        &self,
        tracker: &DeliveryTracker<T>,
        timeout: Option<Duration>,
    ) -> Result<()> {
        self.tracked(tracker, timeout, |t| self.close_blocking(t))
    }

    /// Runs a flush or close, then waits (within the same timeout) for the reports of the records
    /// tracked before it. Its own outcome wins: a timeout returns at once, a delivery failure is
    /// returned once the reports ran.
    fn tracked<T: Send + 'static>(
        &self,
        tracker: &DeliveryTracker<T>,
        timeout: Option<Duration>,
        op: impl FnOnce(Option<Duration>) -> Result<()>,
    ) -> Result<()> {
        if output::in_delivery() {
            return Err(Error::invalid(
                "flush and close must not be called from inside a delivery callback (they would wait for it)",
            ));
        }
        // Before the flush: records sent during it are not waited for (they may linger).
        let barrier = tracker.barrier();
        let start = std::time::Instant::now();
        let r = op(timeout);
        if matches!(&r, Err(e) if e.kind == ErrorKind::Timeout) {
            return r;
        }
        let left = timeout.map(|t| t.saturating_sub(start.elapsed()));
        tracker.wait_reported(barrier, left, &mut || Ok(()))?;
        r
    }

    pub fn is_closed(&self) -> bool {
        self.inner().closed.load(Ordering::Acquire)
    }

    pub fn stats(&self) -> ProducerStats {
        let inner = self.inner();
        let c = &inner.counters;
        let (mut qr, mut qb, mut sent) = (0, 0, 0);
        for q in inner.partitions.read().unwrap().iter() {
            let st = q.state.lock().unwrap();
            qr += st.queued_records();
            qb += st.queued_batches() as u64;
            sent += st.records_sent;
        }
        ProducerStats {
            records_sent: sent,
            records_acked: c.records_acked.load(Ordering::Relaxed),
            records_failed: c.records_failed.load(Ordering::Relaxed),
            bytes_uncompressed: c.bytes_uncompressed.load(Ordering::Relaxed),
            bytes_compressed: c.bytes_compressed.load(Ordering::Relaxed),
            batches_sent: c.batches_sent.load(Ordering::Relaxed),
            requests_sent: c.requests_sent.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            queued_records: qr,
            queued_batches: qb,
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let inner = &self.inner;
        if inner.pid != crate::runtime::pid() {
            // Inherited across fork(): its locks and tasks belong to the parent. Leak, never touch.
            std::mem::forget(inner.clone());
            return;
        }
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let mut pending = 0u64;
        for q in inner.partitions.read().unwrap().iter() {
            pending += q.state.lock().unwrap().queued_records();
        }
        if pending > 0 {
            tracing::warn!(topic = %inner.topic, unsent = pending, "producer dropped with {pending} unsent records; call flush() or close() before dropping it");
        }
        inner.closed.store(true, Ordering::Release);
        inner.shutdown("the producer was dropped before this record was sent");
    }
}

impl Inner {
    fn record_failure(&self, e: &Error) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        let mut u = self.unreported.lock().unwrap();
        if u.is_none() {
            *u = Some(e.clone());
        }
    }
}
