//! The producer: partitioning, per-partition batching (`batch_size`, `linger_ms`), compression off the
//! caller's thread, one produce request per leader SPU, at most one request in flight per partition
//! under at-least-once (so retries never reorder a key's records), retries with exponential backoff,
//! `delivery_timeout_ms` bounding every wait, and flush/close.

pub mod config;
pub mod output;
pub mod partitioner;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Notify};

pub use config::{Delivery, Isolation, PartitionerKind, ProducerConfig};
use output::SendNow;
pub use output::{
    BatchDelivery, BatchResult, DeliveryTracker, ProduceOutput, RecordMetadata, TrackedRecord,
};
pub use partitioner::{DefaultPartitioner, Partitioner, PartitionerContext, RoundRobinPartitioner};

use crate::client::Cluster;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::api::{spu_keys, SPU_VERSION};
use crate::protocol::batch::{
    finish_uncompressed_in_place, put_record, record_size, write_batch, BatchInfo,
    BATCH_FILE_HEADER_SIZE, RECORD_MAX_FRAMING,
};
use crate::protocol::codec::{from_bytes, Encode};
use crate::protocol::spu::{ProduceResponse, ACKS_READ_COMMITTED, ACKS_READ_UNCOMMITTED};
use crate::protocol::Compression;

/// Fluvio's batch size estimate: 4 (record count) + 57 (batch header) + Σ record sizes.
pub const BATCH_OVERHEAD: usize = 4 + BATCH_FILE_HEADER_SIZE;

/// A record to send, with optional explicit partition and timestamp.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub partition: Option<u32>,
    /// Milliseconds since the epoch; default now.
    pub timestamp: Option<i64>,
}

impl Record {
    pub fn new(key: Option<impl Into<Vec<u8>>>, value: impl Into<Vec<u8>>) -> Self {
        Record {
            key: key.map(Into::into),
            value: value.into(),
            partition: None,
            timestamp: None,
        }
    }
    pub fn partition(mut self, p: u32) -> Self {
        self.partition = Some(p);
        self
    }
    pub fn timestamp(mut self, t: i64) -> Self {
        self.timestamp = Some(t);
        self
    }
}

/// Producer counters; the same field names in every language (`tests/vectors/config.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStats {
    pub records_sent: u64,
    pub records_acked: u64,
    pub records_failed: u64,
    pub bytes_uncompressed: u64,
    pub bytes_compressed: u64,
    pub batches_sent: u64,
    pub requests_sent: u64,
    pub retries: u64,
    pub errors: u64,
    pub queued_records: u64,
    pub queued_batches: u64,
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

/// Where the records section starts in a batch buffer: the first 57 bytes are room for the batch
/// header, so an uncompressed batch is finished in place, without copying its records.
const SECTION_START: usize = BATCH_FILE_HEADER_SIZE;

struct OpenBatch {
    /// Header room, then the `u32 count` placeholder, then the encoded records.
    section: Vec<u8>,
    count: u32,
    first_ts: i64,
    max_ts: i64,
    estimate: usize,
    opened: Instant,
    result: Arc<BatchResult>,
}

struct SealedBatch {
    section: Vec<u8>,
    count: u32,
    first_ts: i64,
    max_ts: i64,
    created: Instant,
    attempts: u32,
    result: Arc<BatchResult>,
    /// The encoded (compressed) batch, kept for retries.
    encoded: Option<Arc<Vec<u8>>>,
}

impl SealedBatch {
    /// Bytes this batch takes in a request (its encoded form once encoded, for retries).
    fn wire_len(&self) -> usize {
        self.encoded
            .as_ref()
            .map_or(self.section.len(), |e| e.len())
    }
}

#[derive(Default)]
struct QueueState {
    open: Option<OpenBatch>,
    sealed: VecDeque<SealedBatch>,
    in_flight: Vec<Arc<BatchResult>>,
    in_flight_records: u64,
    retry_at: Option<Instant>,
    /// Records accepted by `send` into this partition, ever.
    records_sent: u64,
}

