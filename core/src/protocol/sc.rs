//! SC (Streaming Controller) messages and metadata objects at the versions the clients use (docs/PROTOCOL.md §4).

use std::collections::BTreeMap;

use super::codec::{derr, Decode, DecodeResult, Encode, Reader};
use super::error_code::ErrorCode;
use crate::{wire_struct, wire_u8_enum};

pub const LABEL_TOPIC: &str = "Topic";
pub const LABEL_PARTITION: &str = "Partition";
pub const LABEL_SPU: &str = "SPU";
/// SPU registration objects (`fluvio cluster spu register`): what the SC checks a starting SPU against.
pub const LABEL_CUSTOM_SPU: &str = "CustomSpu";

/// `std::time::Duration` on the wire: u64 seconds + u32 nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireDuration {
    pub secs: u64,
    pub nanos: u32,
}
impl Encode for WireDuration {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        self.secs.encode(out, v);
        self.nanos.encode(out, v);
    }
}
impl Decode for WireDuration {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        Ok(WireDuration {
            secs: u64::decode(r, v)?,
            nanos: r.u32()?,
        })
    }
}

wire_u8_enum! {
    /// Topic-level compression policy. Note Any = 4 and Zstd = 5 (unlike batch attribute codes).
    pub enum CompressionAlgorithm { None = 0, Gzip = 1, Snappy = 2, Lz4 = 3, Any = 4, Zstd = 5 } default Any
}

impl CompressionAlgorithm {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Self::None,
            "gzip" => Self::Gzip,
            "snappy" => Self::Snappy,
            "lz4" => Self::Lz4,
            "any" => Self::Any,
            "zstd" => Self::Zstd,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Any => "any",
            Self::Zstd => "zstd",
        }
    }
    /// The one batch codec this policy pins, if it pins one.
    pub fn codec(self) -> Option<super::Compression> {
        use super::Compression as C;
        Some(match self {
            Self::None => C::None,
            Self::Gzip => C::Gzip,
            Self::Snappy => C::Snappy,
            Self::Lz4 => C::Lz4,
            Self::Zstd => C::Zstd,
            Self::Any => return None,
        })
    }
    /// Whether a batch of codec `c` may be stored under this policy (the SPU's 9000 rule).
    pub fn allows(self, c: super::Compression) -> bool {
        self.codec().is_none_or(|pinned| pinned == c)
    }
}

wire_struct! {
    pub struct TopicReplicaParam {
        pub partitions: u32,
        pub replication_factor: u32,
        pub ignore_rack_assignment: bool,
    }
}

wire_struct! {
    pub struct RemotePartitionConfig {
        pub home_cluster: String,
        pub home_spu_key: String,
        pub home_spu_id: i32,
        pub home_spu_endpoint: String,
        pub target: bool => 18,
    }
}
wire_struct! {
    pub struct HomePartitionConfig {
        pub remote_cluster: String,
        pub remote_replica: String,
        pub source: bool => 18,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PartitionMirrorConfig {
    Remote(RemotePartitionConfig),
    Home(HomePartitionConfig),
}
impl Default for PartitionMirrorConfig {
    fn default() -> Self {
        PartitionMirrorConfig::Home(HomePartitionConfig::default())
    }
}
impl Encode for PartitionMirrorConfig {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        match self {
            PartitionMirrorConfig::Remote(x) => {
                out.push(0);
                x.encode(out, v)
            }
            PartitionMirrorConfig::Home(x) => {
                out.push(1);
                x.encode(out, v)
            }
        }
    }
}
impl Decode for PartitionMirrorConfig {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        match r.u8()? {
            0 => Ok(PartitionMirrorConfig::Remote(Decode::decode(r, v)?)),
            1 => Ok(PartitionMirrorConfig::Home(Decode::decode(r, v)?)),
            t => derr(format!("unknown PartitionMirrorConfig tag {t}")),
        }
    }
}

