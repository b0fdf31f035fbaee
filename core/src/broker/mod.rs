//! The embedded broker: a real Fluvio-protocol SC and SPUs in-process, on loopback ports.
//! [`TestBroker`] is the library face (every binding exposes it); `headwater broker` runs it standalone.

pub mod log;
mod replication;
mod rules;
mod server;
pub mod state;
mod wire;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

pub use log::SyncPolicy;
use state::*;
pub use state::{BrokerConfig, BrokerStats, BROKER_KEYS};

use crate::client::TopicConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::batch::decode_batch;
use crate::protocol::compression::DEFAULT_DECOMPRESS_LIMIT;
use crate::protocol::sc::*;
use crate::protocol::Compression;

/// A record as the broker stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub timestamp: i64,
    /// The codec of the batch that carried it.
    pub compression: Compression,
    /// The base offset of that batch (records of one batch share it).
    pub batch_base_offset: i64,
}

/// A stored batch's header facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatchInfo {
    pub base_offset: i64,
    pub record_count: i64,
    pub compression: Compression,
    pub size_bytes: usize,
    pub first_timestamp: i64,
}

/// An embedded broker. Dropping it stops it.
pub struct TestBroker {
    state: Arc<BrokerState>,
    stopped: AtomicBool,
    retention_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    pid: u32,
}

impl std::fmt::Debug for TestBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBroker")
            .field("endpoint", &self.endpoint())
            .finish()
    }
}

impl TestBroker {
    /// Starts a broker: binds the SC and SPU listeners (port 0 = free ports), restores topics from the
    /// data directory, and pre-creates the system topic `consumer-offset`.
    pub async fn start(config: BrokerConfig) -> Result<TestBroker> {
        if config.spus == 0 {
            return Err(Error::invalid("a broker needs at least one SPU"));
        }
        crate::runtime::run(async move { TestBroker::start_inner(config).await }).await
    }

    /// Blocking form of [`start`](Self::start) for synchronous callers.
    pub fn start_blocking(config: BrokerConfig) -> Result<TestBroker> {
        crate::runtime::block_on(TestBroker::start(config))
    }

