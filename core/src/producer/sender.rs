//! The sender: one background task per producer that takes sealed batches from the partition
//! queues (at most one request in flight per partition under at-least-once), groups them into one
//! produce request per leader SPU, encodes and compresses them off the caller's thread, and settles
//! each batch with its response: done, retried after a backoff, or failed.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::accumulator::{PartitionQueue, SealedBatch, SECTION_START};
use super::config::{Delivery, Isolation};
use super::Inner;
use crate::client::connection::FrameBuf;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::api::{spu_keys, SPU_VERSION};
use crate::protocol::batch::{finish_uncompressed_in_place, write_batch, BatchInfo};
use crate::protocol::codec::{from_bytes, Encode};
use crate::protocol::spu::{ProduceResponse, ACKS_READ_COMMITTED, ACKS_READ_UNCOMMITTED};
use crate::protocol::Compression;

/// One batch on its way: which queue it came from and the batch itself.
struct Outgoing {
    queue: Arc<PartitionQueue>,
    batches: Vec<SealedBatch>,
}

pub(super) async fn sender_loop(inner: Arc<Inner>) {
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

/// How much longer than the server-side wait (`timeout_ms`) a produce request may go unanswered.
pub const REQUEST_TIMEOUT_SLACK: Duration = Duration::from_secs(10);

/// Encodes, sends and settles one produce request for one leader.
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
    let write_body = |out: &mut FrameBuf| {
        Option::<String>::None.encode(out, version);
        acks.encode(out, version);
        timeout_ms.encode(out, version);
        1u32.encode(out, version);
        topic.encode(out, version);
        (entries.len() as u32).encode(out, version);
        for (p, bytes) in &entries {
            p.encode(out, version);
            (bytes.len() as i32).encode(out, version);
            out.splice(bytes);
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

impl Inner {
    pub(super) fn backoff(&self, attempts: u32) -> Duration {
        let base = self.config.retry_backoff.as_millis() as u64;
        let ms = base.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
        Duration::from_millis(ms).min(self.config.retry_backoff_max)
    }
}