wire_struct! {
    pub struct PartitionMap {
        pub id: u32,
        pub replicas: Vec<i32>,
        pub mirror: Option<PartitionMirrorConfig> => 14,
    }
}

wire_struct! {
    pub struct SpuMirrorConfig {
        pub id: i32,
        pub key: String,
        pub endpoint: String,
    }
}
wire_struct! {
    pub struct RemoteMirrorConfig {
        pub home_cluster: String,
        pub home_spus: Vec<SpuMirrorConfig>,
        pub target: bool => 18,
    }
}
wire_struct! {
    pub struct HomeMirrorConfig {
        pub partitions: Vec<HomePartitionConfig>,
        pub source: bool => 18,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReplicaSpec {
    Assigned(Vec<PartitionMap>),
    Computed(TopicReplicaParam),
    MirrorRemote(RemoteMirrorConfig),
    MirrorHome(HomeMirrorConfig),
}
impl Default for ReplicaSpec {
    fn default() -> Self {
        ReplicaSpec::Computed(TopicReplicaParam {
            partitions: 1,
            replication_factor: 1,
            ignore_rack_assignment: false,
        })
    }
}
impl Encode for ReplicaSpec {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        match self {
            ReplicaSpec::Assigned(m) => {
                out.push(0);
                m.encode(out, v)
            }
            ReplicaSpec::Computed(p) => {
                out.push(1);
                p.encode(out, v)
            }
            ReplicaSpec::MirrorRemote(m) => {
                out.extend_from_slice(&[2, 0]);
                m.encode(out, v)
            }
            ReplicaSpec::MirrorHome(m) => {
                out.extend_from_slice(&[2, 1]);
                m.encode(out, v)
            }
        }
    }
}
impl Decode for ReplicaSpec {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        match r.u8()? {
            0 => Ok(ReplicaSpec::Assigned(Decode::decode(r, v)?)),
            1 => Ok(ReplicaSpec::Computed(Decode::decode(r, v)?)),
            2 => match r.u8()? {
                0 => Ok(ReplicaSpec::MirrorRemote(Decode::decode(r, v)?)),
                1 => Ok(ReplicaSpec::MirrorHome(Decode::decode(r, v)?)),
                t => derr(format!("unknown MirrorConfig tag {t}")),
            },
            t => derr(format!("unknown ReplicaSpec tag {t}")),
        }
    }
}

/// CleanupPolicy: the only variant is `Segment { time_in_seconds }` (tag 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupPolicy {
    pub time_in_seconds: u32,
}
impl Encode for CleanupPolicy {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        out.push(0);
        self.time_in_seconds.encode(out, v)
    }
}
impl Decode for CleanupPolicy {
    fn decode(r: &mut Reader<'_>, _v: i16) -> DecodeResult<Self> {
        match r.u8()? {
            0 => Ok(CleanupPolicy {
                time_in_seconds: r.u32()?,
            }),
            t => derr(format!("unknown CleanupPolicy tag {t}")),
        }
    }
}

wire_struct! {
    pub struct TopicStorageConfig {
        pub segment_size: Option<u32>,
        pub max_partition_size: Option<u64>,
    }
}

wire_struct! {
    pub struct Bounds {
        pub count: u64,
        pub age: Option<WireDuration>,
    }
}
wire_struct! {
    pub struct Transform {
        pub uses: String,
        pub with: BTreeMap<String, String>,
    }
}
wire_struct! {
    pub struct Deduplication {
        pub bounds: Bounds,
        pub transform: Transform,
    }
}

wire_struct! {
    pub struct TopicSpec {
        pub replicas: ReplicaSpec,
        pub cleanup_policy: Option<CleanupPolicy> => 3,
        pub storage: Option<TopicStorageConfig> => 4,
        pub compression_type: CompressionAlgorithm => 6,
        pub deduplication: Option<Deduplication> => 12,
        pub system: bool => 13,
    }
}

