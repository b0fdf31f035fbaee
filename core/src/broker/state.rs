//! The broker's shared state: topics, partitions (each with its log), SPUs, the change feed that
//! metadata watches follow, fault injection and counters.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{broadcast, watch, Notify};

use super::log::{LogConfig, PartitionLog, StorageStats, SyncPolicy};
use crate::error::{Error, Result};
use crate::producer::config::camel_case;
use crate::protocol::sc::*;
use crate::tls::{existing_file, ServerTlsConfig};

/// How the embedded broker runs.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Number of SPUs (each its own listener). Partition leaders are spread across them.
    pub spus: u32,
    /// Keep logs in append-only segment files here (recovered on restart); `None` = in memory.
    pub data_dir: Option<PathBuf>,
    /// Address to bind (loopback unless told otherwise).
    pub host: String,
    /// SC port (0 = pick a free one).
    pub sc_port: u16,
    /// SPU ports, by index (missing or 0 = pick free ones).
    pub spu_ports: Vec<u16>,
    /// Largest request frame accepted; a larger one closes that connection only.
    pub max_frame_bytes: usize,
    pub max_connections: usize,
    pub max_partitions_per_topic: u32,
    /// Produce batches larger than this are refused with MessageTooLarge.
    pub max_batch_bytes: usize,
    pub sync: SyncPolicy,
    /// How often retention is enforced.
    pub retention_interval: Duration,
    /// Segment size for topics that do not set one.
    pub default_segment_size: u64,
    /// Serve TLS on the SC and every SPU listener (and advertise SPUs as SSL); `None` = plaintext.
    pub tls: Option<ServerTlsConfig>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            spus: 1,
            data_dir: None,
            host: "127.0.0.1".into(),
            sc_port: 0,
            spu_ports: vec![],
            max_frame_bytes: 64 << 20,
            max_connections: 1024,
            max_partitions_per_topic: 1024,
            max_batch_bytes: 32 << 20,
            sync: SyncPolicy::EveryRequest,
            retention_interval: Duration::from_secs(1),
            default_segment_size: 1 << 30,
            tls: None,
        }
    }
}

impl BrokerConfig {
    pub fn spus(mut self, n: u32) -> Self {
        self.spus = n;
        self
    }
    pub fn data_dir(mut self, d: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(d.into());
        self
    }
    /// Serve TLS with this certificate (and, if it has a client CA, require client certificates).
    pub fn tls(mut self, tls: ServerTlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Builds a config from string options, the way every binding and the CLI spell them
    /// ([`BROKER_KEYS`], snake_case or camelCase): `spus`, `data_dir`, `sync` (`request`, `never`
    /// or an interval: `250`, `250ms`, `2s`), and `tls_cert` + `tls_key` (PEM files; both or neither)
    /// with an optional `tls_client_ca` that makes client certificates mandatory. Errors are
    /// `Config` errors naming the key as spelled.
    pub fn from_options<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<BrokerConfig> {
        let mut cfg = BrokerConfig::default();
        let (mut cert, mut key, mut client_ca) = (None, None, None);
        for (name, value) in options {
            let canonical = BROKER_KEYS
                .iter()
                .find(|k| **k == name || camel_case(k) == name)
                .ok_or_else(|| {
                    Error::config(
                        name,
                        format!(
                            "unknown broker option; valid ones are: {}",
                            BROKER_KEYS.join(", ")
                        ),
                    )
                })?;
            match *canonical {
                "spus" => {
                    cfg.spus = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=1024).contains(n))
                        .ok_or_else(|| {
                            Error::config(name, format!("expected 1 to 1024 SPUs, got {value:?}"))
                        })?
                }
                "data_dir" if value.is_empty() => {
                    return Err(Error::config(name, "expected a directory, got an empty string"))
                }
                "data_dir" => cfg.data_dir = Some(PathBuf::from(value)),
                "sync" => {
                    cfg.sync = match value {
                        "request" => SyncPolicy::EveryRequest,
                        "never" => SyncPolicy::Never,
                        interval => SyncPolicy::Interval(parse_interval(interval).ok_or_else(|| {
                            Error::config(
                                name,
                                format!(
                                    "expected request, never or an interval (250, 250ms or 2s), got {value:?}"
                                ),
                            )
                        })?),
                    }
                }
                "tls_cert" => cert = Some(existing_file(name, value)?),
                "tls_key" => key = Some(existing_file(name, value)?),
                _ => client_ca = Some(existing_file(name, value)?),
            }
        }
        cfg.tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(ServerTlsConfig {
                cert,
                key,
                client_ca,
            }),
            (None, None) if client_ca.is_none() => None,
            (None, None) => {
                return Err(Error::config(
                    "tls_client_ca",
                    "needs tls_cert and tls_key (the broker's own certificate)",
                ))
            }
            (Some(_), None) => return Err(Error::config("tls_key", "tls_cert needs tls_key")),
            (None, Some(_)) => return Err(Error::config("tls_cert", "tls_key needs tls_cert")),
        };
        Ok(cfg)
    }
}

