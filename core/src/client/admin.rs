//! Topic administration over the SC: create, delete, list.

use std::sync::Arc;
use std::time::Duration;

use super::cluster::Cluster;
use crate::error::{check_range, Error, Result, MAX_COUNT};
use crate::producer::config::{camel_case, uint_value};
use crate::protocol::api::{sc_keys, SC_VERSION};
use crate::protocol::error_code::{codes, ErrorCode};
use crate::protocol::sc::*;
use crate::protocol::Compression;
use crate::tls::TlsConfig;

pub const DEFAULT_ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How to create a topic. `TopicConfig::new(3)` is a 3-partition topic with defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    pub partitions: u32,
    pub replication: u32,
    /// Topic compression policy; `None` = `any` (each producer picks).
    pub compression: Option<CompressionAlgorithm>,
    pub retention_secs: Option<u32>,
    pub segment_size: Option<u32>,
    pub max_partition_size: Option<u64>,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            partitions: 1,
            replication: 1,
            compression: None,
            retention_secs: None,
            segment_size: None,
            max_partition_size: None,
        }
    }
}

impl TopicConfig {
    pub fn new(partitions: u32) -> Self {
        TopicConfig {
            partitions,
            ..Default::default()
        }
    }
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = CompressionAlgorithm::parse(c.name());
        self
    }

    /// Sets one option from its string form (snake_case or camelCase key, see [`TOPIC_KEYS`]).
    /// A bad key or value is an `InvalidArgument` error naming the key as spelled: topic options are
    /// arguments of `create_topic`, as in every binding.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let canonical = TOPIC_KEYS
            .iter()
            .find(|k| **k == key || camel_case(k) == key)
            .ok_or_else(|| {
                topic_option_error(
                    key,
                    format!("unknown key; valid keys are: {}", TOPIC_KEYS.join(", ")),
                )
            })?;
        let uint = |min: u64, max: u64| {
            uint_value(value, min, max).map_err(|why| topic_option_error(key, why))
        };
        match *canonical {
            "partitions" => self.partitions = count(key, value)?,
            "replication" => self.replication = count(key, value)?,
            "compression" => {
                self.compression = match CompressionAlgorithm::parse(value) {
                    // `any` is the default policy: each producer picks its codec.
                    Some(CompressionAlgorithm::Any) => None,
                    Some(c) => Some(c),
                    None => {
                        return Err(topic_option_error(
                            key,
                            format!(
                                "expected one of any, none, gzip, snappy, lz4, zstd, got {value:?}"
                            ),
                        ))
                    }
                }
            }
            "retention_secs" => self.retention_secs = Some(uint(0, u32::MAX as u64)? as u32),
            "segment_size" => self.segment_size = Some(uint(1, u32::MAX as u64)? as u32),
            "max_partition_size" => self.max_partition_size = Some(uint(1, u64::MAX)?),
            _ => unreachable!("every key in TOPIC_KEYS is handled"),
        }
        Ok(())
    }

    /// Builds a topic config from string options, as bindings and the CLI pass them (`partitions`
    /// defaults to 1): the topic twin of `ProducerConfig::from_options` and
    /// `BrokerConfig::from_options`. Fails on the first bad option (see [`set`](Self::set)).
    pub fn from_options<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<TopicConfig> {
        let mut cfg = TopicConfig::default();
        for (k, v) in options {
            cfg.set(k, v)?;
        }
        Ok(cfg)
    }
    /// The checks every topic creation applies before asking a broker (the embedded one through
    /// `TestBroker`, or a cluster through `Admin`), so both answer bad counts the same way.
    pub fn validate(&self) -> Result<()> {
        check_range("partitions", self.partitions as i64, 1, MAX_COUNT)?;
        check_range("replication", self.replication as i64, 1, MAX_COUNT)?;
        Ok(())
    }
    pub fn to_spec(&self) -> TopicSpec {
        let storage = if self.segment_size.is_some() || self.max_partition_size.is_some() {
            Some(TopicStorageConfig {
                segment_size: self.segment_size,
                max_partition_size: self.max_partition_size,
            })
        } else {
            None
        };
        TopicSpec {
            replicas: ReplicaSpec::Computed(TopicReplicaParam {
                partitions: self.partitions,
                replication_factor: self.replication,
                ignore_rack_assignment: false,
            }),
            cleanup_policy: self
                .retention_secs
                .map(|s| CleanupPolicy { time_in_seconds: s }),
            storage,
            compression_type: self.compression.unwrap_or(CompressionAlgorithm::Any),
            deduplication: None,
            system: false,
        }
    }
}