impl TopicSpec {
    pub fn partition_count(&self) -> u32 {
        match &self.replicas {
            ReplicaSpec::Assigned(m) => m.len() as u32,
            ReplicaSpec::Computed(p) => p.partitions,
            ReplicaSpec::MirrorRemote(m) => m.home_spus.len() as u32,
            ReplicaSpec::MirrorHome(m) => m.partitions.len() as u32,
        }
    }
    pub fn replication_factor(&self) -> u32 {
        match &self.replicas {
            ReplicaSpec::Computed(p) => p.replication_factor,
            ReplicaSpec::Assigned(m) => m.first().map(|p| p.replicas.len() as u32).unwrap_or(1),
            _ => 1,
        }
    }
}

wire_u8_enum! {
    pub enum TopicResolution { Init = 0, Pending = 1, InsufficientResources = 2, InvalidConfig = 3, Provisioned = 4, Deleting = 5 } default Init
}

wire_struct! {
    pub struct TopicStatus {
        pub resolution: TopicResolution,
        pub replica_map: BTreeMap<u32, Vec<i32>>,
        pub mirror_map: BTreeMap<u32, PartitionMirrorConfig> => 14,
        pub reason: String,
    }
}

wire_struct! {
    pub struct PartitionSpec {
        pub leader: i32,
        pub replicas: Vec<i32>,
        pub cleanup_policy: Option<CleanupPolicy> => 4,
        pub storage: Option<TopicStorageConfig> => 4,
        pub compression_type: CompressionAlgorithm => 6,
        pub deduplication: Option<Deduplication> => 12,
        pub system: bool => 13,
        pub mirror: Option<PartitionMirrorConfig> => 14,
    }
}

wire_u8_enum! {
    pub enum PartitionResolution { Offline = 0, Online = 1, LeaderOffline = 2, ElectionLeaderFound = 3, OutOfStorage = 4 } default Offline
}

wire_struct! {
    pub struct ReplicaStatus {
        pub spu: i32,
        pub hw: i64,
        pub leo: i64,
    }
}

wire_struct! {
    pub struct PartitionStatus {
        pub resolution: PartitionResolution,
        pub leader: ReplicaStatus,
        pub lsr: u32,
        pub replicas: Vec<ReplicaStatus>,
        pub size: i64 => 5,
        pub is_being_deleted: bool,
        pub base_offset: i64 => 16,
    }
}

wire_struct! {
    pub struct IngressAddr {
        pub hostname: Option<String>,
        pub ip: Option<String>,
    }
}
wire_struct! {
    pub struct IngressPort {
        pub port: u16,
        pub ingress: Vec<IngressAddr>,
        pub encryption: u8,
    }
}
wire_struct! {
    pub struct Endpoint {
        pub port: u16,
        pub host: String,
        pub encryption: u8,
    }
}

wire_struct! {
    pub struct SpuSpec {
        pub id: i32,
        pub spu_type: u8,
        pub public_endpoint: IngressPort,
        pub private_endpoint: Endpoint,
        pub rack: Option<String>,
        pub public_endpoint_local: Option<Endpoint> => 1,
    }
}

impl SpuSpec {
    /// `host:port` clients connect to: first ingress hostname, else its ip.
    pub fn public_addr(&self) -> Option<String> {
        let ing = self.public_endpoint.ingress.first()?;
        let host = ing.hostname.clone().or_else(|| ing.ip.clone())?;
        Some(format!("{}:{}", host, self.public_endpoint.port))
    }
}

wire_struct! {
    /// The Create payload that registers an SPU (no version gates: every field is always sent).
    pub struct CustomSpuSpec {
        pub id: i32,
        pub public_endpoint: IngressPort,
        pub private_endpoint: Endpoint,
        pub rack: Option<String>,
        pub public_endpoint_local: Option<Endpoint>,
    }
}