/// A positive interval: whole milliseconds, optionally with an `ms` or `s` unit.
fn parse_interval(v: &str) -> Option<Duration> {
    let (number, unit_ms) = match (v.strip_suffix("ms"), v.strip_suffix('s')) {
        (Some(n), _) => (n, 1),
        (None, Some(n)) => (n, 1000),
        (None, None) => (v, 1),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms = number.parse::<u64>().ok()?.checked_mul(unit_ms)?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// The broker options every binding accepts (see [`BrokerConfig::from_options`]).
pub const BROKER_KEYS: &[&str] = &[
    "spus",
    "data_dir",
    "sync",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
];

pub const FIRST_SPU_ID: i32 = 5001;
pub const SYSTEM_TOPIC: &str = "consumer-offset";
/// The SC's platform version (any semver >= 0.9.0 satisfies the official clients).
pub const PLATFORM_VERSION: &str = "0.18.2";
/// What the real SPU reports as its platform version: the default, never its own version.
pub const SPU_PLATFORM_VERSION: &str = "0.0.0";

/// One copy of a partition's log, on one SPU.
pub struct Replica {
    pub spu: i32,
    pub log: Mutex<PartitionLog>,
}

/// A partition: a leader replica and followers on distinct SPUs, kept in step by
/// `replication::sync_followers`. The high watermark is the end of what every in-sync replica has.
pub struct Partition {
    pub topic: String,
    pub index: u32,
    pub replicas: Vec<Replica>,
    leader: AtomicI32,
    /// In-sync replicas, the leader included: each has every record below the high watermark.
    isr: Mutex<Vec<i32>>,
    /// The leader's log end, for fetches waiting on new data.
    pub leo: watch::Sender<i64>,
    /// The high watermark, for read-committed produce acknowledgements and fetches.
    pub hw: watch::Sender<i64>,
    pub deleted: AtomicBool,
    /// Wakes the broker's replication task (new data, an SPU stopped or started).
    pub replicate: Arc<Notify>,
}

impl Partition {
    pub fn new(
        topic: &str,
        index: u32,
        replicas: Vec<Replica>,
        leader: i32,
        replicate: Arc<Notify>,
    ) -> Partition {
        let leo = replicas
            .iter()
            .find(|r| r.spu == leader)
            .map(|r| r.log.lock().unwrap().leo())
            .unwrap_or(0);
        let isr = replicas
            .iter()
            .filter(|r| r.log.lock().unwrap().leo() == leo)
            .map(|r| r.spu)
            .collect();
        Partition {
            topic: topic.to_string(),
            index,
            replicas,
            leader: AtomicI32::new(leader),
            isr: Mutex::new(isr),
            leo: watch::channel(leo).0,
            hw: watch::channel(leo).0,
            deleted: AtomicBool::new(false),
            replicate,
        }
    }
    pub fn leader(&self) -> i32 {
        self.leader.load(Ordering::SeqCst)
    }
    pub(crate) fn set_leader(&self, spu: i32) {
        self.leader.store(spu, Ordering::SeqCst);
    }
    pub fn replica(&self, spu: i32) -> Option<&Replica> {
        self.replicas.iter().find(|r| r.spu == spu)
    }
    pub fn replica_ids(&self) -> Vec<i32> {
        self.replicas.iter().map(|r| r.spu).collect()
    }
    /// The leader's log.
    pub fn log(&self) -> std::sync::MutexGuard<'_, PartitionLog> {
        self.replica(self.leader())
            .expect("the leader is a replica")
            .log
            .lock()
            .unwrap()
    }
    pub fn isr(&self) -> Vec<i32> {
        self.isr.lock().unwrap().clone()
    }
    pub(crate) fn set_isr(&self, isr: Vec<i32>) {
        *self.isr.lock().unwrap() = isr;
    }
    pub fn high_watermark(&self) -> i64 {
        *self.hw.borrow()
    }
    /// After an append on the leader: publish the new end; a single replica commits at once.
    pub fn notify(&self) {
        let leo = self.log().leo();
        self.leo.send_replace(leo);
        if self.replicas.len() == 1 {
            self.hw.send_replace(leo);
        } else {
            self.replicate.notify_one();
        }
    }
}

pub struct Topic {
    pub spec: TopicSpec,
    /// Empty for a topic that could not be provisioned.
    pub partitions: Vec<Arc<Partition>>,
    /// False when the topic asked for more replicas than there are SPUs: like the real SC, the
    /// broker keeps it, InsufficientResources and without partitions, until it is deleted.
    pub provisioned: bool,
}

/// A consumer's committed offset for one partition (consumer-offset APIs 1006-1008).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    /// Seconds since the epoch.
    pub modified_time: u64,
}

