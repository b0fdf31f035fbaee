//! Topic administration over the SC: create, delete, list.

use std::sync::Arc;
use std::time::Duration;

use super::cluster::Cluster;
use crate::error::{Error, Result};
use crate::protocol::api::{sc_keys, SC_VERSION};
use crate::protocol::error_code::codes;
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
        if config.partitions == 0 {
            return Err(Error::invalid("a topic needs at least one partition"));
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
