//! One cluster per endpoint (and TLS identity) per process: the SC connection, the metadata watch kept
//! current, and one connection per SPU. Producers, admins and consumers for the same endpoint and the
//! same TLS settings share it; SPU connections use the cluster's TLS settings too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::connection::Connection;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::api::{sc_keys, SC_VERSION};
use crate::protocol::codec::Decode;
use crate::protocol::sc::*;
use crate::tls::{host_of, ClientTls, TlsConfig};

/// The topic, partition and SPU objects the SC announced, kept current by three watch streams.
#[derive(Default, Debug)]
pub struct MetadataSnapshot {
    pub topics: HashMap<String, TopicMetadata>,
    pub partitions: HashMap<(String, u32), PartitionMetadata>,
    pub spus: HashMap<String, SpuMetadata>,
    /// Which of (SPU, Partition, Topic) have received their first answer.
    pub synced: [bool; 3],
}

impl MetadataSnapshot {
    pub fn is_synced(&self) -> bool {
        self.synced.iter().all(|s| *s)
    }
    pub fn spu_by_id(&self, id: i32) -> Option<&SpuMetadata> {
        self.spus.values().find(|s| s.spec.id == id)
    }
    pub fn partition(&self, topic: &str, p: u32) -> Option<&PartitionMetadata> {
        self.partitions.get(&(topic.to_string(), p))
    }
    /// Partitions of `topic` whose status is Online, ascending.
    pub fn online_partitions(&self, topic: &str, count: u32) -> Vec<u32> {
        (0..count)
            .filter(|p| {
                self.partition(topic, *p)
                    .is_some_and(|m| m.status.resolution == PartitionResolution::Online)
            })
            .collect()
    }
}

/// `<topic>-<n>`, split at the last `-`.
pub fn split_partition_name(name: &str) -> Option<(String, u32)> {
    let (t, n) = name.rsplit_once('-')?;
    Some((t.to_string(), n.parse().ok()?))
}

pub struct Cluster {
    endpoint: String,
    client_id: String,
    /// `None` = plaintext.
    tls: Option<Arc<ClientTls>>,
    sc: Mutex<Arc<Connection>>,
    metadata: RwLock<MetadataSnapshot>,
    /// Bumped on every metadata change.
    changed: watch::Sender<u64>,
    spus: tokio::sync::Mutex<HashMap<i32, Arc<Connection>>>,
    pub(crate) connect_timeout: Duration,
    pid: u32,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// The per-endpoint registry lives with the runtime, so a forked child starts with an empty one.
fn registry() -> &'static tokio::sync::Mutex<HashMap<String, Weak<Cluster>>> {
    &crate::runtime::state().clusters
}

const WATCH_LABELS: [&str; 3] = [LABEL_SPU, LABEL_PARTITION, LABEL_TOPIC];

impl Cluster {
    /// The shared plaintext cluster for `endpoint`, connecting if there is none (or the old one died).
    pub async fn get(endpoint: &str, client_id: &str, timeout: Duration) -> Result<Arc<Cluster>> {
        Cluster::get_with(endpoint, client_id, timeout, &TlsConfig::default()).await
    }

    /// The shared cluster for `endpoint` with these TLS settings, connecting if there is none (or the
    /// old one died). Clusters are keyed by endpoint and TLS identity, so two different client
    /// certificates never share a connection.
    pub async fn get_with(
        endpoint: &str,
        client_id: &str,
        timeout: Duration,
        tls: &TlsConfig,
    ) -> Result<Arc<Cluster>> {
        let endpoint = endpoint.to_string();
        let client_id = client_id.to_string();
        let identity = tls.identity();
        let key = if identity.is_empty() {
            endpoint.clone()
        } else {
            format!("{endpoint}\u{0}{identity}")
        };
        let tls = tls.clone();
        crate::runtime::run(async move {
            let mut reg = registry().lock().await;
            if let Some(c) = reg.get(&key).and_then(|w| w.upgrade()) {
                return Ok(c);
            }
            let tls = tls.build()?;
            let sc = Cluster::connect_sc(&endpoint, &client_id, timeout, tls.as_deref()).await?;
            if sc.version_for(sc_keys::WATCH, 15, SC_VERSION).is_none() {
                return Err(Error::protocol(format!(
                    "{endpoint} does not offer the SC Watch API: is it an SC endpoint?"
                )));
            }
            let (changed, _) = watch::channel(0u64);
            let cluster = Arc::new(Cluster {
                endpoint: endpoint.clone(),
                client_id,
                tls,
                sc: Mutex::new(sc.clone()),
                metadata: RwLock::new(MetadataSnapshot::default()),
                changed,
                spus: Default::default(),
                connect_timeout: timeout,
                pid: crate::runtime::pid(),
            });
            Cluster::start_watches(&cluster, &sc)?;
            crate::runtime::spawn(Cluster::supervise(Arc::downgrade(&cluster)));
            reg.retain(|_, w| w.strong_count() > 0);
            reg.insert(key, Arc::downgrade(&cluster));
            Ok(cluster)
        })
        .await
    }

