//! SPU requests decoded the way the real engine decodes them, where that way is observable: record
//! sets are read leniently (a cut-off batch ends the set, a short records section is kept as it is),
//! the smart-module list of a produce request is read at every version, smart-module invocations are
//! parsed rather than refused, and StreamFetch's isolation must be 0 or 1. Also the SPU messages the
//! protocol module does not carry: classic Fetch (key 1) and the consumer-offset APIs (1006-1008).

use std::borrow::Cow;

use crate::protocol::batch::BatchHeader;
use crate::protocol::codec::{derr, ByteVec, Decode, DecodeResult, Reader};
use crate::protocol::sc::{Endpoint, IngressPort};
use crate::protocol::spu::{FetchablePartitionResponse, ISOLATION_READ_COMMITTED};
use crate::protocol::ErrorCode;
use crate::wire_struct;

/// Bytes of a batch before its records: the 12-byte preamble and the 45-byte header.
const BATCH_HEAD: usize = 57;
/// The header fields in wire order (their widths), as a decoder reads them one by one.
const HEAD_FIELDS: [usize; 12] = [8, 4, 4, 1, 4, 2, 4, 8, 8, 8, 2, 4];
const SCHEMA_FLAG: i16 = 0x10;

/// A smart module named in a request. The broker runs none, so only what its answers name is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmartModule {
    /// A module the cluster should already hold, by name.
    Predefined(String),
    /// Wasm bytes sent along with the request.
    AdHoc,
}

impl SmartModule {
    /// The answer of an engine that holds no smart modules.
    pub fn unavailable(&self) -> Option<ErrorCode> {
        match self {
            SmartModule::Predefined(name) => {
                Some(ErrorCode::SmartModuleNotFound { name: name.clone() })
            }
            SmartModule::AdHoc => None,
        }
    }
}

fn skip_bytes(r: &mut Reader<'_>, v: i16) -> DecodeResult<()> {
    ByteVec::decode(r, v).map(|_| ())
}

fn skip_string(r: &mut Reader<'_>, v: i16) -> DecodeResult<()> {
    String::decode(r, v).map(|_| ())
}

/// One `SmartModuleInvocation`: wasm (predefined name or ad-hoc bytes), kind, parameters and, from
/// version 25, an optional name.
fn decode_smartmodule(r: &mut Reader<'_>, v: i16) -> DecodeResult<SmartModule> {
    let wasm = match r.u8()? {
        0 => SmartModule::Predefined(String::decode(r, v)?),
        1 => {
            skip_bytes(r, v)?;
            SmartModule::AdHoc
        }
        t => return derr(format!("unknown smart-module wasm tag {t}")),
    };
    match r.u8()? {
        0 | 1 | 2 | 4 => {}
        3 => skip_bytes(r, v)?,
        5 => skip_string(r, v)?,
        6 => {
            skip_string(r, v)?;
            skip_string(r, v)?
        }
        7 => match r.u8()? {
            0 => {}
            1 => skip_bytes(r, v)?,
            2 => skip_string(r, v)?,
            3 => {
                skip_string(r, v)?;
                skip_string(r, v)?
            }
            t => return derr(format!("unknown smart-module context tag {t}")),
        },
        t => return derr(format!("unknown smart-module kind tag {t}")),
    }
    let params = r.u16()?;
    for _ in 0..params {
        skip_string(r, v)?;
        skip_string(r, v)?;
    }
    if v >= 20 && bool::decode(r, v)? {
        r.i64()?; // lookback.last
        if v >= 21 && bool::decode(r, v)? {
            r.i64()?; // age: seconds
            r.u32()?; // age: nanoseconds
        }
    }
    if v >= 25 {
        let _name: Option<String> = Option::decode(r, v)?;
    }
    Ok(wasm)
}

fn decode_smartmodules(r: &mut Reader<'_>, v: i16) -> DecodeResult<Vec<SmartModule>> {
    let n = r.i32()?;
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        out.push(decode_smartmodule(r, v)?);
    }
    Ok(out)
}

/// One batch of a produce request: the bytes to store (borrowed when the batch is intact) and its
/// header.
#[derive(Debug, Clone)]
pub struct InBatch<'a> {
    pub header: BatchHeader,
    pub bytes: Cow<'a, [u8]>,
}