impl CustomSpuSpec {
    /// A plaintext SPU reachable by clients at `public` and by other SPUs at `private` (`host:port`).
    pub fn new(id: i32, public: (&str, u16), private: (&str, u16)) -> Self {
        CustomSpuSpec {
            id,
            public_endpoint: IngressPort {
                port: public.1,
                ingress: vec![IngressAddr {
                    hostname: Some(public.0.to_string()),
                    ip: None,
                }],
                encryption: 0,
            },
            private_endpoint: Endpoint {
                port: private.1,
                host: private.0.to_string(),
                encryption: 0,
            },
            rack: None,
            public_endpoint_local: None,
        }
    }
}

wire_u8_enum! {
    /// Note: for SPUs Online = 0 (unlike partitions).
    pub enum SpuResolution { Online = 0, Offline = 1, Init = 2 } default Init
}
wire_struct! {
    pub struct SpuStatus {
        pub resolution: SpuResolution,
    }
}

/// A named object with spec and status (`Metadata<S>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata<S, T> {
    pub name: String,
    pub spec: S,
    pub status: T,
}
impl<S: Encode, T: Encode> Encode for Metadata<S, T> {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        self.name.encode(out, v);
        self.spec.encode(out, v);
        self.status.encode(out, v);
    }
}
impl<S: Decode, T: Decode> Decode for Metadata<S, T> {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        Ok(Metadata {
            name: String::decode(r, v)?,
            spec: S::decode(r, v)?,
            status: T::decode(r, v)?,
        })
    }
}

pub type TopicMetadata = Metadata<TopicSpec, TopicStatus>;
pub type PartitionMetadata = Metadata<PartitionSpec, PartitionStatus>;
pub type SpuMetadata = Metadata<SpuSpec, SpuStatus>;

pub const MSG_UPDATE: u8 = 0;
pub const MSG_DELETE: u8 = 1;

/// A watch change: UPDATE (0) or DELETE (1) of an object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message<C> {
    pub header: u8,
    pub content: C,
}
impl<C: Encode> Encode for Message<C> {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        out.push(self.header);
        self.content.encode(out, v);
    }
}
impl<C: Decode> Decode for Message<C> {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        let header = r.u8()?;
        if header > 1 {
            return derr(format!("unknown MsgType {header}"));
        }
        Ok(Message {
            header,
            content: C::decode(r, v)?,
        })
    }
}

/// The body of every watch response (`MetadataUpdate<S>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataUpdate<M> {
    pub epoch: i64,
    pub changes: Vec<Message<M>>,
    pub all: Vec<M>,
}
impl<M: Encode> Encode for MetadataUpdate<M> {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        self.epoch.encode(out, v);
        self.changes.encode(out, v);
        self.all.encode(out, v);
    }
}
impl<M: Decode> Decode for MetadataUpdate<M> {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        Ok(MetadataUpdate {
            epoch: r.i64()?,
            changes: Decode::decode(r, v)?,
            all: Decode::decode(r, v)?,
        })
    }
}

/// The TypeBuffer envelope (v >= 11): label, u32 payload length, payload encoded at the same version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectEnvelope {
    pub label: String,
    pub payload: Vec<u8>,
}
impl ObjectEnvelope {
    pub fn new<T: Encode>(label: &str, inner: &T, version: i16) -> Self {
        ObjectEnvelope {
            label: label.to_string(),
            payload: super::codec::to_bytes(inner, version),
        }
    }
    pub fn inner<T: Decode>(&self, version: i16) -> DecodeResult<T> {
        super::codec::from_bytes(&self.payload, version)
    }
}
impl Encode for ObjectEnvelope {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        self.label.encode(out, v);
        (self.payload.len() as u32).encode(out, v);
        out.extend_from_slice(&self.payload);
    }
}
impl Decode for ObjectEnvelope {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        if v < 11 {
            return derr(format!(
                "SC object version {v} (classic layout) is not supported; need >= 11"
            ));
        }
        let label = String::decode(r, v)?;
        let n = r.u32()? as usize;
        Ok(ObjectEnvelope {
            label,
            payload: r.take(n)?.to_vec(),
        })
    }
}