/// The topic options [`TopicConfig::from_options`] accepts (camelCase spellings too).
pub const TOPIC_KEYS: &[&str] = &[
    "partitions",
    "replication",
    "compression",
    "retention_secs",
    "segment_size",
    "max_partition_size",
];

/// A count option: an integer in `1..=MAX_COUNT`, with the one range message.
fn count(key: &str, value: &str) -> Result<u32> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| topic_option_error(key, format!("expected an integer, got {value:?}")))?;
    Ok(check_range(key, n, 1, MAX_COUNT)? as u32)
}

fn topic_option_error(key: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("invalid topic option `{key}`: {why}"))
}

/// A topic as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: u32,
    pub replication: u32,
    pub compression: String,
    pub retention_secs: Option<u32>,
    pub status: String,
}

#[derive(Debug, Clone)]
pub struct Admin {
    cluster: Arc<Cluster>,
}

impl Admin {
    /// Connects in plaintext.
    pub async fn connect(endpoint: &str) -> Result<Admin> {
        Admin::connect_with(endpoint, &TlsConfig::default()).await
    }

    /// Connects with these TLS settings (the same ones a producer takes in its config).
    pub async fn connect_with(endpoint: &str, tls: &TlsConfig) -> Result<Admin> {
        let cluster = Cluster::get_with(endpoint, "headwater", DEFAULT_ADMIN_TIMEOUT, tls).await?;
        Ok(Admin { cluster })
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    fn version(&self, key: u16, min: i16) -> Result<i16> {
        self.cluster
            .sc()
            .version_for(key, min, SC_VERSION)
            .ok_or_else(|| {
                Error::protocol(format!(
                    "the SC at {} offers no compatible version of api {key}",
                    self.cluster.endpoint()
                ))
            })
    }

    async fn status_call(
        &self,
        key: u16,
        min: i16,
        label: &str,
        body: impl crate::protocol::codec::Encode + Send + Sync + 'static,
    ) -> Result<Status> {
        let v = self.version(key, min)?;
        let sc = self.cluster.sc();
        let env = ObjectEnvelope::new(label, &body, v);
        crate::runtime::run(async move {
            sc.request::<_, Status>(key, v, &env, DEFAULT_ADMIN_TIMEOUT * 3)
                .await
        })
        .await
    }

    /// Creates a topic and waits until its partitions appear in this process's metadata.
    pub async fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()> {
        let (me, name) = (self.clone(), name.to_string());
        crate::runtime::run(async move { me.create_topic_inner(&name, config).await }).await
    }

    async fn create_topic_inner(&self, name: &str, config: TopicConfig) -> Result<()> {
        config.validate()?;
        // A real SC accepts such a topic, leaves it "insufficient resources" and answers only after
        // FLV_TOPIC_WAIT (90 s by default); refuse it at once, as the embedded broker does.
        self.cluster.wait_synced(DEFAULT_ADMIN_TIMEOUT).await?;
        let spus = self.cluster.metadata().spus.len();
        if config.replication as usize > spus {
            return check_status(
                &Status::new(
                    name,
                    ErrorCode::from_code(codes::TOPIC_NOT_PROVISIONED),
                    Some(format!(
                        "replication factor {} exceeds the {spus} SPU(s) of this cluster",
                        config.replication
                    )),
                ),
                &format!("creating topic `{name}`"),
            );
        }
        let req = CreateRequest {
            name: name.to_string(),
            dry_run: false,
            timeout_ms: None,
            spec: config.to_spec(),
        };
        let st = self
            .status_call(sc_keys::CREATE, 9, LABEL_TOPIC, req)
            .await?;
        check_status(&st, &format!("creating topic `{name}`"))?;
        self.cluster
            .wait_topic(name, DEFAULT_ADMIN_TIMEOUT)
            .await
            .map(|_| ())
    }

    /// Deletes a topic and waits until it is gone from this process's metadata.
    pub async fn delete_topic(&self, name: &str) -> Result<()> {
        let (me, name) = (self.clone(), name.to_string());
        crate::runtime::run(async move { me.delete_topic_inner(&name).await }).await
    }

    async fn delete_topic_inner(&self, name: &str) -> Result<()> {
        let st = self
            .status_call(
                sc_keys::DELETE,
                1,
                LABEL_TOPIC,
                DeleteRequest {
                    key: name.to_string(),
                    force: false,
                },
            )
            .await?;
        check_status(&st, &format!("deleting topic `{name}`"))?;
        let n = name.to_string();
        let _ = self
            .cluster
            .wait_until(DEFAULT_ADMIN_TIMEOUT, move |md| !md.topics.contains_key(&n))
            .await;
        Ok(())
    }

    /// Lists the (non-system) topics.
    pub async fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        let v = self.version(sc_keys::LIST, 15)?;
        let sc = self.cluster.sc();
        let env = ObjectEnvelope::new(
            LABEL_TOPIC,
            &ListRequest {
                name_filters: vec![],
                summary: false,
                system: false,
            },
            v,
        );
        let resp: ObjectEnvelope = crate::runtime::run(async move {
            sc.request(sc_keys::LIST, v, &env, DEFAULT_ADMIN_TIMEOUT)
                .await
        })
        .await?;
        let topics: Vec<TopicMetadata> = resp.inner(v)?;
        Ok(topics.into_iter().map(|t| topic_info(&t)).collect())
    }
}