impl QueueState {
    fn seal(&mut self) -> bool {
        match self.open.take() {
            Some(b) if b.count > 0 => {
                let mut section = b.section;
                section[SECTION_START..SECTION_START + 4].copy_from_slice(&b.count.to_be_bytes());
                self.sealed.push_back(SealedBatch {
                    section,
                    count: b.count,
                    first_ts: b.first_ts,
                    max_ts: b.max_ts,
                    created: b.opened,
                    attempts: 0,
                    result: b.result,
                    encoded: None,
                });
                true
            }
            _ => false,
        }
    }
    fn queued_batches(&self) -> usize {
        // A completed batch may stay listed for a moment after its callbacks ran (see `finish`).
        let in_flight = self.in_flight.iter().filter(|b| !b.is_done()).count();
        self.sealed.len() + in_flight + self.open.as_ref().map_or(0, |_| 1)
    }
    fn queued_records(&self) -> u64 {
        self.sealed.iter().map(|b| b.count as u64).sum::<u64>()
            + self.in_flight_records
            + self.open.as_ref().map_or(0, |b| b.count as u64)
    }
}

struct PartitionQueue {
    index: u32,
    state: Mutex<QueueState>,
    /// Signalled when a batch of this partition completes (queue space freed).
    space: Notify,
}

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

/// Wall-clock milliseconds, read straight from `clock_gettime` (the vDSO): `SystemTime` plus
/// `duration_since` plus `as_millis` (u128 arithmetic) cost several times more, once per record.
fn now_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME is always available.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    #[allow(clippy::useless_conversion)] // the fields are 32-bit on 32-bit targets
    let ms = i64::from(ts.tv_sec) * 1000 + i64::from(ts.tv_nsec) / 1_000_000;
    ms
}

/// Sees each enqueued record's output under its partition's lock (see `Producer::enqueue`).
type Track<'a> = dyn FnMut(&ProduceOutput) + Send + 'a;

enum Enqueued {
    Done(ProduceOutput),
    /// The partition's queue is full; wait on it and try again.
    Full(Arc<PartitionQueue>),
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
        crate::runtime::spawn(sender_loop(inner.clone()));
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