wire_struct! {
    pub struct WatchRequest {
        pub epoch: i64,
        pub summary: bool => 10,
    }
}

wire_struct! {
    pub struct ListFilter {
        pub name: String,
    }
}
wire_struct! {
    pub struct ListRequest {
        pub name_filters: Vec<ListFilter>,
        pub summary: bool => 10,
        pub system: bool => 13,
    }
}

wire_struct! {
    pub struct DeleteRequest {
        pub key: String,
        pub force: bool => 13,
    }
}

/// `CreateRequest<S>`: common fields then the spec.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateRequest<S> {
    pub name: String,
    pub dry_run: bool,
    pub timeout_ms: Option<u32>,
    pub spec: S,
}
impl<S: Encode> Encode for CreateRequest<S> {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        self.name.encode(out, v);
        self.dry_run.encode(out, v);
        if v >= 7 {
            self.timeout_ms.encode(out, v);
        }
        self.spec.encode(out, v);
    }
}
impl<S: Decode> Decode for CreateRequest<S> {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        let name = String::decode(r, v)?;
        let dry_run = bool::decode(r, v)?;
        let timeout_ms = if v >= 7 { Option::decode(r, v)? } else { None };
        Ok(CreateRequest {
            name,
            dry_run,
            timeout_ms,
            spec: S::decode(r, v)?,
        })
    }
}

wire_struct! {
    /// Response of Create/Delete/Update.
    pub struct Status {
        pub name: String,
        pub error_code: ErrorCode,
        pub error_message: Option<String>,
    }
}