/// An SPU as the SC announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpuInfo {
    pub id: i32,
    pub name: String,
    /// `host:port` clients connect to.
    pub public_address: String,
    pub online: bool,
}

impl Admin {
    /// Registers a custom SPU with the SC (what `fluvio cluster spu register` does): the SC accepts an
    /// SPU process only under an id registered here, and tells clients its `public` address.
    /// `public` and `private` are `host:port`; the name defaults to `custom-spu-<id>`.
    pub async fn register_spu(
        &self,
        id: i32,
        name: Option<&str>,
        public: &str,
        private: &str,
    ) -> Result<()> {
        let spec = CustomSpuSpec::new(
            id,
            split_host_port("public", public)?,
            split_host_port("private", private)?,
        );
        let name = name.map_or_else(|| format!("custom-spu-{id}"), str::to_string);
        let req = CreateRequest {
            name: name.clone(),
            dry_run: false,
            timeout_ms: None,
            spec,
        };
        let me = self.clone();
        let st = crate::runtime::run(async move {
            me.status_call(sc_keys::CREATE, 9, LABEL_CUSTOM_SPU, req)
                .await
        })
        .await?;
        check_status(&st, &format!("registering SPU {id} (`{name}`)"))
    }

    /// The SPUs the SC announces, by id.
    pub async fn list_spus(&self) -> Result<Vec<SpuInfo>> {
        self.cluster.wait_synced(DEFAULT_ADMIN_TIMEOUT).await?;
        let md = self.cluster.metadata();
        let mut spus: Vec<SpuInfo> = md
            .spus
            .values()
            .map(|s| SpuInfo {
                id: s.spec.id,
                name: s.name.clone(),
                public_address: s.spec.public_addr().unwrap_or_default(),
                online: s.status.resolution == SpuResolution::Online,
            })
            .collect();
        spus.sort_by_key(|s| s.id);
        Ok(spus)
    }
}

/// A partition as the SC announces it: who leads it, who follows, how far it is replicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub topic: String,
    pub partition: u32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    /// `Online`, `Offline`, `LeaderOffline`, `ElectionLeaderFound` or `OutOfStorage`.
    pub status: String,
    /// High watermark: the end of what every in-sync replica has (what read_committed acknowledges).
    pub high_watermark: i64,
    /// Log end offset on the leader.
    pub log_end_offset: i64,
}

