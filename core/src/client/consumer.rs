//! Reads a partition from an offset over StreamFetch, acknowledging each response with UpdateOffsets
//! as the official consumer does.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::cluster::Cluster;
use super::connection::Connection;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::api::{spu_keys, SPU_VERSION};
use crate::protocol::batch::{decode_batch, split_batches};
use crate::protocol::codec::from_bytes;
use crate::protocol::compression::DEFAULT_DECOMPRESS_LIMIT;
use crate::protocol::spu::*;
use crate::tls::TlsConfig;

/// Where to start reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    Beginning,
    End,
    Absolute(i64),
    /// `n` records after the start of the log.
    FromBeginning(i64),
    /// `n` records before the end of the log.
    FromEnd(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub partition: u32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub timestamp: i64,
}

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub max_bytes: i32,
    pub read_committed: bool,
    pub timeout: Duration,
    /// TLS to the SC and the SPU (plaintext by default).
    pub tls: TlsConfig,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            max_bytes: 1_048_890,
            read_committed: false,
            timeout: Duration::from_secs(10),
            tls: TlsConfig::default(),
        }
    }
}

/// A stream of one partition's records.
pub struct PartitionStream {
    conn: Arc<Connection>,
    topic: String,
    partition: u32,
    start: i64,
    /// The log's end when the stream started (what `-d` reads up to).
    pub end_at_start: i64,
    rx: mpsc::Receiver<Result<Vec<u8>>>,
    stream_corr: i32,
    buffered: VecDeque<ConsumerRecord>,
    version: i16,
    done: bool,
}

pub struct Consumer;

impl Consumer {
    /// Opens a stream on `topic`-`partition` starting at `offset`.
    pub async fn stream(
        endpoint: &str,
        topic: &str,
        partition: u32,
        offset: Offset,
        cfg: ConsumerConfig,
    ) -> Result<PartitionStream> {
        let cluster = Cluster::get_with(endpoint, "headwater", cfg.timeout, &cfg.tls).await?;
        let t = cluster.wait_topic(topic, cfg.timeout).await?;
        if partition >= t.spec.partition_count() {
            return Err(Error::new(
                ErrorKind::UnknownPartition,
                format!(
                    "topic `{topic}` has {} partitions; there is no partition {partition}",
                    t.spec.partition_count()
                ),
            ));
        }
        let conn = cluster.leader_connection(topic, partition).await?;
        open(conn, topic.to_string(), partition, offset, cfg).await
    }

    /// Reads every record from `offset` up to the log's end at the time of the call.
    pub async fn read_to_end(
        endpoint: &str,
        topic: &str,
        partition: u32,
        offset: Offset,
    ) -> Result<Vec<ConsumerRecord>> {
        Consumer::read_to_end_with(
            endpoint,
            topic,
            partition,
            offset,
            ConsumerConfig::default(),
        )
        .await
    }

    /// [`read_to_end`](Self::read_to_end) with a config (TLS, timeout, isolation).
    pub async fn read_to_end_with(
        endpoint: &str,
        topic: &str,
        partition: u32,
        offset: Offset,
        cfg: ConsumerConfig,
    ) -> Result<Vec<ConsumerRecord>> {
        let mut s = Consumer::stream(endpoint, topic, partition, offset, cfg).await?;
        let end = s.end_at_start;
        let mut out = Vec::new();
        if s.start >= end {
            return Ok(out);
        }
        while let Some(r) = s.next().await {
            let r = r?;
            let last = r.offset + 1 >= end;
            out.push(r);
            if last {
                break;
            }
        }
        Ok(out)
    }
}