impl Status {
    pub fn new(
        name: impl Into<String>,
        error_code: ErrorCode,
        error_message: Option<String>,
    ) -> Self {
        Status {
            name: name.into(),
            error_code,
            error_message,
        }
    }
    pub fn ok(name: impl Into<String>) -> Self {
        Status::new(name, ErrorCode::None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::*;
    use crate::protocol::codec::from_bytes;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    fn t1_topic() -> TopicMetadata {
        Metadata {
            name: "t1".into(),
            spec: TopicSpec {
                replicas: ReplicaSpec::Computed(TopicReplicaParam {
                    partitions: 1,
                    replication_factor: 1,
                    ignore_rack_assignment: false,
                }),
                ..Default::default()
            },
            status: TopicStatus {
                resolution: TopicResolution::Provisioned,
                replica_map: [(0u32, vec![5001])].into_iter().collect(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn appendix_a_watch_frames() {
        let req = ObjectEnvelope::new(
            LABEL_TOPIC,
            &WatchRequest {
                epoch: 0,
                summary: false,
            },
            19,
        );
        let h = RequestHeader {
            api_key: 1004,
            api_version: 19,
            correlation_id: 3,
            client_id: "fluvio".into(),
        };
        assert_eq!(
            request_frame(&h, &req),
            unhex("00 00 00 24 03 ec 00 13 00 00 00 03 00 06 66 6c 75 76 69 6f 00 05 54 6f 70 69 63 00 00 00 09 00 00 00 00 00 00 00 00 00")
        );
        let upd = MetadataUpdate {
            epoch: 1,
            changes: vec![],
            all: vec![t1_topic()],
        };
        let frame = response_frame(3, 19, &ObjectEnvelope::new(LABEL_TOPIC, &upd, 19));
        assert_eq!(frame, unhex("00 00 00 45 00 00 00 03 00 05 54 6f 70 69 63 00 00 00 36 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01 00 02 74 31 01 00 00 00 01 00 00 00 01 00 00 00 04 00 00 04 00 01 00 00 00 00 00 00 00 01 00 00 13 89 00 00 00 00"));

        let part = PartitionMetadata {
            name: "t1-0".into(),
            spec: PartitionSpec {
                leader: 5001,
                replicas: vec![5001],
                ..Default::default()
            },
            status: PartitionStatus {
                resolution: PartitionResolution::Online,
                leader: ReplicaStatus {
                    spu: 5001,
                    hw: 0,
                    leo: 0,
                },
                lsr: 1,
                ..Default::default()
            },
        };
        let frame = response_frame(
            2,
            19,
            &ObjectEnvelope::new(
                LABEL_PARTITION,
                &MetadataUpdate {
                    epoch: 1,
                    changes: vec![],
                    all: vec![part.clone()],
                },
                19,
            ),
        );
        assert_eq!(frame, unhex("00 00 00 69 00 00 00 02 00 09 50 61 72 74 69 74 69 6f 6e 00 00 00 56 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01 00 04 74 31 2d 30 00 00 13 89 00 00 00 01 00 00 13 89 00 00 04 00 00 00 01 00 00 13 89 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"));
        let env: ObjectEnvelope = from_bytes(&frame[8..], 19).unwrap();
        let back: MetadataUpdate<PartitionMetadata> = env.inner(19).unwrap();
        assert_eq!(back.all[0], part);

        let spu = SpuMetadata {
            name: "custom-spu-5001".into(),
            spec: SpuSpec {
                id: 5001,
                spu_type: 1,
                public_endpoint: IngressPort {
                    port: 9010,
                    ingress: vec![IngressAddr {
                        hostname: Some("localhost".into()),
                        ip: None,
                    }],
                    encryption: 0,
                },
                private_endpoint: Endpoint {
                    port: 9011,
                    host: "localhost".into(),
                    encryption: 0,
                },
                rack: None,
                public_endpoint_local: None,
            },
            status: SpuStatus {
                resolution: SpuResolution::Online,
            },
        };
        let frame = response_frame(
            1,
            19,
            &ObjectEnvelope::new(
                LABEL_SPU,
                &MetadataUpdate {
                    epoch: 1,
                    changes: vec![],
                    all: vec![spu.clone()],
                },
                19,
            ),
        );
        assert_eq!(frame, unhex("00 00 00 58 00 00 00 01 00 03 53 50 55 00 00 00 4b 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01 00 0f 63 75 73 74 6f 6d 2d 73 70 75 2d 35 30 30 31 00 00 13 89 01 23 32 00 00 00 01 01 00 09 6c 6f 63 61 6c 68 6f 73 74 00 00 23 33 00 09 6c 6f 63 61 6c 68 6f 73 74 00 00 00 00"));
        assert_eq!(spu.spec.public_addr().as_deref(), Some("localhost:9010"));
    }

    #[test]
    fn appendix_a_create_and_status() {
        let create = CreateRequest {
            name: "t1".into(),
            dry_run: false,
            timeout_ms: None,
            spec: t1_topic().spec,
        };
        let h = RequestHeader {
            api_key: 1001,
            api_version: 19,
            correlation_id: 7,
            client_id: "fluvio".into(),
        };
        let frame = request_frame(&h, &ObjectEnvelope::new(LABEL_TOPIC, &create, 19));
        assert_eq!(frame, unhex("00 00 00 30 03 e9 00 13 00 00 00 07 00 06 66 6c 75 76 69 6f 00 05 54 6f 70 69 63 00 00 00 15 00 02 74 31 00 00 01 00 00 00 01 00 00 00 01 00 00 00 04 00 00"));
        let status = Status {
            name: "t1".into(),
            error_code: ErrorCode::None,
            error_message: None,
        };
        assert_eq!(
            response_frame(7, 19, &status),
            unhex("00 00 00 0b 00 00 00 07 00 02 74 31 00 00 00")
        );
    }

    #[test]
    fn computed_spec_source_test() {
        let spec = ReplicaSpec::Computed(TopicReplicaParam {
            partitions: 2,
            replication_factor: 3,
            ignore_rack_assignment: true,
        });
        assert_eq!(
            hex::encode(crate::protocol::codec::to_bytes(&spec, 19)),
            "01000000020000000301"
        );
    }
}
