//! The accumulator: per-partition queues of batches. `send` encodes each record straight into its
//! partition's open batch (under that partition's lock); a batch is sealed when it is full, when
//! `linger_ms` runs out (the sender's timer), when someone waits on one of its records, or on
//! flush/close. Sealed batches wait in the queue for the [`sender`](super::sender).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use tokio::sync::Notify;

use super::output::{BatchResult, ProduceOutput, SendNow};
use super::partitioner::PartitionerContext;
use super::records::check_record_size;
use super::{Inner, Producer};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::batch::{put_record, record_size, BATCH_FILE_HEADER_SIZE};

/// Fluvio's batch size estimate: 4 (record count) + 57 (batch header) + Σ record sizes.
pub const BATCH_OVERHEAD: usize = 4 + BATCH_FILE_HEADER_SIZE;

/// Where the records section starts in a batch buffer: the first 57 bytes are room for the batch
/// header, so an uncompressed batch is finished in place, without copying its records.
pub(super) const SECTION_START: usize = BATCH_FILE_HEADER_SIZE;

pub(super) struct OpenBatch {
    /// Header room, then the `u32 count` placeholder, then the encoded records.
    section: Vec<u8>,
    count: u32,
    first_ts: i64,
    max_ts: i64,
    estimate: usize,
    pub(super) opened: Instant,
    result: Arc<BatchResult>,
}

pub(super) struct SealedBatch {
    pub(super) section: Vec<u8>,
    pub(super) count: u32,
    pub(super) first_ts: i64,
    pub(super) max_ts: i64,
    pub(super) created: Instant,
    pub(super) attempts: u32,
    pub(super) result: Arc<BatchResult>,
    /// The encoded (compressed) batch, kept for retries.
    pub(super) encoded: Option<Arc<Vec<u8>>>,
}

impl SealedBatch {
    /// Bytes this batch takes in a request (its encoded form once encoded, for retries).
    pub(super) fn wire_len(&self) -> usize {
        self.encoded
            .as_ref()
            .map_or(self.section.len(), |e| e.len())
    }
}

#[derive(Default)]
pub(super) struct QueueState {
    pub(super) open: Option<OpenBatch>,
    pub(super) sealed: VecDeque<SealedBatch>,
    pub(super) in_flight: Vec<Arc<BatchResult>>,
    pub(super) in_flight_records: u64,
    pub(super) retry_at: Option<Instant>,
    /// Records accepted by `send` into this partition, ever.
    pub(super) records_sent: u64,
}

impl QueueState {
    pub(super) fn seal(&mut self) -> bool {
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
    pub(super) fn queued_batches(&self) -> usize {
        // A completed batch may stay listed for a moment after its callbacks ran (see `finish`).
        let in_flight = self.in_flight.iter().filter(|b| !b.is_done()).count();
        self.sealed.len() + in_flight + self.open.as_ref().map_or(0, |_| 1)
    }
    pub(super) fn queued_records(&self) -> u64 {
        self.sealed.iter().map(|b| b.count as u64).sum::<u64>()
            + self.in_flight_records
            + self.open.as_ref().map_or(0, |b| b.count as u64)
    }
}

pub(super) struct PartitionQueue {
    pub(super) index: u32,
    pub(super) state: Mutex<QueueState>,
    /// Signalled when a batch of this partition completes (queue space freed).
    pub(super) space: Notify,
}

/// Wall-clock milliseconds, read straight from `clock_gettime` (the vDSO): `SystemTime` plus
/// `duration_since` plus `as_millis` (u128 arithmetic) cost several times more, once per record.
pub(super) fn now_ms() -> i64 {
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
pub(super) type Track<'a> = dyn FnMut(&ProduceOutput) + Send + 'a;

pub(super) enum Enqueued {
    Done(ProduceOutput),
    /// The partition's queue is full; wait on it and try again.
    Full(Arc<PartitionQueue>),
}

impl Producer {
    pub(super) async fn wait_and_send(
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

    /// `track` sees the output while the partition's lock is held, so its batch cannot have
    /// completed yet (what [`DeliveryTracker`] relies on); it must not call back into the producer.
    pub(super) fn enqueue(
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
        check_record_size(cfg, key, value)?;
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
                // Its id: one more than the partition's records before it, so unique within the
                // partition, and never 0.
                result: BatchResult::with_sender(
                    inner.topic.clone(),
                    Arc::downgrade(inner) as Weak<dyn SendNow>,
                    p,
                    st.records_sent + 1,
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
}

impl SendNow for Inner {
    fn send_now(&self, partition: u32, batch: &Arc<BatchResult>) {
        self.seal_open_if(partition, |open| Arc::ptr_eq(open, batch));
    }
}

impl Inner {
    /// Seals `partition`'s open batch if `is_it` says it is the one wanted, and wakes the sender.
    pub(super) fn seal_open_if(
        &self,
        partition: u32,
        is_it: impl FnOnce(&Arc<BatchResult>) -> bool,
    ) {
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
            st.open.as_ref().is_some_and(|open| is_it(&open.result)) && st.seal()
        };
        if sealed {
            self.wake.notify_one();
        }
    }
}

impl Inner {
    /// Seals every open batch and returns the results of everything outstanding.
    pub(super) fn seal_all(&self) -> Vec<Arc<BatchResult>> {
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
    pub(super) fn shutdown(&self, why: &str) {
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

    /// Follows partition count and availability changes from the metadata watch.
    pub(super) fn refresh_metadata(&self) {
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