impl InBatch<'_> {
    /// Records the batch holds: `last_offset_delta + 1`, and none for a negative delta.
    pub fn records(&self) -> i64 {
        if self.header.last_offset_delta < 0 {
            0
        } else {
            self.header.last_offset_delta as i64 + 1
        }
    }
}

/// Reads a record set (`i32` length, then batches) the way the real SPU does:
/// * a batch whose 57-byte head (plus schema id) does not fit ends the set; the head fields that
///   did fit are consumed, the rest of the declared length is left for the fields after it;
/// * a records section shorter than `batch_len` says is taken as it is (the batch is stored with
///   its length corrected), and a `batch_len` below the header size takes every remaining byte.
pub fn decode_record_set<'a>(r: &mut Reader<'a>) -> DecodeResult<Vec<InBatch<'a>>> {
    let len = r.i32()?;
    // A negative length reads as a huge unsigned one: never satisfiable.
    if len < 0 || len as usize > r.remaining() {
        return derr(format!(
            "record set of {len} bytes, {} remaining",
            r.remaining()
        ));
    }
    let set = &r.rest()[..len as usize];
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < set.len() {
        let rest = &set[pos..];
        if rest.len() < BATCH_HEAD {
            // Consume the head fields that fit, as a field-by-field decoder would, then stop.
            let mut used = 0;
            for w in HEAD_FIELDS {
                if used + w > rest.len() {
                    break;
                }
                used += w;
            }
            pos += used;
            break;
        }
        let attributes = i16::from_be_bytes([rest[21], rest[22]]);
        let head = BATCH_HEAD + if attributes & SCHEMA_FLAG != 0 { 4 } else { 0 };
        if rest.len() < head {
            pos += BATCH_HEAD;
            break;
        }
        let batch_len = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
        // The records section is `batch_len - header` bytes, computed without a sign (a negative
        // or too small batch_len wraps around to "everything").
        let wanted = (batch_len as i64 as usize).wrapping_sub(head - 12);
        let records = wanted.min(rest.len() - head);
        let total = head + records;
        let bytes = if wanted == records {
            Cow::Borrowed(&rest[..total])
        } else {
            let mut owned = rest[..total].to_vec();
            owned[8..12].copy_from_slice(&((total - 12) as i32).to_be_bytes());
            Cow::Owned(owned)
        };
        let header = BatchHeader::parse(&bytes)
            .map_err(|e| crate::protocol::codec::DecodeError(format!("record batch: {}", e.0)))?;
        out.push(InBatch { header, bytes });
        pos += total;
    }
    r.take(pos)?;
    Ok(out)
}

/// One partition entry of a produce request: the partition and the batches of its record set.
pub type PartitionBatches<'a> = (u32, Vec<InBatch<'a>>);

/// A produce request as the real SPU reads it.
#[derive(Debug, Clone)]
pub struct ProduceReq<'a> {
    pub acks: i16,
    pub timeout_ms: i32,
    /// (topic, [(partition, batches)]), in request order.
    pub topics: Vec<(String, Vec<PartitionBatches<'a>>)>,
    pub smartmodules: Vec<SmartModule>,
}

impl<'a> ProduceReq<'a> {
    pub fn decode(r: &mut Reader<'a>, v: i16) -> DecodeResult<Self> {
        let _transactional_id: Option<String> = Option::decode(r, v)?;
        let acks = r.i16()?;
        let timeout_ms = r.i32()?;
        if timeout_ms < 0 {
            return derr(format!("negative produce timeout {timeout_ms}"));
        }
        let mut topics = Vec::new();
        for _ in 0..r.i32()?.max(0) {
            let name = String::decode(r, v)?;
            let mut parts = Vec::new();
            for _ in 0..r.i32()?.max(0) {
                let index = r.u32()?;
                parts.push((index, decode_record_set(r)?));
            }
            topics.push((name, parts));
        }
        // Read at every version (older clients omitted it below v8; the engine reads it anyway).
        let smartmodules = decode_smartmodules(r, v)?;
        Ok(ProduceReq {
            acks,
            timeout_ms,
            topics,
            smartmodules,
        })
    }
}

/// A StreamFetch request as the real SPU reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamFetchReq {
    pub topic: String,
    pub partition: u32,
    pub fetch_offset: i64,
    pub max_bytes: i32,
    pub isolation: u8,
    pub smartmodules: Vec<SmartModule>,
    pub consumer_id: Option<String>,
}