/// (topic, partition, consumer id), in the order the real SPU lists them.
pub type ConsumerKey = (String, u32, String);

/// A metadata change, as a watch stream forwards it.
#[derive(Clone, Debug)]
pub enum Change {
    Topic(u8, TopicMetadata),
    Partition(u8, PartitionMetadata),
    Spu(u8, SpuMetadata),
}

pub struct SpuSlot {
    pub id: i32,
    pub port: AtomicUsize,
    pub paused: watch::Sender<bool>,
    /// Flips to true to stop the listener and every connection of this SPU.
    pub stop: Mutex<watch::Sender<bool>>,
    pub online: AtomicBool,
}

/// Injected faults: the next N requests of an api key answer with an error code, or are delayed.
#[derive(Default)]
pub struct Faults {
    pub fail_next: Mutex<HashMap<u16, (u32, i16)>>,
    pub delay: Mutex<HashMap<u16, Duration>>,
    pub drop_next: Mutex<HashMap<u16, u32>>,
}

impl Faults {
    /// Takes one pending failure for `api_key`, if any.
    pub fn take_failure(&self, api_key: u16) -> Option<i16> {
        let mut m = self.fail_next.lock().unwrap();
        let e = m.get_mut(&api_key)?;
        if e.0 == 0 {
            return None;
        }
        e.0 -= 1;
        Some(e.1)
    }
    pub fn take_drop(&self, api_key: u16) -> bool {
        let mut m = self.drop_next.lock().unwrap();
        match m.get_mut(&api_key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
    pub fn delay_for(&self, api_key: u16) -> Option<Duration> {
        self.delay.lock().unwrap().get(&api_key).copied()
    }
}

#[derive(Default, Debug)]
pub struct Counters {
    pub connections: AtomicUsize,
    pub connections_total: AtomicU64,
    pub produce_requests: AtomicU64,
    pub fetch_responses: AtomicU64,
    pub rejected_frames: AtomicU64,
}

counters! {
    /// A snapshot of the broker's counters.
    pub struct BrokerStats {
        produce_requests,
        batches_appended,
        records_appended,
        bytes_appended,
        fsyncs,
        segments_deleted,
        truncated_bytes,
        connections,
        connections_total,
        rejected_frames,
        fetch_responses,
    }
}

pub struct BrokerState {
    pub config: BrokerConfig,
    pub topics: RwLock<BTreeMap<String, Topic>>,
    pub spus: Vec<SpuSlot>,
    pub changes: broadcast::Sender<Change>,
    pub epoch: AtomicI64,
    pub storage: StorageStats,
    pub counters: Counters,
    pub faults: Faults,
    pub sc_port: AtomicUsize,
    pub sc_stop: Mutex<watch::Sender<bool>>,
    /// Built from `config.tls` at start; every listener accepts through it.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Test hook: while set, followers receive nothing (shows what read_uncommitted can lose).
    pub replication_paused: AtomicBool,
    pub replication_wake: Arc<Notify>,
    /// Committed consumer offsets (kept in `<data_dir>/consumer-offsets` when there is one).
    pub consumer_offsets: Mutex<BTreeMap<ConsumerKey, CommittedOffset>>,
}

pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

impl BrokerState {
    pub fn next_epoch(&self) -> i64 {
        self.epoch.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn spu_metadata(&self, slot: &SpuSlot) -> SpuMetadata {
        let port = slot.port.load(Ordering::SeqCst) as u16;
        // Fluvio's EncryptionEnum: PLAINTEXT = 0, SSL = 1.
        let encryption = u8::from(self.config.tls.is_some());
        SpuMetadata {
            name: format!("custom-spu-{}", slot.id),
            spec: SpuSpec {
                id: slot.id,
                spu_type: 1,
                public_endpoint: IngressPort {
                    port,
                    ingress: vec![IngressAddr {
                        hostname: Some(self.config.host.clone()),
                        ip: None,
                    }],
                    encryption,
                },
                private_endpoint: Endpoint {
                    port,
                    host: self.config.host.clone(),
                    encryption,
                },
                rack: None,
                public_endpoint_local: None,
            },
            status: SpuStatus {
                resolution: if slot.online.load(Ordering::SeqCst) {
                    SpuResolution::Online
                } else {
                    SpuResolution::Offline
                },
            },
        }
    }

    pub fn spu_online(&self, id: i32) -> bool {
        self.spus
            .iter()
            .any(|s| s.id == id && s.online.load(Ordering::SeqCst))
    }

    pub fn topic_metadata(&self, name: &str, t: &Topic) -> TopicMetadata {
        TopicMetadata {
            name: name.to_string(),
            spec: t.spec.clone(),
            status: TopicStatus {
                resolution: if t.provisioned {
                    TopicResolution::Provisioned
                } else {
                    TopicResolution::InsufficientResources
                },
                replica_map: t
                    .partitions
                    .iter()
                    .map(|p| (p.index, p.replica_ids()))
                    .collect(),
                mirror_map: BTreeMap::new(),
                reason: String::new(),
            },
        }
    }

    pub fn partition_metadata(&self, t: &Topic, p: &Partition) -> PartitionMetadata {
        let (leo, size, start) = {
            let log = p.log();
            (log.leo(), log.size_bytes() as i64, log.log_start())
        };
        let hw = p.high_watermark();
        let leader = p.leader();
        let isr = p.isr();
        let followers = p
            .replicas
            .iter()
            .filter(|r| r.spu != leader)
            .map(|r| ReplicaStatus {
                spu: r.spu,
                hw,
                leo: r.log.lock().unwrap().leo(),
            })
            .collect();
        PartitionMetadata {
            name: format!("{}-{}", p.topic, p.index),
            spec: PartitionSpec {
                leader,
                replicas: p.replica_ids(),
                cleanup_policy: t.spec.cleanup_policy,
                storage: t.spec.storage.clone(),
                compression_type: t.spec.compression_type,
                deduplication: None,
                system: t.spec.system,
                mirror: None,
            },
            status: PartitionStatus {
                resolution: if self.spu_online(leader) {
                    PartitionResolution::Online
                } else {
                    PartitionResolution::LeaderOffline
                },
                leader: ReplicaStatus {
                    spu: leader,
                    hw,
                    leo,
                },
                // Like the real SC: 0 for a single replica, else the in-sync count.
                lsr: if p.replicas.len() > 1 {
                    isr.len() as u32
                } else {
                    0
                },
                replicas: followers,
                size,
                is_being_deleted: false,
                base_offset: start,
            },
        }
    }

    pub fn all_topics(&self) -> Vec<TopicMetadata> {
        self.topics
            .read()
            .unwrap()
            .iter()
            .map(|(n, t)| self.topic_metadata(n, t))
            .collect()
    }
    pub fn all_partitions(&self) -> Vec<PartitionMetadata> {
        let topics = self.topics.read().unwrap();
        topics
            .values()
            .flat_map(|t| t.partitions.iter().map(|p| self.partition_metadata(t, p)))
            .collect()
    }
    pub fn all_spus(&self) -> Vec<SpuMetadata> {
        self.spus.iter().map(|s| self.spu_metadata(s)).collect()
    }

    pub fn partition(&self, topic: &str, index: u32) -> Option<Arc<Partition>> {
        self.topics
            .read()
            .unwrap()
            .get(topic)
            .and_then(|t| t.partitions.get(index as usize).cloned())
    }

    pub fn log_config(&self, spec: &TopicSpec) -> LogConfig {
        LogConfig {
            segment_size: spec
                .storage
                .as_ref()
                .and_then(|s| s.segment_size)
                .map(|s| s as u64)
                .unwrap_or(self.config.default_segment_size),
            retention: spec
                .cleanup_policy
                .map(|c| Duration::from_secs(c.time_in_seconds as u64)),
            max_partition_size: spec.storage.as_ref().and_then(|s| s.max_partition_size),
            sync: self.config.sync,
        }
    }

    fn topic_dir(&self) -> Option<PathBuf> {
        self.config.data_dir.as_ref().map(|d| d.join("topics"))
    }
    fn log_dir(&self, topic: &str, p: u32) -> Option<PathBuf> {
        self.config
            .data_dir
            .as_ref()
            .map(|d| d.join("logs").join(format!("{topic}-{p}")))
    }

    /// Validates and creates a topic; `Err((code, message))` in Fluvio terms.
    pub fn create_topic(&self, name: &str, spec: TopicSpec) -> Result<(), (i16, String)> {
        self.create_topic_with(name, spec, None)
    }

    /// `restored`: the replica lists a data directory recorded (leader first), for a restart.
    pub fn create_topic_with(
        &self,
        name: &str,
        spec: TopicSpec,
        restored: Option<Vec<Vec<i32>>>,
    ) -> Result<(), (i16, String)> {
        use crate::protocol::error_code::codes::*;
        if !valid_topic_name(name) {
            return Err((TOPIC_INVALID_NAME, format!("invalid topic name `{name}`: use 1-63 of [a-z0-9-], not starting or ending with '-'")));
        }
        let assignments: Vec<Vec<i32>> = match (&spec.replicas, restored) {
            (_, Some(a)) => a,
            (ReplicaSpec::Computed(p), None) => {
                if p.partitions == 0 {
                    return Err((
                        TOPIC_INVALID_CONFIGURATION,
                        "a topic needs at least one partition".into(),
                    ));
                }
                if p.partitions > self.config.max_partitions_per_topic {
                    return Err((
                        TOPIC_INVALID_CONFIGURATION,
                        format!(
                            "{} partitions exceed this broker's limit of {}",
                            p.partitions, self.config.max_partitions_per_topic
                        ),
                    ));
                }
                let n = self.spus.len();
                if p.replication_factor as usize > n {
                    // The real SC keeps such a topic (InsufficientResources, no partitions) and
                    // answers TopicNotProvisioned once its wait runs out; this broker never gains
                    // SPUs, so it answers at once and says why.
                    self.insert_unprovisioned(name, spec.clone())?;
                    return Err((
                        TOPIC_NOT_PROVISIONED,
                        format!(
                            "only 0 out of {} provisioned: replication factor {} exceeds the {} SPU(s) of this broker",
                            p.partitions, p.replication_factor, n
                        ),
                    ));
                }
                let rf = p.replication_factor.max(1) as usize;
                // Leaders spread round-robin; followers on the next SPUs (distinct by construction).
                let start = (self.epoch.load(Ordering::SeqCst) as usize) % n;
                (0..p.partitions as usize)
                    .map(|i| (0..rf).map(|k| self.spus[(start + i + k) % n].id).collect())
                    .collect()
            }
            (ReplicaSpec::Assigned(maps), None) => {
                if maps.is_empty() || maps.len() as u32 > self.config.max_partitions_per_topic {
                    return Err((TOPIC_INVALID_CONFIGURATION, "invalid partition map".into()));
                }
                let mut out = vec![Vec::new(); maps.len()];
                for m in maps {
                    let distinct: std::collections::HashSet<_> = m.replicas.iter().collect();
                    if m.replicas.is_empty()
                        || distinct.len() != m.replicas.len()
                        || m.id as usize >= maps.len()
                        || m.replicas
                            .iter()
                            .any(|r| !self.spus.iter().any(|s| s.id == *r))
                    {
                        return Err((
                            TOPIC_INVALID_CONFIGURATION,
                            format!(
                                "partition {} has an invalid replica list {:?}",
                                m.id, m.replicas
                            ),
                        ));
                    }
                    out[m.id as usize] = m.replicas.clone();
                }
                out
            }
            _ => {
                return Err((
                    2008,
                    "mirror topics are not supported by the embedded broker".into(),
                ))
            }
        };
        let mut topics = self.topics.write().unwrap();
        if topics.contains_key(name) {
            return Err((
                TOPIC_ALREADY_EXISTS,
                format!("Topic '{name}' already exists"),
            ));
        }
        let cfg = self.log_config(&spec);
        let mut partitions = Vec::new();
        for (i, replica_ids) in assignments.iter().enumerate() {
            let mut replicas = Vec::new();
            for spu in replica_ids {
                let log = match self.log_dir(name, i as u32) {
                    Some(d) => {
                        PartitionLog::open(d.join(spu.to_string()), cfg.clone(), &self.storage)
                            .map_err(|e| (STORAGE_ERROR, format!("cannot create the log: {e}")))?
                    }
                    None => PartitionLog::in_memory(cfg.clone()),
                };
                replicas.push(Replica {
                    spu: *spu,
                    log: Mutex::new(log),
                });
            }
            // After a restart the replica with the most records leads (first in assignment order on ties).
            let leader = replicas.iter().fold(None::<(i32, i64)>, |best, r| {
                let leo = r.log.lock().unwrap().leo();
                match best {
                    Some((_, b)) if b >= leo => best,
                    _ => Some((r.spu, leo)),
                }
            });
            let leader = leader.map(|(spu, _)| spu).unwrap_or(replica_ids[0]);
            partitions.push(Arc::new(Partition::new(
                name,
                i as u32,
                replicas,
                leader,
                self.replication_wake.clone(),
            )));
        }
        self.persist_topic(name, &spec, &assignments)?;
        let topic = Topic {
            spec,
            partitions,
            provisioned: true,
        };
        let tm = self.topic_metadata(name, &topic);
        let pms: Vec<_> = topic
            .partitions
            .iter()
            .map(|p| self.partition_metadata(&topic, p))
            .collect();
        topics.insert(name.to_string(), topic);
        drop(topics);
        self.next_epoch();
        for pm in pms {
            let _ = self.changes.send(Change::Partition(MSG_UPDATE, pm));
        }
        let _ = self.changes.send(Change::Topic(MSG_UPDATE, tm));
        Ok(())
    }

    /// Writes a topic's spec and replica assignment to the data directory (if there is one).
    fn persist_topic(
        &self,
        name: &str,
        spec: &TopicSpec,
        assignments: &[Vec<i32>],
    ) -> Result<(), (i16, String)> {
        let Some(d) = self.topic_dir() else {
            return Ok(());
        };
        let bytes = crate::protocol::codec::to_bytes(spec, crate::protocol::api::SC_VERSION);
        let replicas: String = assignments
            .iter()
            .map(|r| {
                r.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n"
            })
            .collect();
        let write = std::fs::create_dir_all(&d).and_then(|_| {
            std::fs::write(d.join(format!("{name}.replicas")), replicas.as_bytes())?;
            let tmp = d.join(format!("{name}.spec.tmp"));
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, d.join(format!("{name}.spec")))
        });
        write.map_err(|e| {
            (
                crate::protocol::error_code::codes::STORAGE_ERROR,
                format!("cannot persist topic `{name}`: {e}"),
            )
        })
    }

    /// Keeps a topic that cannot be provisioned (more replicas than SPUs): no partitions,
    /// InsufficientResources, deletable like any other.
    fn insert_unprovisioned(&self, name: &str, spec: TopicSpec) -> Result<(), (i16, String)> {
        let mut topics = self.topics.write().unwrap();
        if topics.contains_key(name) {
            return Err((
                crate::protocol::error_code::codes::TOPIC_ALREADY_EXISTS,
                format!("Topic '{name}' already exists"),
            ));
        }
        self.persist_topic(name, &spec, &[])?;
        let topic = Topic {
            spec,
            partitions: Vec::new(),
            provisioned: false,
        };
        let tm = self.topic_metadata(name, &topic);
        topics.insert(name.to_string(), topic);
        drop(topics);
        self.next_epoch();
        let _ = self.changes.send(Change::Topic(MSG_UPDATE, tm));
        Ok(())
    }

    /// Commits `offset` for a consumer of a partition (now as its modification time).
    pub fn commit_offset(&self, key: ConsumerKey, offset: i64) {
        let modified_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut offsets = self.consumer_offsets.lock().unwrap();
        offsets.insert(
            key,
            CommittedOffset {
                offset,
                modified_time,
            },
        );
        self.save_offsets(&offsets);
    }

    /// Forgets a consumer's committed offset (no error if there is none, as on the real SPU).
    pub fn delete_offset(&self, key: &ConsumerKey) {
        let mut offsets = self.consumer_offsets.lock().unwrap();
        if offsets.remove(key).is_some() {
            self.save_offsets(&offsets);
        }
    }

    fn offsets_file(&self) -> Option<PathBuf> {
        self.config
            .data_dir
            .as_ref()
            .map(|d| d.join("consumer-offsets"))
    }

    fn save_offsets(&self, offsets: &BTreeMap<ConsumerKey, CommittedOffset>) {
        let Some(path) = self.offsets_file() else {
            return;
        };
        let list: Vec<super::wire::ConsumerOffset> = offsets
            .iter()
            .map(
                |((topic, partition, consumer), c)| super::wire::ConsumerOffset {
                    consumer_id: consumer.clone(),
                    replica_id: super::wire::ReplicaKey {
                        topic: topic.clone(),
                        partition: *partition,
                    },
                    offset: c.offset,
                    modified_time: c.modified_time,
                },
            )
            .collect();
        let bytes = crate::protocol::codec::to_bytes(&list, 0);
        let tmp = path.with_extension("tmp");
        let res = std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, &path));
        if let Err(e) = res {
            tracing::error!(path = %path.display(), "cannot save consumer offsets: {e}");
        }
    }