    async fn start_inner(config: BrokerConfig) -> Result<TestBroker> {
        let tls = config.tls.as_ref().map(|t| t.acceptor()).transpose()?;
        let spus = (0..config.spus)
            .map(|i| SpuSlot {
                id: FIRST_SPU_ID + i as i32,
                port: AtomicUsize::new(
                    config.spu_ports.get(i as usize).copied().unwrap_or(0) as usize
                ),
                paused: watch::channel(false).0,
                stop: Mutex::new(watch::channel(false).0),
                online: AtomicBool::new(false),
            })
            .collect();
        let state = Arc::new(BrokerState {
            topics: Default::default(),
            spus,
            changes: broadcast::channel(4096).0,
            epoch: AtomicI64::new(1),
            storage: Default::default(),
            counters: Default::default(),
            faults: Default::default(),
            sc_port: AtomicUsize::new(config.sc_port as usize),
            sc_stop: Mutex::new(watch::channel(false).0),
            replication_paused: AtomicBool::new(false),
            replication_wake: Arc::new(tokio::sync::Notify::new()),
            consumer_offsets: Default::default(),
            config,
            tls,
        });
        for i in 0..state.spus.len() {
            bind_spu(&state, i).await?;
        }
        state.load_topics().map_err(|e| {
            Error::new(
                ErrorKind::Broker(56),
                format!("cannot load the data directory: {e}"),
            )
        })?;
        state.load_offsets();
        if !state.topics.read().unwrap().contains_key(SYSTEM_TOPIC) {
            let spec = TopicSpec {
                replicas: ReplicaSpec::Computed(TopicReplicaParam {
                    partitions: 1,
                    replication_factor: 1,
                    ignore_rack_assignment: false,
                }),
                cleanup_policy: Some(CleanupPolicy {
                    time_in_seconds: 604800,
                }),
                storage: Some(TopicStorageConfig {
                    segment_size: Some(512000000),
                    max_partition_size: Some(2048000000),
                }),
                compression_type: CompressionAlgorithm::Any,
                deduplication: None,
                system: true,
            };
            state
                .create_topic(SYSTEM_TOPIC, spec)
                .map_err(|(c, m)| Error::new(ErrorKind::Broker(c), m))?;
        }
        bind_sc(&state).await?;
        let weak = Arc::downgrade(&state);
        let interval = state.config.retention_interval;
        let retention = crate::runtime::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(st) = weak.upgrade() else { return };
                st.enforce_retention();
            }
        });
        crate::runtime::spawn(replication::run(
            Arc::downgrade(&state),
            state.replication_wake.clone(),
        ));
        Ok(TestBroker {
            state,
            stopped: AtomicBool::new(false),
            retention_task: Mutex::new(Some(retention)),
            pid: crate::runtime::pid(),
        })
    }

    /// The SC endpoint (`host:port`) clients connect to.
    pub fn endpoint(&self) -> String {
        format!(
            "{}:{}",
            self.state.config.host,
            self.state.sc_port.load(Ordering::SeqCst)
        )
    }
    pub fn config(&self) -> &BrokerConfig {
        &self.state.config
    }
    pub fn spu_ids(&self) -> Vec<i32> {
        self.state.spus.iter().map(|s| s.id).collect()
    }
    /// `host:port` of an SPU.
    pub fn spu_endpoint(&self, id: i32) -> Result<String> {
        let slot = self.slot(id)?;
        Ok(format!(
            "{}:{}",
            self.state.config.host,
            slot.port.load(Ordering::SeqCst)
        ))
    }

    fn slot(&self, id: i32) -> Result<&SpuSlot> {
        self.state
            .spus
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| Error::invalid(format!("no SPU with id {id}")))
    }
    fn slot_index(&self, id: i32) -> Result<usize> {
        self.state
            .spus
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| Error::invalid(format!("no SPU with id {id}")))
    }

    /// Creates a topic with `partitions` partitions and default settings.
    pub fn create_topic(&self, name: &str, partitions: u32) -> Result<()> {
        self.create_topic_with(name, TopicConfig::new(partitions))
    }

    /// Creates a topic. Bad counts are refused before the broker sees them and the broker's own
    /// refusals keep their Fluvio code (BROKER), exactly as `Admin::create_topic` reports them.
    pub fn create_topic_with(&self, name: &str, config: TopicConfig) -> Result<()> {
        config.validate()?;
        self.state
            .create_topic(name, config.to_spec())
            .map_err(|(c, m)| {
                Error::new(
                    ErrorKind::Broker(c),
                    format!(
                        "creating topic `{name}`: broker returned {}: {m}",
                        crate::protocol::ErrorCode::from_code(c).describe()
                    ),
                )
            })
    }

    pub fn delete_topic(&self, name: &str) -> Result<()> {
        self.state.delete_topic(name, false).map_err(|c| {
            let kind = if c.code() == 2001 {
                ErrorKind::UnknownTopic
            } else {
                ErrorKind::Broker(c.code())
            };
            Error::new(
                kind,
                format!("cannot delete topic `{name}`: {}", c.describe()),
            )
        })
    }

    pub fn topics(&self) -> Vec<String> {
        self.state
            .topics
            .read()
            .unwrap()
            .iter()
            .filter(|(_, t)| !t.spec.system)
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn partition(&self, topic: &str, partition: u32) -> Result<Arc<Partition>> {
        let topics = self.state.topics.read().unwrap();
        let t = topics.get(topic).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownTopic,
                format!("topic `{topic}` does not exist"),
            )
        })?;
        t.partitions
            .get(partition as usize)
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownPartition,
                    format!(
                        "topic `{topic}` has {} partitions; there is no partition {partition}",
                        t.partitions.len()
                    ),
                )
            })
    }

    /// What the broker stores for a partition from `from_offset` on: offset, key, value, timestamp and
    /// the codec of each record's batch.
    pub fn records(
        &self,
        topic: &str,
        partition: u32,
        from_offset: i64,
    ) -> Result<Vec<StoredRecord>> {
        let p = self.partition(topic, partition)?;
        let batches = p.log().batches(from_offset);
        decode_stored(batches, from_offset)
    }

    /// The stored batches of a partition (header facts only).
    pub fn batches(&self, topic: &str, partition: u32) -> Result<Vec<StoredBatchInfo>> {
        let p = self.partition(topic, partition)?;
        let batches = p.log().batches(0);
        batches
            .into_iter()
            .map(|b| {
                let h = crate::protocol::batch::BatchHeader::parse(&b.bytes)?;
                Ok(StoredBatchInfo {
                    base_offset: h.base_offset,
                    record_count: h.record_count(),
                    compression: h.compression()?,
                    size_bytes: b.bytes.len(),
                    first_timestamp: h.first_timestamp,
                })
            })
            .collect()
    }

    /// (log start offset, log end offset) of a partition.
    pub fn offsets(&self, topic: &str, partition: u32) -> Result<(i64, i64)> {
        let p = self.partition(topic, partition)?;
        let log = p.log();
        Ok((log.log_start(), log.leo()))
    }

    /// Holds every produce request on SPU `id` until [`resume_spu`](Self::resume_spu).
    pub fn pause_spu(&self, id: i32) -> Result<()> {
        self.slot(id)?.paused.send_replace(true);
        Ok(())
    }
    pub fn resume_spu(&self, id: i32) -> Result<()> {
        self.slot(id)?.paused.send_replace(false);
        Ok(())
    }
    /// Pauses (or resumes) every SPU.
    pub fn pause(&self) {
        for s in &self.state.spus {
            s.paused.send_replace(true);
        }
    }
    pub fn resume(&self) {
        for s in &self.state.spus {
            s.paused.send_replace(false);
        }
    }

    /// Stops SPU `id`: closes its listener and connections. Partitions it led move to an in-sync
    /// follower on a running SPU (announced through the metadata watch); without one they go
    /// `LeaderOffline` until it starts again.
    pub async fn stop_spu(&self, id: i32) -> Result<()> {
        let i = self.slot_index(id)?;
        stop_spu(&self.state, i, true);
        Ok(())
    }

    /// Starts a stopped SPU again on the same port; its follower replicas catch up and rejoin.
    pub async fn start_spu(&self, id: i32) -> Result<()> {
        let i = self.slot_index(id)?;
        let st = self.state.clone();
        crate::runtime::run(async move { bind_spu(&st, i).await }).await
    }

    /// The SPU that currently leads a partition.
    pub fn leader(&self, topic: &str, partition: u32) -> Result<i32> {
        Ok(self.partition(topic, partition)?.leader())
    }

    /// The SPUs holding a partition's replicas (leader first at creation).
    pub fn replicas(&self, topic: &str, partition: u32) -> Result<Vec<i32>> {
        Ok(self.partition(topic, partition)?.replica_ids())
    }

    /// The high watermark of a partition: every in-sync replica has the records below it.
    pub fn high_watermark(&self, topic: &str, partition: u32) -> Result<i64> {
        Ok(self.partition(topic, partition)?.high_watermark())
    }

    /// The log end of one replica (leader or follower).
    pub fn replica_end(&self, topic: &str, partition: u32, spu: i32) -> Result<i64> {
        let p = self.partition(topic, partition)?;
        let r = p.replica(spu).ok_or_else(|| {
            Error::invalid(format!("SPU {spu} holds no replica of {topic}-{partition}"))
        })?;
        let leo = r.log.lock().unwrap().leo();
        Ok(leo)
    }

    /// What one replica (leader or follower) stores, like [`records`](Self::records).
    pub fn replica_records(
        &self,
        topic: &str,
        partition: u32,
        spu: i32,
    ) -> Result<Vec<StoredRecord>> {
        let p = self.partition(topic, partition)?;
        let r = p.replica(spu).ok_or_else(|| {
            Error::invalid(format!("SPU {spu} holds no replica of {topic}-{partition}"))
        })?;
        let batches = r.log.lock().unwrap().batches(0);
        decode_stored(batches, 0)
    }

    /// Test hook: stop (or restart) copying to followers, to show what read_uncommitted can lose.
    pub fn pause_replication(&self, paused: bool) {
        self.state
            .replication_paused
            .store(paused, Ordering::SeqCst);
        self.state.replication_wake.notify_one();
    }

    /// The next `count` requests of `api_key` on any SPU fail with Fluvio error `code`. Only Produce
    /// (api key 0) answers carry an error code per partition, so only it is failed this way; for
    /// other APIs use [`drop_next`](Self::drop_next) or [`delay`](Self::delay).
    pub fn fail_next(&self, api_key: u16, count: u32, code: i16) {
        self.state
            .faults
            .fail_next
            .lock()
            .unwrap()
            .insert(api_key, (count, code));
    }
    /// The next `count` requests of `api_key` close their connection instead of being answered.
    pub fn drop_next(&self, api_key: u16, count: u32) {
        self.state
            .faults
            .drop_next
            .lock()
            .unwrap()
            .insert(api_key, count);
    }
    /// Delays every request of `api_key` (None clears).
    pub fn delay(&self, api_key: u16, delay: Option<Duration>) {
        let mut m = self.state.faults.delay.lock().unwrap();
        match delay {
            Some(d) => m.insert(api_key, d),
            None => m.remove(&api_key),
        };
    }

    pub fn stats(&self) -> BrokerStats {
        self.state.stats()
    }

    /// Runs a retention sweep now; returns the number of segments deleted.
    pub fn enforce_retention(&self) -> usize {
        self.state.enforce_retention()
    }

    /// Stops every listener and connection. Idempotent.
    pub fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.state.sc_stop.lock().unwrap().send_replace(true);
        for i in 0..self.state.spus.len() {
            stop_spu(&self.state, i, false);
        }
        if let Some(t) = self.retention_task.lock().unwrap().take() {
            t.abort();
        }
        for t in self.state.topics.read().unwrap().values() {
            for p in &t.partitions {
                for r in &p.replicas {
                    let _ = r.log.lock().unwrap().sync(&self.state.storage, true);
                }
            }
        }
    }

    /// Stops and starts again on the same ports and data directory (a fresh broker process would do the
    /// same). Without a data directory the records are lost, as in a real restart.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop();
        let mut cfg = self.state.config.clone();
        cfg.sc_port = self.state.sc_port.load(Ordering::SeqCst) as u16;
        cfg.spu_ports = self
            .state
            .spus
            .iter()
            .map(|s| s.port.load(Ordering::SeqCst) as u16)
            .collect();
        let fresh = TestBroker::start(cfg).await?;
        *self = fresh;
        Ok(())
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if self.pid != crate::runtime::pid() {
            // Inherited across fork(): the broker runs in the parent. Leak, never touch.
            std::mem::forget(self.state.clone());
            return;
        }
        self.stop();
    }
}

