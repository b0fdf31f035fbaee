//! The broker's shared state: topics, partitions (each with its log), SPUs, the change feed that
//! metadata watches follow, fault injection and counters.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::log::{LogConfig, PartitionLog, StorageStats, SyncPolicy};
use crate::protocol::sc::*;
use crate::tls::ServerTlsConfig;

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
}

pub const FIRST_SPU_ID: i32 = 5001;
pub const SYSTEM_TOPIC: &str = "consumer-offset";
pub const PLATFORM_VERSION: &str = "0.18.2";

pub struct Partition {
    pub topic: String,
    pub index: u32,
    pub leader: i32,
    pub log: Mutex<PartitionLog>,
    /// Current LEO, for stream fetches waiting on new data.
    pub leo: watch::Sender<i64>,
    pub deleted: AtomicBool,
}

impl Partition {
    pub fn notify(&self) {
        let leo = self.log.lock().unwrap().leo();
        self.leo.send_replace(leo);
    }
}

pub struct Topic {
    pub spec: TopicSpec,
    pub partitions: Vec<Arc<Partition>>,
}

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

/// A snapshot of the broker's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerStats {
    pub produce_requests: u64,
    pub batches_appended: u64,
    pub records_appended: u64,
    pub bytes_appended: u64,
    pub fsyncs: u64,
    pub segments_deleted: u64,
    pub truncated_bytes: u64,
    pub connections: u64,
    pub connections_total: u64,
    pub rejected_frames: u64,
    pub fetch_responses: u64,
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
                resolution: TopicResolution::Provisioned,
                replica_map: t
                    .partitions
                    .iter()
                    .map(|p| (p.index, vec![p.leader]))
                    .collect(),
                mirror_map: BTreeMap::new(),
                reason: String::new(),
            },
        }
    }

    pub fn partition_metadata(&self, t: &Topic, p: &Partition) -> PartitionMetadata {
        let (leo, size, start) = {
            let log = p.log.lock().unwrap();
            (log.leo(), log.size_bytes() as i64, log.log_start())
        };
        PartitionMetadata {
            name: format!("{}-{}", p.topic, p.index),
            spec: PartitionSpec {
                leader: p.leader,
                replicas: vec![p.leader],
                cleanup_policy: t.spec.cleanup_policy,
                storage: t.spec.storage.clone(),
                compression_type: t.spec.compression_type,
                deduplication: None,
                system: t.spec.system,
                mirror: None,
            },
            status: PartitionStatus {
                resolution: if self.spu_online(p.leader) {
                    PartitionResolution::Online
                } else {
                    PartitionResolution::LeaderOffline
                },
                leader: ReplicaStatus {
                    spu: p.leader,
                    hw: leo,
                    leo,
                },
                lsr: 0,
                replicas: vec![],
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
        use crate::protocol::error_code::codes::*;
        if !valid_topic_name(name) {
            return Err((TOPIC_INVALID_NAME, format!("invalid topic name `{name}`: use 1-63 of [a-z0-9-], not starting or ending with '-'")));
        }
        let leaders: Vec<i32> = match &spec.replicas {
            ReplicaSpec::Computed(p) => {
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
                if p.replication_factor as usize > self.spus.len() {
                    return Err((
                        TOPIC_NOT_PROVISIONED,
                        format!(
                            "replication factor {} exceeds the {} SPU(s) of this broker",
                            p.replication_factor,
                            self.spus.len()
                        ),
                    ));
                }
                let start = (self.epoch.load(Ordering::SeqCst) as usize) % self.spus.len();
                (0..p.partitions)
                    .map(|i| self.spus[(start + i as usize) % self.spus.len()].id)
                    .collect()
            }
            ReplicaSpec::Assigned(maps) => {
                if maps.is_empty() || maps.len() as u32 > self.config.max_partitions_per_topic {
                    return Err((TOPIC_INVALID_CONFIGURATION, "invalid partition map".into()));
                }
                let mut leaders = vec![0; maps.len()];
                for m in maps {
                    let leader = *m.replicas.first().ok_or((
                        TOPIC_INVALID_CONFIGURATION,
                        "empty replica list".to_string(),
                    ))?;
                    if !self.spus.iter().any(|s| s.id == leader) || m.id as usize >= maps.len() {
                        return Err((
                            TOPIC_INVALID_CONFIGURATION,
                            format!("partition {} assigned to unknown SPU {leader}", m.id),
                        ));
                    }
                    leaders[m.id as usize] = leader;
                }
                leaders
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
                format!("topic `{name}` already exists"),
            ));
        }
        let cfg = self.log_config(&spec);
        let mut partitions = Vec::new();
        for (i, leader) in leaders.into_iter().enumerate() {
            let log = match self.log_dir(name, i as u32) {
                Some(d) => PartitionLog::open(d, cfg.clone(), &self.storage)
                    .map_err(|e| (STORAGE_ERROR, format!("cannot create the log: {e}")))?,
                None => PartitionLog::in_memory(cfg.clone()),
            };
            let leo = log.leo();
            partitions.push(Arc::new(Partition {
                topic: name.to_string(),
                index: i as u32,
                leader,
                log: Mutex::new(log),
                leo: watch::channel(leo).0,
                deleted: AtomicBool::new(false),
            }));
        }
        if let Some(d) = self.topic_dir() {
            let bytes = crate::protocol::codec::to_bytes(&spec, crate::protocol::api::SC_VERSION);
            let write = std::fs::create_dir_all(&d).and_then(|_| {
                let tmp = d.join(format!("{name}.spec.tmp"));
                std::fs::write(&tmp, &bytes)?;
                std::fs::rename(&tmp, d.join(format!("{name}.spec")))
            });
            write.map_err(|e| (STORAGE_ERROR, format!("cannot persist topic `{name}`: {e}")))?;
        }
        let topic = Topic { spec, partitions };
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
            let mut log = p.log.lock().unwrap();
            let placeholder = PartitionLog::in_memory(LogConfig::default());
            std::mem::replace(&mut *log, placeholder).destroy();
        }
        if let Some(d) = self.topic_dir() {
            let _ = std::fs::remove_file(d.join(format!("{name}.spec")));
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
                    // Same partition count and leaders: logs are found under the same names.
                    let name = name.to_string();
                    let _ = std::fs::remove_file(&path);
                    if let Err((c, m)) = self.create_topic(&name, spec) {
                        tracing::warn!(topic = %name, code = c, "cannot restore topic: {m}");
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
                n += p.log.lock().unwrap().enforce_retention(now, &self.storage);
            }
        }
        n
    }
}