    async fn wait_and_send(
        &self,
        mut q: Arc<PartitionQueue>,
        key: Option<&[u8]>,
        value: &[u8],
        partition: Option<u32>,
        timestamp: Option<i64>,
        track: &mut Track<'_>,
    ) -> Result<ProduceOutput> {
        let deadline = Instant::now() + self.inner().config.send_timeout;
        loop {
            let queue = q.clone();
            let notified = queue.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Re-check after registering, so a completion in between is not missed.
            match self.enqueue(key, value, partition, timestamp, track)? {
                Enqueued::Done(o) => return Ok(o),
                Enqueued::Full(q2) if !Arc::ptr_eq(&q, &q2) => {
                    q = q2;
                    continue;
                }
                Enqueued::Full(_) => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if crate::runtime::timeout(left, notified).await.is_none() {
                return Err(Error::new(
                    ErrorKind::QueueFull,
                    format!(
                        "partition {} of `{}` has {} batches queued and none completed within send_timeout_ms ({} ms); the broker is slow or unreachable",
                        q.index,
                        self.inner().topic,
                        self.inner().config.batch_queue_size,
                        self.inner().config.send_timeout.as_millis()
                    ),
                ));
            }
        }
    }

    fn choose_partition(
        &self,
        key: Option<&[u8]>,
        value: &[u8],
        partition: Option<u32>,
    ) -> Result<u32> {
        let inner = self.inner();
        let count = inner.partition_count.load(Ordering::Acquire);
        match partition {
            Some(p) if p < count => Ok(p),
            Some(p) => Err(Error::new(
                ErrorKind::UnknownPartition,
                format!(
                    "topic `{}` has {count} partitions; there is no partition {p}",
                    inner.topic
                ),
            )),
            None => {
                let available = inner.available.read().unwrap();
                let p = inner.partitioner.partition(
                    &PartitionerContext {
                        partition_count: count,
                        available: &available,
                    },
                    key,
                    value,
                );
                if p >= count {
                    return Err(Error::internal(format!(
                        "partitioner returned {p} for a topic of {count} partitions"
                    )));
                }
                Ok(p)
            }
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

    /// Seals every open batch and wakes the sender, without waiting (a flush that does not block).
    pub fn seal(&self) {
        self.inner().seal_all();
        self.inner().wake.notify_one();
    }

    /// `track` sees the output while the partition's lock is held, so its batch cannot have
    /// completed yet (what [`DeliveryTracker`] relies on); it must not call back into the producer.
    fn enqueue(
        &self,
        key: Option<&[u8]>,
        value: &[u8],
        partition: Option<u32>,
        timestamp: Option<i64>,
        track: &mut Track<'_>,
    ) -> Result<Enqueued> {
        self.check_usable()?;
        let inner = self.inner();
        let cfg = &inner.config;
        let key_len = key.map(|k| k.len());
        // The exact size is computed only for records near the limit.
        if BATCH_OVERHEAD + key_len.unwrap_or(0) + value.len() + RECORD_MAX_FRAMING
            > cfg.max_request_size
        {
            let alone = BATCH_OVERHEAD + record_size(key_len, value.len(), 0, 0);
            if alone > cfg.max_request_size {
                return Err(Error::new(
                    ErrorKind::RecordTooLarge,
                    format!(
                        "record of {} bytes (key {} + value {}) exceeds max_request_size ({} bytes)",
                        alone,
                        key_len.unwrap_or(0),
                        value.len(),
                        cfg.max_request_size
                    ),
                ));
            }
        }
        let p = self.choose_partition(key, value, partition)?;
        let partitions = inner.partitions.read().unwrap();
        let q = &partitions[p as usize];
        let ts = timestamp.unwrap_or_else(now_ms);
        let mut st = q.state.lock().unwrap();
        let mut wake = false;
        if let Some(open) = &st.open {
            let size = record_size(
                key.map(|k| k.len()),
                value.len(),
                ts - open.first_ts,
                open.count as i64,
            );
            if open.estimate + size > cfg.batch_size || open.estimate + size > cfg.max_request_size
            {
                st.seal();
                wake = true;
            }
        }
        if st.open.is_none() {
            if st.sealed.len() + st.in_flight.len() >= cfg.batch_queue_size {
                drop(st);
                if wake {
                    inner.wake.notify_one();
                }
                return Ok(Enqueued::Full(q.clone()));
            }
            let mut section =
                Vec::with_capacity(cfg.batch_size.min(cfg.max_request_size).min(1 << 20) + 64);
            section.resize(SECTION_START + 4, 0);
            st.open = Some(OpenBatch {
                section,
                count: 0,
                first_ts: ts,
                max_ts: ts,
                estimate: BATCH_OVERHEAD,
                opened: Instant::now(),
                result: BatchResult::with_sender(
                    inner.topic.clone(),
                    Arc::downgrade(inner) as Weak<dyn SendNow>,
                    p,
                ),
            });
            wake = true;
        }
        let open = st.open.as_mut().expect("opened above");
        let delta = ts - open.first_ts;
        let before = open.section.len();
        put_record(&mut open.section, key, value, delta, open.count as i64);
        open.estimate += open.section.len() - before;
        let index = open.count;
        open.count += 1;
        open.max_ts = open.max_ts.max(ts);
        let output = ProduceOutput {
            batch: open.result.clone(),
            index,
            partition: p,
            timestamp: ts,
        };
        if open.estimate >= cfg.batch_size {
            st.seal();
            wake = true;
        }
        track(&output);
        // Counted under the queue's lock, not on an atomic the sender thread's counters share a
        // cache line with.
        st.records_sent += 1;
        drop(st);
        drop(partitions);
        if wake {
            inner.wake.notify_one();
        }
        Ok(Enqueued::Done(output))
    }

    /// Sends many records; the sizes are checked before any is enqueued.
    pub async fn send_all<I>(&self, records: I) -> Result<Vec<ProduceOutput>>
    where
        I: IntoIterator<Item = Record>,
    {
        let records: Vec<Record> = records.into_iter().collect();
        self.check_sizes(&records)?;
        let mut out = Vec::with_capacity(records.len());
        for r in &records {
            out.push(
                self.send_parts(r.key.as_deref(), &r.value, r.partition, r.timestamp)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Blocking form of [`send_all`](Self::send_all).
    pub fn send_all_blocking(&self, records: &[Record]) -> Result<Vec<ProduceOutput>> {
        self.check_sizes(records)?;
        records
            .iter()
            .map(|r| self.send_blocking(r.key.as_deref(), &r.value, r.partition, r.timestamp))
            .collect()
    }

    /// [`send_all_blocking`](Self::send_all_blocking) that files record `i` with `tracker` under
    /// `token(i)`.
    pub fn send_all_blocking_tracked<T: Send + 'static>(
        &self,
        records: &[Record],
        tracker: &DeliveryTracker<T>,
        mut token: impl FnMut(usize) -> T,
    ) -> Result<Vec<ProduceOutput>> {
        self.check_sizes(records)?;
        records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let t = token(i);
                self.send_blocking_tracked(
                    r.key.as_deref(),
                    &r.value,
                    r.partition,
                    r.timestamp,
                    tracker,
                    t,
                )
            })
            .collect()
    }

    fn check_sizes(&self, records: &[Record]) -> Result<()> {
        let max = self.inner().config.max_request_size;
        for (i, r) in records.iter().enumerate() {
            let n =
                BATCH_OVERHEAD + record_size(r.key.as_ref().map(|k| k.len()), r.value.len(), 0, 0);
            if n > max {
                return Err(Error::new(ErrorKind::RecordTooLarge, format!("record #{i} of {n} bytes exceeds max_request_size ({max} bytes); nothing was sent")));
            }
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

impl SendNow for Inner {
    fn send_now(&self, partition: u32, batch: &Arc<BatchResult>) {
        let Some(q) = self
            .partitions
            .read()
            .unwrap()
            .get(partition as usize)
            .cloned()
        else {
            return;
        };
        let sealed = {
            let mut st = q.state.lock().unwrap();
            st.open
                .as_ref()
                .is_some_and(|open| Arc::ptr_eq(&open.result, batch))
                && st.seal()
        };
        if sealed {
            self.wake.notify_one();
        }
    }
}

impl Inner {
    /// Seals every open batch and returns the results of everything outstanding.
    fn seal_all(&self) -> Vec<Arc<BatchResult>> {
        let mut out = Vec::new();
        for q in self.partitions.read().unwrap().iter() {
            let mut st = q.state.lock().unwrap();
            st.seal();
            out.extend(st.in_flight.iter().cloned());
            out.extend(st.sealed.iter().map(|b| b.result.clone()));
        }
        out
    }

    /// Stops the sender and fails everything not yet sent.
    fn shutdown(&self, why: &str) {
        self.stop.store(true, Ordering::Release);
        for q in self.partitions.read().unwrap().iter() {
            let mut st = q.state.lock().unwrap();
            st.seal();
            for b in st.sealed.drain(..) {
                self.counters
                    .records_failed
                    .fetch_add(b.count as u64, Ordering::Relaxed);
                b.result.complete(Err(Error::closed(why)));
            }
            q.space.notify_waiters();
        }
        self.wake.notify_one();
    }

    fn record_failure(&self, e: &Error) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        let mut u = self.unreported.lock().unwrap();
        if u.is_none() {
            *u = Some(e.clone());
        }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let base = self.config.retry_backoff.as_millis() as u64;
        let ms = base.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
        Duration::from_millis(ms).min(self.config.retry_backoff_max)
    }

    /// Follows partition count and availability changes from the metadata watch.
    fn refresh_metadata(&self) {
        let (count, available) = {
            let md = self.cluster.metadata();
            let Some(t) = md.topics.get(&*self.topic) else {
                return;
            };
            let count = t.spec.partition_count();
            (count, md.online_partitions(&self.topic, count))
        };
        let old = self.partition_count.load(Ordering::Acquire);
        if count > old {
            let mut parts = self.partitions.write().unwrap();
            for i in parts.len() as u32..count {
                parts.push(Arc::new(PartitionQueue {
                    index: i,
                    state: Default::default(),
                    space: Notify::new(),
                }));
            }
            self.partition_count.store(count, Ordering::Release);
            tracing::info!(topic = %self.topic, from = old, to = count, "topic gained partitions");
        }
        *self.available.write().unwrap() = Arc::new(available);
    }
}

/// One batch on its way: which queue it came from and the batch itself.
struct Outgoing {
    queue: Arc<PartitionQueue>,
    batches: Vec<SealedBatch>,
}

async fn sender_loop(inner: Arc<Inner>) {
    let mut meta_rx = inner.cluster.subscribe();
    loop {
        if inner.stop.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut groups: HashMap<i32, Vec<Outgoing>> = HashMap::new();
        let queues: Vec<Arc<PartitionQueue>> = inner.partitions.read().unwrap().clone();
        for q in &queues {
            let mut st = q.state.lock().unwrap();
            if let Some(open) = &st.open {
                let due = open.opened + inner.config.linger;
                if now >= due {
                    st.seal();
                } else {
                    next = Some(next.map_or(due, |n| n.min(due)));
                }
            }
            // Batches that waited past delivery_timeout fail instead of waiting forever.
            let mut expired = Vec::new();
            while st
                .sealed
                .front()
                .is_some_and(|b| now.duration_since(b.created) >= inner.config.delivery_timeout)
            {
                expired.push(st.sealed.pop_front().expect("checked"));
            }
            if !expired.is_empty() {
                // Completed outside the lock: a delivery callback may send to this partition.
                drop(st);
                for b in expired {
                    let e = Error::timeout(format!(
                        "batch of {} records for {}-{} not delivered within delivery_timeout_ms ({} ms) after {} attempts",
                        b.count,
                        inner.topic,
                        q.index,
                        inner.config.delivery_timeout.as_millis(),
                        b.attempts
                    ));
                    inner.record_failure(&e);
                    inner
                        .counters
                        .records_failed
                        .fetch_add(b.count as u64, Ordering::Relaxed);
                    b.result.complete(Err(e));
                }
                q.space.notify_waiters();
                st = q.state.lock().unwrap();
            }
            if st.sealed.is_empty() {
                continue;
            }
            // A completed batch may still be listed for a moment (see `finish`): it no longer
            // holds the partition back, or a producer waiting on each record would lose a
            // wake-up cycle per record.
            let in_flight_ok = st.in_flight.iter().all(|b| b.is_done())
                || inner.config.delivery == Delivery::AtMostOnce;
            if !in_flight_ok {
                continue;
            }
            if let Some(at) = st.retry_at {
                if now < at {
                    next = Some(next.map_or(at, |n| n.min(at)));
                    continue;
                }
                st.retry_at = None;
            }
            let leader = inner
                .cluster
                .metadata()
                .partition(&inner.topic, q.index)
                .map(|p| p.spec.leader);
            let Some(leader) = leader else {
                st.retry_at = Some(now + inner.backoff(1));
                continue;
            };
            // All ready batches of this partition, up to max_request_size (at least one).
            let mut take = Vec::new();
            let mut bytes = 0usize;
            while let Some(b) = st.sealed.front() {
                let n = b.wire_len();
                if !take.is_empty() && bytes + n > inner.config.max_request_size {
                    break;
                }
                bytes += n;
                let b = st.sealed.pop_front().expect("checked");
                st.in_flight.push(b.result.clone());
                st.in_flight_records += b.count as u64;
                take.push(b);
            }
            groups.entry(leader).or_default().push(Outgoing {
                queue: q.clone(),
                batches: take,
            });
        }
        for (leader, outgoing) in groups {
            // Split per request size: partitions are packed until max_request_size.
            let mut req: Vec<Outgoing> = Vec::new();
            let mut size = 0usize;
            for o in outgoing {
                let n: usize = o.batches.iter().map(|b| b.wire_len()).sum();
                if !req.is_empty() && size + n > inner.config.max_request_size {
                    crate::runtime::spawn(send_request(
                        inner.clone(),
                        leader,
                        std::mem::take(&mut req),
                    ));
                    size = 0;
                }
                size += n;
                req.push(o);
            }
            if !req.is_empty() {
                crate::runtime::spawn(send_request(inner.clone(), leader, req));
            }
        }
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = inner.wake.notified() => {}
            _ = sleep => {}
            r = meta_rx.changed() => {
                if r.is_ok() {
                    inner.refresh_metadata();
                }
            }
        }
    }
}

/// Encodes, sends and settles one produce request for one leader.
/// How much longer than the server-side wait (`timeout_ms`) a produce request may go unanswered.
pub const REQUEST_TIMEOUT_SLACK: Duration = Duration::from_secs(10);

async fn send_request(inner: Arc<Inner>, leader: i32, mut outgoing: Vec<Outgoing>) {
    // Encode (and compress) every batch off the caller's thread; kept for retries.
    let mut encode_error: Option<Error> = None;
    for o in &mut outgoing {
        for b in &mut o.batches {
            if b.encoded.is_some() {
                continue;
            }
            let info = BatchInfo {
                base_offset: b.count as i64 - 1,
                record_count: b.count as usize,
                first_timestamp: b.first_ts,
                max_time_stamp: b.max_ts,
                compression: inner.compression,
            };
            let raw = (b.section.len() - SECTION_START) as u64;
            let encoded = if inner.compression == Compression::None {
                let mut batch = std::mem::take(&mut b.section);
                finish_uncompressed_in_place(&mut batch, &info);
                Ok(batch)
            } else {
                let mut buf = Vec::with_capacity(b.section.len() / 2 + 64);
                write_batch(&mut buf, &info, &b.section[SECTION_START..]).map(|()| {
                    b.section = Vec::new();
                    buf
                })
            };
            match encoded {
                Ok(buf) => {
                    inner
                        .counters
                        .bytes_uncompressed
                        .fetch_add(raw, Ordering::Relaxed);
                    inner
                        .counters
                        .bytes_compressed
                        .fetch_add(buf.len() as u64, Ordering::Relaxed);
                    b.encoded = Some(Arc::new(buf));
                }
                Err(e) => encode_error = Some(e.into()),
            }
        }
    }
    if let Some(e) = encode_error {
        settle_all(&inner, outgoing, Err(e), false);
        return;
    }
    let first_partition = outgoing[0].queue.index;
    let conn = match inner
        .cluster
        .leader_connection(&inner.topic, first_partition)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(topic = %inner.topic, leader, "cannot reach the leader: {e}");
            settle_all(&inner, outgoing, Err(e), true);
            return;
        }
    };
    let version = conn
        .version_for(spu_keys::PRODUCE, 0, SPU_VERSION)
        .unwrap_or(SPU_VERSION);
    let acks = match inner.config.isolation {
        Isolation::ReadUncommitted => ACKS_READ_UNCOMMITTED,
        Isolation::ReadCommitted => ACKS_READ_COMMITTED,
    };
    let timeout_ms = inner.config.timeout.as_millis().min(i32::MAX as u128) as i32;
    let topic = inner.topic.clone();
    let entries: Vec<(u32, Arc<Vec<u8>>)> = outgoing
        .iter()
        .flat_map(|o| {
            o.batches
                .iter()
                .map(move |b| (o.queue.index, b.encoded.clone().expect("encoded above")))
        })
        .collect();
    let write_body = |out: &mut Vec<u8>| {
        Option::<String>::None.encode(out, version);
        acks.encode(out, version);
        timeout_ms.encode(out, version);
        1u32.encode(out, version);
        topic.encode(out, version);
        (entries.len() as u32).encode(out, version);
        for (p, bytes) in &entries {
            p.encode(out, version);
            (bytes.len() as i32).encode(out, version);
            out.extend_from_slice(bytes);
        }
        if version >= 8 {
            0u32.encode(out, version);
        }
    };
    inner.counters.requests_sent.fetch_add(1, Ordering::Relaxed);
    inner
        .counters
        .batches_sent
        .fetch_add(entries.len() as u64, Ordering::Relaxed);

    if inner.config.delivery == Delivery::AtMostOnce {
        let (tx, rx) = oneshot::channel();
        let sent = conn.send_raw(spu_keys::PRODUCE, version, write_body, Some(tx));
        let result = match sent {
            Ok(_response_ignored) => match rx.await {
                Ok(()) => Ok(-1),
                Err(_) => Err(Error::transport(
                    "the connection closed before the request was written",
                )),
            },
            Err(e) => Err(e),
        };
        settle_all(&inner, outgoing, result, false);
        return;
    }

    let oldest = outgoing
        .iter()
        .flat_map(|o| o.batches.iter().map(|b| b.created))
        .min()
        .unwrap_or_else(Instant::now);
    let left = inner
        .config
        .delivery_timeout
        .saturating_sub(oldest.elapsed())
        .max(Duration::from_millis(1));
    // A leader that stays silent (a half-dead SPU, a blackholed connection) would hold the partition
    // until delivery_timeout_ms: past the server-side wait plus a slack, the connection is presumed
    // dead, closed, and the batches retried on a fresh one.
    let request_timeout = inner.config.timeout + REQUEST_TIMEOUT_SLACK;
    let response = match conn.send_raw(spu_keys::PRODUCE, version, write_body, None) {
        Ok(rx) => match conn.wait_raw(rx, left.min(request_timeout)).await {
            Err(e) if e.kind == ErrorKind::Timeout && left > request_timeout => {
                conn.close();
                Err(Error::transport(format!(
                    "no produce response from {} within {request_timeout:?} (timeout_ms + {}s); connection abandoned",
                    conn.addr(),
                    REQUEST_TIMEOUT_SLACK.as_secs()
                )))
            }
            r => r,
        },
        Err(e) => Err(e),
    };
    let body = match response {
        Ok(b) => b,
        Err(e) => {
            settle_all(&inner, outgoing, Err(e), true);
            return;
        }
    };
    let resp: ProduceResponse = match from_bytes(&body, version) {
        Ok(r) => r,
        Err(e) => {
            settle_all(
                &inner,
                outgoing,
                Err(Error::protocol(format!(
                    "undecodable produce response: {}",
                    e.0
                ))),
                false,
            );
            return;
        }
    };
    // Positional matching: the k-th partition response answers the k-th batch we sent.
    let mut answers = resp
        .responses
        .into_iter()
        .flat_map(|t| t.partitions.into_iter());
    for o in outgoing {
        let mut retry = Vec::new();
        for b in o.batches {
            let outcome = match answers.next() {
                None => Err(Error::protocol(
                    "the produce response has fewer entries than the request",
                )),
                Some(a) if a.partition_index != o.queue.index => Err(Error::protocol(format!(
                    "produce response entry for partition {} answers partition {}",
                    a.partition_index, o.queue.index
                ))),
                Some(a) if a.error_code.is_ok() => Ok(a.base_offset),
                Some(a) => Err(Error::from_code(
                    &a.error_code,
                    &format!("producing to {}-{}", inner.topic, o.queue.index),
                )),
            };
            match outcome {
                Ok(base) => finish(&inner, &o.queue, b, Ok(base)),
                Err(e) if e.is_retriable() => retry.push((b, e)),
                Err(e) => finish(&inner, &o.queue, b, Err(e)),
            }
        }
        requeue(&inner, &o.queue, retry);
        o.queue.space.notify_waiters();
    }
    inner.wake.notify_one();
}

/// Settles every batch of a request with one outcome (retrying it if retriable and allowed).
fn settle_all(inner: &Arc<Inner>, outgoing: Vec<Outgoing>, result: Result<i64>, may_retry: bool) {
    for o in outgoing {
        match &result {
            Err(e) if may_retry && e.is_retriable() => {
                let batches = o.batches.into_iter().map(|b| (b, e.clone())).collect();
                requeue(inner, &o.queue, batches);
            }
            r => {
                for b in o.batches {
                    finish(inner, &o.queue, b, r.clone());
                }
            }
        }
        o.queue.space.notify_waiters();
    }
    inner.wake.notify_one();
}

fn finish(inner: &Inner, q: &PartitionQueue, b: SealedBatch, r: Result<i64>) {
    match &r {
        Ok(_) => inner
            .counters
            .records_acked
            .fetch_add(b.count as u64, Ordering::Relaxed),
        Err(e) => {
            inner.record_failure(e);
            inner
                .counters
                .records_failed
                .fetch_add(b.count as u64, Ordering::Relaxed)
        }
    };
    // Its records leave the queue counts first, so stats read after a flush show them gone; the
    // batch is completed (running its callbacks) while still listed as in flight, so a flush that
    // looks at the list meanwhile waits for it; only then is it dropped from the list.
    q.state.lock().unwrap().in_flight_records -= b.count as u64;
    b.result.complete(r);
    let mut st = q.state.lock().unwrap();
    st.in_flight.retain(|x| !Arc::ptr_eq(x, &b.result));
}

/// Puts retriable batches back at the front of their queue, in order, after a backoff; or fails them
/// when retries or the delivery timeout are used up.
fn requeue(inner: &Inner, q: &PartitionQueue, batches: Vec<(SealedBatch, Error)>) {
    if batches.is_empty() {
        return;
    }
    let mut again = Vec::new();
    for (mut b, e) in batches {
        b.attempts += 1;
        let expired = b.created.elapsed() >= inner.config.delivery_timeout;
        if b.attempts > inner.config.max_retries || expired || inner.stop.load(Ordering::Acquire) {
            // Past the deadline the outcome is a Timeout, as for a batch that expires in the queue
            // (whatever the last attempt's error was, which the message keeps).
            let (kind, why) = if expired {
                (ErrorKind::Timeout, "delivery_timeout_ms")
            } else {
                (e.kind, "max_retries")
            };
            let e = Error::new(
                kind,
                format!(
                    "{} (gave up after {} attempts: {why} reached)",
                    e.message, b.attempts
                ),
            );
            finish(inner, q, b, Err(e));
        } else {
            inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(topic = %inner.topic, partition = q.index, attempt = b.attempts, "retrying a batch: {e}");
            again.push(b);
        }
    }
    if again.is_empty() {
        return;
    }
    let mut st = q.state.lock().unwrap();
    let attempts = again.iter().map(|b| b.attempts).max().unwrap_or(1);
    for b in again.into_iter().rev() {
        st.in_flight.retain(|x| !Arc::ptr_eq(x, &b.result));
        st.in_flight_records -= b.count as u64;
        st.sealed.push_front(b);
    }
    st.retry_at = Some(Instant::now() + inner.backoff(attempts));
}