    /// Reads committed consumer offsets back from the data directory.
    pub fn load_offsets(&self) {
        let Some(bytes) = self.offsets_file().and_then(|p| std::fs::read(p).ok()) else {
            return;
        };
        match crate::protocol::codec::from_bytes::<Vec<super::wire::ConsumerOffset>>(&bytes, 0) {
            Ok(list) => {
                let mut offsets = self.consumer_offsets.lock().unwrap();
                for c in list {
                    offsets.insert(
                        (c.replica_id.topic, c.replica_id.partition, c.consumer_id),
                        CommittedOffset {
                            offset: c.offset,
                            modified_time: c.modified_time,
                        },
                    );
                }
            }
            Err(e) => tracing::warn!("ignoring unreadable consumer offsets: {e}"),
        }
    }

    pub fn delete_topic(&self, name: &str, force: bool) -> Result<(), crate::protocol::ErrorCode> {
        use crate::protocol::ErrorCode;
        let mut topics = self.topics.write().unwrap();
        let Some(t) = topics.get(name) else {
            return Err(ErrorCode::Plain(
                crate::protocol::error_code::codes::TOPIC_NOT_FOUND,
            ));
        };
        if t.spec.system && !force {
            return Err(ErrorCode::SystemSpec {
                tag: 12001,
                kind: "topic".into(),
                name: name.into(),
            });
        }
        let tm = self.topic_metadata(name, t);
        let pms: Vec<_> = t
            .partitions
            .iter()
            .map(|p| self.partition_metadata(t, p))
            .collect();
        let t = topics.remove(name).expect("present");
        drop(topics);
        for p in &t.partitions {
            p.deleted.store(true, Ordering::SeqCst);
            p.leo.send_modify(|_| {});
            for r in &p.replicas {
                let mut log = r.log.lock().unwrap();
                let placeholder = PartitionLog::in_memory(LogConfig::default());
                std::mem::replace(&mut *log, placeholder).destroy();
            }
        }
        // Like the real SPU: committed offsets of a deleted topic's partitions go with it.
        {
            let mut offsets = self.consumer_offsets.lock().unwrap();
            let before = offsets.len();
            offsets.retain(|(topic, _, _), _| topic != name);
            if offsets.len() != before {
                self.save_offsets(&offsets);
            }
        }
        if let Some(d) = self.topic_dir() {
            let _ = std::fs::remove_file(d.join(format!("{name}.spec")));
            let _ = std::fs::remove_file(d.join(format!("{name}.replicas")));
        }
        self.next_epoch();
        for pm in pms {
            let _ = self.changes.send(Change::Partition(MSG_DELETE, pm));
        }
        let _ = self.changes.send(Change::Topic(MSG_DELETE, tm));
        Ok(())
    }