async fn open(
    conn: Arc<Connection>,
    topic: String,
    partition: u32,
    offset: Offset,
    cfg: ConsumerConfig,
) -> Result<PartitionStream> {
    let fo_version = conn
        .version_for(spu_keys::FETCH_OFFSETS, 0, SPU_VERSION)
        .unwrap_or(SPU_VERSION);
    let req = FetchOffsetsRequest {
        topics: vec![FetchOffsetTopic {
            name: topic.clone(),
            partitions: vec![FetchOffsetPartition {
                partition_index: partition,
            }],
        }],
        consumer_id: None,
    };
    let resp: FetchOffsetsResponse = conn
        .request(spu_keys::FETCH_OFFSETS, fo_version, &req, cfg.timeout)
        .await?;
    let p = resp
        .topics
        .iter()
        .find(|t| t.name == topic)
        .and_then(|t| t.partitions.iter().find(|p| p.partition_index == partition))
        .ok_or_else(|| {
            Error::protocol(format!(
                "no offsets for {topic}-{partition} in the response"
            ))
        })?;
    if !p.error_code.is_ok() {
        return Err(Error::from_code(
            &p.error_code,
            &format!("fetching offsets of {topic}-{partition}"),
        ));
    }
    let (lo, hi) = (p.start_offset, p.last_stable_offset);
    let start = match offset {
        Offset::Absolute(n) => n,
        Offset::Beginning => lo,
        Offset::End => hi,
        Offset::FromBeginning(k) => (lo + k).clamp(lo, hi),
        Offset::FromEnd(k) => (hi - k).clamp(lo, hi),
    };
    // The real SPU caps StreamFetch at v17 if it does not list the key; we speak >= 18 layouts fine.
    let version = conn
        .version_for(spu_keys::STREAM_FETCH, 0, SPU_VERSION)
        .unwrap_or(17);
    let req = StreamFetchRequest {
        topic: topic.clone(),
        partition,
        fetch_offset: start,
        max_bytes: cfg.max_bytes,
        isolation: if cfg.read_committed {
            ISOLATION_READ_COMMITTED
        } else {
            ISOLATION_READ_UNCOMMITTED
        },
        consumer_id: None,
    };
    let (corr, rx) = conn.stream(spu_keys::STREAM_FETCH, version, &req, 4)?;
    Ok(PartitionStream {
        conn,
        topic,
        partition,
        start,
        end_at_start: hi,
        rx,
        stream_corr: corr,
        buffered: VecDeque::new(),
        version,
        done: false,
    })
}

impl PartitionStream {
    pub fn start_offset(&self) -> i64 {
        self.start
    }

    /// The next record; `None` when the stream ended (topic deleted, connection closed after an error).
    pub async fn next(&mut self) -> Option<Result<ConsumerRecord>> {
        loop {
            if let Some(r) = self.buffered.pop_front() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            let body = match self.rx.recv().await {
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    return Some(Err(Error::transport("stream closed")));
                }
            };
            if let Err(e) = self.absorb(&body).await {
                self.done = true;
                return Some(Err(e));
            }
        }
    }

    async fn absorb(&mut self, body: &[u8]) -> Result<()> {
        let resp: StreamFetchResponse = from_bytes(body, self.version)?;
        let (batches, _) = split_batches(&resp.partition.records.0);
        let mut next = None;
        for (h, bytes) in &batches {
            let d = decode_batch(bytes, DEFAULT_DECOMPRESS_LIMIT)?;
            for (i, r) in d.records.into_iter().enumerate() {
                let offset = h.base_offset + i as i64;
                if offset < self.start {
                    continue;
                }
                let timestamp = if h.first_timestamp <= 0 {
                    -1
                } else {
                    h.first_timestamp + r.timestamp_delta
                };
                self.buffered.push_back(ConsumerRecord {
                    partition: self.partition,
                    offset,
                    key: r.key,
                    value: r.value,
                    timestamp,
                });
            }
            next = Some(h.next_offset());
        }
        if let Some(next) = next {
            let next = if resp.partition.next_filter_offset > 0 {
                resp.partition.next_filter_offset
            } else {
                next
            };
            let upd = UpdateOffsetsRequest {
                offsets: vec![OffsetUpdate {
                    offset: next,
                    session_id: resp.stream_id,
                }],
            };
            let conn = self.conn.clone();
            // Fire and forget: the response only confirms the session exists.
            let _ = conn.send_raw(
                spu_keys::UPDATE_OFFSETS,
                0,
                |out| crate::protocol::codec::Encode::encode(&upd, out, 0),
                None,
            );
        }
        if !resp.partition.error_code.is_ok() {
            self.done = true;
            let code = &resp.partition.error_code;
            let mut e =
                Error::from_code(code, &format!("reading {}-{}", self.topic, self.partition));
            if code.code() == crate::protocol::error_code::codes::TOPIC_DELETED {
                e.kind = ErrorKind::UnknownTopic;
            }
            if self.buffered.is_empty() {
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Drop for PartitionStream {
    fn drop(&mut self) {
        self.conn.end_stream(self.stream_corr);
    }
}