fn decode_stored(batches: Vec<log::StoredBatch>, from_offset: i64) -> Result<Vec<StoredRecord>> {
    let mut out = Vec::new();
    for b in batches {
        let d = decode_batch(&b.bytes, DEFAULT_DECOMPRESS_LIMIT)?;
        for (i, r) in d.records.into_iter().enumerate() {
            let offset = b.base_offset + i as i64;
            if offset < from_offset {
                continue;
            }
            let timestamp = if d.header.first_timestamp <= 0 {
                -1
            } else {
                d.header.first_timestamp + r.timestamp_delta
            };
            out.push(StoredRecord {
                offset,
                key: r.key,
                value: r.value,
                timestamp,
                compression: d.compression,
                batch_base_offset: b.base_offset,
            });
        }
    }
    Ok(out)
}

/// Binds, retrying for a few seconds while a fixed port is still held by a listener that is
/// shutting down (a restart on the same ports).
async fn bind_retrying(addr: &str) -> std::io::Result<TcpListener> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(addr).await {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && !addr.ends_with(":0")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

async fn bind_spu(state: &Arc<BrokerState>, i: usize) -> Result<()> {
    let slot = &state.spus[i];
    let port = slot.port.load(Ordering::SeqCst) as u16;
    let addr = format!("{}:{}", state.config.host, port);
    let listener = bind_retrying(&addr)
        .await
        .map_err(|e| Error::transport(format!("cannot bind SPU {} on {addr}: {e}", slot.id)))?;
    let bound = listener.local_addr().map_err(Error::from)?.port();
    slot.port.store(bound as usize, Ordering::SeqCst);
    let (tx, rx) = watch::channel(false);
    *slot.stop.lock().unwrap() = tx;
    slot.online.store(true, Ordering::SeqCst);
    crate::runtime::spawn(server::serve(
        state.clone(),
        listener,
        server::Role::Spu(i),
        rx,
    ));
    announce_spu(state, i);
    Ok(())
}

/// Stops an SPU; with `failover`, partitions it led move to in-sync followers (not on a full shutdown).
fn stop_spu(state: &Arc<BrokerState>, i: usize, failover: bool) {
    let slot = &state.spus[i];
    slot.stop.lock().unwrap().send_replace(true);
    if slot.online.swap(false, Ordering::SeqCst) {
        if failover {
            let moved = replication::on_spu_stopped(state, slot.id);
            replication::announce(state, &moved);
        }
        announce_spu(state, i);
    }
}

/// Publishes an SPU's status and the status of the partitions it leads.
fn announce_spu(state: &Arc<BrokerState>, i: usize) {
    state.next_epoch();
    let slot = &state.spus[i];
    let _ = state
        .changes
        .send(Change::Spu(MSG_UPDATE, state.spu_metadata(slot)));
    let topics = state.topics.read().unwrap();
    for t in topics.values() {
        for p in t.partitions.iter().filter(|p| p.leader() == slot.id) {
            let _ = state.changes.send(Change::Partition(
                MSG_UPDATE,
                state.partition_metadata(t, p),
            ));
        }
    }
}

async fn bind_sc(state: &Arc<BrokerState>) -> Result<()> {
    let addr = format!(
        "{}:{}",
        state.config.host,
        state.sc_port.load(Ordering::SeqCst)
    );
    let listener = bind_retrying(&addr)
        .await
        .map_err(|e| Error::transport(format!("cannot bind the SC on {addr}: {e}")))?;
    state.sc_port.store(
        listener.local_addr().map_err(Error::from)?.port() as usize,
        Ordering::SeqCst,
    );
    let (tx, rx) = watch::channel(false);
    *state.sc_stop.lock().unwrap() = tx;
    crate::runtime::spawn(server::serve(state.clone(), listener, server::Role::Sc, rx));
    Ok(())
}