fn decode_isolation(r: &mut Reader<'_>) -> DecodeResult<u8> {
    match r.u8()? {
        i @ (0 | ISOLATION_READ_COMMITTED) => Ok(i),
        i => derr(format!("unknown isolation {i}")),
    }
}

impl StreamFetchReq {
    pub fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        let mut s = StreamFetchReq {
            topic: String::decode(r, v)?,
            partition: r.u32()?,
            fetch_offset: r.i64()?,
            max_bytes: r.i32()?,
            isolation: decode_isolation(r)?,
            ..Default::default()
        };
        if (11..=18).contains(&v) && !ByteVec::decode(r, v)?.0.is_empty() {
            s.smartmodules.push(SmartModule::AdHoc);
        }
        if (16..=18).contains(&v) {
            if let Some(sm) = Option::<Invocation>::decode(r, v)? {
                s.smartmodules.push(sm.0);
            }
            if bool::decode(r, v)? {
                // derivedstream: {stream name, params}
                skip_string(r, v)?;
                return derr("derived streams are not supported");
            }
        }
        if v >= 18 {
            s.smartmodules.extend(decode_smartmodules(r, v)?);
        }
        if v >= 23 {
            s.consumer_id = Option::decode(r, v)?;
        }
        Ok(s)
    }

    /// The most bytes one response may carry: the field is read as unsigned, so a negative value
    /// means no limit.
    pub fn byte_limit(&self) -> usize {
        self.max_bytes as u32 as usize
    }
}

struct Invocation(SmartModule);
impl Decode for Invocation {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        decode_smartmodule(r, v).map(Invocation)
    }
}

// ------------------------------------------------------------------------------- classic Fetch (1)

wire_struct! {
    pub struct FetchPartition {
        pub partition_index: u32,
        pub current_leader_epoch: i32 => 9,
        pub fetch_offset: i64,
        pub log_start_offset: i64 => 5,
        pub max_bytes: i32,
    }
}
wire_struct! {
    pub struct FetchableTopic {
        pub name: String,
        pub fetch_partitions: Vec<FetchPartition>,
    }
}
wire_struct! {
    pub struct ForgottenTopic {
        pub name: String => 7,
        pub forgotten_partition_indexes: Vec<i32> => 7,
    }
}

/// Kafka-shaped one-shot fetch; no official client sends it, the engine still serves it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchReq {
    pub max_wait: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub isolation: u8,
    pub topics: Vec<FetchableTopic>,
}

impl FetchReq {
    pub fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        let mut s = FetchReq {
            max_wait: r.i32()?,
            min_bytes: r.i32()?,
            ..Default::default()
        };
        if v >= 3 {
            s.max_bytes = r.i32()?;
        }
        if v >= 4 {
            s.isolation = decode_isolation(r)?;
        }
        s.topics = Vec::decode(r, v)?;
        if v >= 7 {
            let _forgotten: Vec<ForgottenTopic> = Vec::decode(r, v)?;
        }
        Ok(s)
    }
}

wire_struct! {
    pub struct FetchableTopicResponse {
        pub name: String,
        pub partitions: Vec<FetchablePartitionResponse>,
    }
}
wire_struct! {
    pub struct FetchResponse {
        pub throttle_time_ms: i32,
        pub error_code: ErrorCode,
        pub session_id: i32,
        pub topics: Vec<FetchableTopicResponse>,
    }
}

// ------------------------------------------------------------------------------- consumer offsets