    /// Re-creates persisted topics from the data directory.
    pub fn load_topics(&self) -> std::io::Result<()> {
        let Some(d) = self.topic_dir() else {
            return Ok(());
        };
        if !d.exists() {
            return Ok(());
        }
        for e in std::fs::read_dir(&d)? {
            let path = e?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".spec"))
            else {
                continue;
            };
            let bytes = std::fs::read(&path)?;
            match crate::protocol::codec::from_bytes::<TopicSpec>(
                &bytes,
                crate::protocol::api::SC_VERSION,
            ) {
                Ok(spec) => {
                    // The same replica assignment, so every replica finds its own log again.
                    let name = name.to_string();
                    let restored = std::fs::read_to_string(d.join(format!("{name}.replicas")))
                        .ok()
                        .and_then(|text| {
                            text.lines()
                                .map(|l| {
                                    l.split(',')
                                        .map(|x| x.trim().parse::<i32>().ok())
                                        .collect::<Option<Vec<i32>>>()
                                })
                                .collect::<Option<Vec<_>>>()
                        });
                    // An empty assignment is a topic that was never provisioned: create it again.
                    let restored = restored.filter(|a| {
                        !a.is_empty()
                            && a.iter()
                                .flatten()
                                .all(|spu| self.spus.iter().any(|s| s.id == *spu))
                    });
                    let _ = std::fs::remove_file(&path);
                    match self.create_topic_with(&name, spec, restored) {
                        Err((c, m))
                            if c != crate::protocol::error_code::codes::TOPIC_NOT_PROVISIONED =>
                        {
                            tracing::warn!(topic = %name, code = c, "cannot restore topic: {m}")
                        }
                        _ => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring an unreadable topic spec: {e}")
                }
            }
        }
        Ok(())
    }

    pub fn stats(&self) -> BrokerStats {
        let s = &self.storage;
        let c = &self.counters;
        BrokerStats {
            produce_requests: c.produce_requests.load(Ordering::Relaxed),
            batches_appended: s.batches_appended.load(Ordering::Relaxed),
            records_appended: s.records_appended.load(Ordering::Relaxed),
            bytes_appended: s.bytes_appended.load(Ordering::Relaxed),
            fsyncs: s.fsyncs.load(Ordering::Relaxed),
            segments_deleted: s.segments_deleted.load(Ordering::Relaxed),
            truncated_bytes: s.truncated_bytes.load(Ordering::Relaxed),
            connections: c.connections.load(Ordering::Relaxed) as u64,
            connections_total: c.connections_total.load(Ordering::Relaxed),
            rejected_frames: c.rejected_frames.load(Ordering::Relaxed),
            fetch_responses: c.fetch_responses.load(Ordering::Relaxed),
        }
    }

    pub fn enforce_retention(&self) -> usize {
        let now = std::time::SystemTime::now();
        let topics = self.topics.read().unwrap();
        let mut n = 0;
        for t in topics.values() {
            for p in &t.partitions {
                for r in &p.replicas {
                    n += r.log.lock().unwrap().enforce_retention(now, &self.storage);
                }
            }
        }
        n
    }
}