impl Admin {
    /// Every partition the SC announces (system topics included), by topic and index.
    pub async fn list_partitions(&self) -> Result<Vec<PartitionInfo>> {
        self.cluster.wait_synced(DEFAULT_ADMIN_TIMEOUT).await?;
        let md = self.cluster.metadata();
        let mut parts: Vec<PartitionInfo> = md
            .partitions
            .iter()
            .map(|((topic, partition), p)| PartitionInfo {
                topic: topic.clone(),
                partition: *partition,
                leader: p.spec.leader,
                replicas: p.spec.replicas.clone(),
                status: format!("{:?}", p.status.resolution),
                high_watermark: p.status.leader.hw,
                log_end_offset: p.status.leader.leo,
            })
            .collect();
        parts.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(parts)
    }
}

fn split_host_port<'a>(what: &str, addr: &'a str) -> Result<(&'a str, u16)> {
    addr.rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| {
            Error::invalid(format!(
                "the {what} address must be host:port, got {addr:?}"
            ))
        })
}

pub fn topic_info(t: &TopicMetadata) -> TopicInfo {
    TopicInfo {
        name: t.name.clone(),
        partitions: t.spec.partition_count(),
        replication: t.spec.replication_factor(),
        compression: t.spec.compression_type.name().to_string(),
        retention_secs: t.spec.cleanup_policy.map(|c| c.time_in_seconds),
        status: format!("{:?}", t.status.resolution),
    }
}

fn check_status(st: &Status, what: &str) -> Result<()> {
    if st.error_code.is_ok() {
        return Ok(());
    }
    let mut e = Error::from_code(&st.error_code, what);
    if st.error_code.code() == codes::TOPIC_NOT_FOUND {
        e.kind = crate::ErrorKind::UnknownTopic;
    }
    if let Some(m) = &st.error_message {
        e.message.push_str(": ");
        e.message.push_str(m);
    }
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn topic_options_parse_every_key_in_either_spelling() {
        let cfg = TopicConfig::from_options([
            ("partitions", "3"),
            ("replication", "2"),
            ("compression", "zstd"),
            ("retentionSecs", "3600"),
            ("segment_size", "1048576"),
            ("maxPartitionSize", "10737418240"),
        ])
        .unwrap();
        assert_eq!(
            cfg,
            TopicConfig {
                partitions: 3,
                replication: 2,
                compression: Some(CompressionAlgorithm::Zstd),
                retention_secs: Some(3600),
                segment_size: Some(1 << 20),
                max_partition_size: Some(10 << 30),
            }
        );
        assert_eq!(TopicConfig::from_options([]).unwrap(), TopicConfig::new(1));
        // `any` is the default policy.
        assert_eq!(
            TopicConfig::from_options([("compression", "any")]).unwrap(),
            TopicConfig::default()
        );
        assert_eq!(
            TopicConfig::from_options([("partitions", "2"), ("compression", "gzip")]).unwrap(),
            TopicConfig::new(2).compression(Compression::Gzip)
        );
    }

    #[test]
    fn bad_topic_options_are_invalid_arguments_naming_the_key() {
        for (key, value, why) in [
            ("partitions", "x", "expected an integer"),
            ("compression", "brotli", "expected one of any, none"),
            ("retentionSecs", "1h", "expected a whole number"),
            ("partitons", "1", "unknown key; valid keys are: partitions"),
        ] {
            let e = TopicConfig::from_options([(key, value)]).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
            assert!(
                e.message
                    .starts_with(&format!("invalid topic option `{key}`: {why}")),
                "{e}"
            );
        }
        // Counts follow the one range rule, with the value as given.
        for (key, value) in [
            ("partitions", "0"),
            ("partitions", "-1"),
            ("partitions", "2147483648"),
            ("replication", "0"),
        ] {
            let e = TopicConfig::from_options([(key, value)]).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
            assert_eq!(
                e.message,
                format!("`{key}` must be in 1..=2147483647, got {value}")
            );
        }
        let zero_replicas = TopicConfig {
            replication: 0,
            ..TopicConfig::default()
        };
        assert_eq!(
            zero_replicas.validate().unwrap_err().message,
            "`replication` must be in 1..=2147483647, got 0"
        );
    }
}