wire_struct! {
    pub struct ReplicaKey {
        pub topic: String,
        pub partition: u32,
    }
}
wire_struct! {
    /// 1006: commit `offset` for the consumer of stream `session_id` on this connection.
    pub struct UpdateConsumerOffsetRequest {
        pub offset: i64,
        pub session_id: u32,
    }
}
wire_struct! {
    pub struct UpdateConsumerOffsetResponse {
        pub offset: i64,
        pub error_code: ErrorCode,
    }
}
wire_struct! {
    /// 1007.
    pub struct DeleteConsumerOffsetRequest {
        pub replica_id: ReplicaKey,
        pub consumer_id: String,
    }
}
wire_struct! {
    pub struct DeleteConsumerOffsetResponse {
        pub error_code: ErrorCode,
    }
}
wire_struct! {
    pub struct FilterOpts {
        pub replica_id: Option<ReplicaKey>,
        pub consumer_id: Option<String>,
    }
}
wire_struct! {
    /// 1008 (the filter exists from version 24).
    pub struct FetchConsumerOffsetsRequest {
        pub filter_opts: Option<FilterOpts> => 24,
    }
}
wire_struct! {
    pub struct ConsumerOffset {
        pub consumer_id: String,
        pub replica_id: ReplicaKey,
        pub offset: i64,
        /// Seconds since the epoch.
        pub modified_time: u64,
    }
}
wire_struct! {
    pub struct FetchConsumerOffsetsResponse {
        pub error_code: ErrorCode,
        pub consumers: Vec<ConsumerOffset>,
    }
}

// ------------------------------------------------------------------------------- SC objects

wire_struct! {
    /// A registered SPU as `List<CustomSpu>` shows it: the SPU spec without its type.
    pub struct CustomSpu {
        pub id: i32,
        pub public_endpoint: IngressPort,
        pub private_endpoint: Endpoint,
        pub rack: Option<String>,
        pub public_endpoint_local: Option<Endpoint>,
    }
}

// ------------------------------------------------------------------------------- semver

/// Whether `s` is a semantic version as the `semver` crate accepts it: `MAJOR.MINOR.PATCH`
/// (numbers without leading zeros), then an optional `-pre.release` and `+build.metadata`
/// (dot-separated, non-empty identifiers of `[0-9A-Za-z-]`; numeric pre-release identifiers
/// without leading zeros). The real SC drops a connection whose client version is not one.
pub fn is_semver(s: &str) -> bool {
    fn number(p: &str) -> bool {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    }
    fn idents(p: &str, numeric_rule: bool) -> bool {
        p.split('.').all(|id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && (!numeric_rule || !id.bytes().all(|b| b.is_ascii_digit()) || number(id))
        })
    }
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| number(p))
        && pre.is_none_or(|p| idents(p, true))
        && build.is_none_or(|b| idents(b, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(value: &[u8]) -> Vec<u8> {
        use crate::protocol::batch::{put_record, write_batch, BatchInfo};
        let mut section = 1u32.to_be_bytes().to_vec();
        put_record(&mut section, None, value, 0, 0);
        let mut out = Vec::new();
        let info = BatchInfo {
            base_offset: 0,
            record_count: 1,
            first_timestamp: 1,
            max_time_stamp: 1,
            compression: crate::protocol::Compression::None,
        };
        write_batch(&mut out, &info, &section).unwrap();
        out
    }

    #[test]
    fn semver_like_the_semver_crate() {
        for ok in [
            "0.50.2",
            "1.0.0-alpha.1+build.5",
            "0.0.0",
            "1.2.3-0",
            "1.2.3+001",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in [
            "",
            "1.2",
            "v1.2.3",
            "not-a-version",
            "01.2.3",
            "1.2.3-",
            "1.2.3-01",
            "1.2.3+",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn record_set_cut_inside_a_head_leaves_the_rest_unread() {
        let whole = batch(b"hello");
        let mut frame = (30i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&whole[..30]);
        frame.extend_from_slice(&[9, 9]);
        let mut r = Reader::new(&frame);
        let set = decode_record_set(&mut r).unwrap();
        assert!(set.is_empty());
        // 27 bytes of head fields fit (up to last_offset_delta); 3 are left for what follows.
        assert_eq!(r.remaining(), 3 + 2);
    }

    #[test]
    fn short_records_section_is_kept_with_its_length_fixed() {
        let whole = batch(b"hello");
        let cut = &whole[..whole.len() - 4];
        let mut frame = (cut.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(cut);
        let mut r = Reader::new(&frame);
        let set = decode_record_set(&mut r).unwrap();
        assert_eq!(set.len(), 1);
        assert!(matches!(set[0].bytes, Cow::Owned(_)));
        assert_eq!(set[0].header.batch_len as usize, cut.len() - 12);
        assert_eq!(r.remaining(), 0);
        // An intact batch is borrowed.
        let mut frame = (whole.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&whole);
        let set = decode_record_set(&mut Reader::new(&frame)).unwrap();
        assert!(matches!(set[0].bytes, Cow::Borrowed(_)));
    }
}