    async fn connect_sc(
        endpoint: &str,
        client_id: &str,
        timeout: Duration,
        tls: Option<&ClientTls>,
    ) -> Result<Arc<Connection>> {
        match tls {
            None => Connection::connect(endpoint, client_id, timeout).await,
            Some(t) => {
                let name = t.sc_server_name(endpoint);
                Connection::connect_tls(endpoint, client_id, timeout, Some((t, &name))).await
            }
        }
    }

    /// Whether this cluster's connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    pub fn sc(&self) -> Arc<Connection> {
        self.sc.lock().unwrap().clone()
    }
    pub fn metadata(&self) -> std::sync::RwLockReadGuard<'_, MetadataSnapshot> {
        self.metadata.read().unwrap()
    }
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    fn start_watches(cluster: &Arc<Cluster>, sc: &Arc<Connection>) -> Result<()> {
        let version = sc
            .version_for(sc_keys::WATCH, 15, SC_VERSION)
            .unwrap_or(SC_VERSION);
        for (i, label) in WATCH_LABELS.iter().enumerate() {
            let req = ObjectEnvelope::new(
                label,
                &WatchRequest {
                    epoch: 0,
                    summary: false,
                },
                version,
            );
            let (_, mut rx) = sc.stream(sc_keys::WATCH, version, &req, 16)?;
            let weak = Arc::downgrade(cluster);
            crate::runtime::spawn(async move {
                while let Some(frame) = rx.recv().await {
                    let Some(cluster) = weak.upgrade() else {
                        return;
                    };
                    let Ok(body) = frame else { return };
                    if let Err(e) = cluster.apply(i, &body, version) {
                        tracing::warn!(endpoint = %cluster.endpoint, "ignoring a metadata update: {e}");
                    }
                }
            });
        }
        Ok(())
    }

    /// Reconnects the SC connection (and its watches) when it drops, for as long as anyone uses the cluster.
    async fn supervise(weak: Weak<Cluster>) {
        let mut backoff = Duration::from_millis(50);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let Some(cluster) = weak.upgrade() else {
                return;
            };
            if !cluster.sc().is_closed() {
                backoff = Duration::from_millis(50);
                continue;
            }
            let timeout = cluster.connect_timeout;
            let tls = cluster.tls.clone();
            match Cluster::connect_sc(
                &cluster.endpoint,
                &cluster.client_id,
                timeout,
                tls.as_deref(),
            )
            .await
            {
                Ok(sc) => {
                    if Cluster::start_watches(&cluster, &sc).is_ok() {
                        *cluster.sc.lock().unwrap() = sc;
                        tracing::info!(endpoint = %cluster.endpoint, "reconnected to the SC");
                    }
                }
                Err(e) => {
                    tracing::debug!(endpoint = %cluster.endpoint, "SC reconnect failed: {e}");
                    drop(cluster);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    fn apply(&self, kind: usize, body: &[u8], version: i16) -> Result<()> {
        let env = ObjectEnvelope::decode(&mut crate::protocol::codec::Reader::new(body), version)?;
        if env.label != WATCH_LABELS[kind] {
            return Err(Error::protocol(format!(
                "watch for {} answered with {}",
                WATCH_LABELS[kind], env.label
            )));
        }
        let mut md = self.metadata.write().unwrap();
        match kind {
            0 => {
                let u: MetadataUpdate<SpuMetadata> = env.inner(version)?;
                apply_update(&mut md.spus, u, |m| Some(m.name.clone()));
            }
            1 => {
                let u: MetadataUpdate<PartitionMetadata> = env.inner(version)?;
                apply_update(&mut md.partitions, u, |m| split_partition_name(&m.name));
            }
            _ => {
                let u: MetadataUpdate<TopicMetadata> = env.inner(version)?;
                apply_update(&mut md.topics, u, |m| Some(m.name.clone()));
            }
        }
        md.synced[kind] = true;
        drop(md);
        self.bump();
        Ok(())
    }

    /// Waits until the first metadata of every kind arrived.
    pub async fn wait_synced(&self, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, |md| md.is_synced())
            .await
            .map_err(|_| {
                Error::timeout(format!(
                    "no metadata from the SC at {} within {timeout:?}",
                    self.endpoint
                ))
            })
    }

    /// Waits until `cond` holds on the metadata, or the deadline passes.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        cond: impl Fn(&MetadataSnapshot) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut rx = self.subscribe();
        loop {
            if cond(&self.metadata()) {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::timeout("metadata condition not met in time"));
            }
            let _ = crate::runtime::timeout(left, rx.changed()).await;
        }
    }

    /// Waits for `topic` (and all its partitions) to be known; `UnknownTopic` after `timeout`.
    pub async fn wait_topic(&self, topic: &str, timeout: Duration) -> Result<TopicMetadata> {
        self.wait_synced(timeout).await?;
        let t = topic.to_string();
        let ok = self
            .wait_until(timeout, |md| match md.topics.get(&t) {
                Some(m) => (0..m.spec.partition_count()).all(|p| md.partition(&t, p).is_some()),
                None => false,
            })
            .await;
        match ok {
            Ok(()) => Ok(self
                .metadata()
                .topics
                .get(topic)
                .cloned()
                .expect("checked above")),
            Err(_) => Err(Error::new(
                ErrorKind::UnknownTopic,
                format!(
                    "topic `{topic}` does not exist on {} (waited {timeout:?}); create it first",
                    self.endpoint
                ),
            )),
        }
    }

    /// The connection to the leader SPU of `topic`-`partition`, shared by everyone in the process.
    pub async fn leader_connection(&self, topic: &str, partition: u32) -> Result<Arc<Connection>> {
        let (leader, addr) = {
            let md = self.metadata();
            let p = md.partition(topic, partition).ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownPartition,
                    format!("partition {topic}-{partition} is not in the metadata"),
                )
            })?;
            let leader = p.spec.leader;
            let spu = md.spu_by_id(leader).ok_or_else(|| {
                Error::transport(format!(
                    "leader SPU {leader} of {topic}-{partition} is not known yet"
                ))
            })?;
            let addr = spu
                .spec
                .public_addr()
                .ok_or_else(|| Error::protocol(format!("SPU {leader} has no address")))?;
            (leader, addr)
        };
        self.spu_connection(leader, &addr).await
    }

    pub async fn spu_connection(&self, id: i32, addr: &str) -> Result<Arc<Connection>> {
        let mut spus = self.spus.lock().await;
        if let Some(c) = spus.get(&id) {
            if !c.is_closed() && c.addr() == addr {
                return Ok(c.clone());
            }
        }
        let addr = addr.to_string();
        let client_id = self.client_id.clone();
        let timeout = self.connect_timeout;
        let tls = self.tls.clone().map(|t| {
            let (spu_name, host) = {
                let md = self.metadata();
                let spu = md.spu_by_id(id);
                let host = spu
                    .and_then(|s| s.spec.public_endpoint.ingress.first())
                    .and_then(|i| i.hostname.clone().or_else(|| i.ip.clone()))
                    .unwrap_or_else(|| host_of(&addr).to_string());
                (spu.map(|s| s.name.clone()).unwrap_or_default(), host)
            };
            let name = t.spu_server_name(&spu_name, &host);
            (t, name)
        });
        let conn = crate::runtime::run(async move {
            let tls = tls.as_ref().map(|(t, n)| (&**t, n.as_str()));
            Connection::connect_tls(&addr, &client_id, timeout, tls).await
        })
        .await?;
        spus.insert(id, conn.clone());
        Ok(conn)
    }
}

fn apply_update<K: std::hash::Hash + Eq, M: Clone>(
    map: &mut HashMap<K, M>,
    u: MetadataUpdate<M>,
    key: impl Fn(&M) -> Option<K>,
) {
    if !u.all.is_empty() {
        map.clear();
        for m in u.all {
            if let Some(k) = key(&m) {
                map.insert(k, m);
            }
        }
        return;
    }
    for msg in u.changes {
        if let Some(k) = key(&msg.content) {
            if msg.header == MSG_DELETE {
                map.remove(&k);
            } else {
                map.insert(k, msg.content);
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.pid == crate::runtime::pid() {
            self.sc.lock().unwrap().close();
        }
    }
}
