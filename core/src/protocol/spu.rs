//! SPU messages: Produce, StreamFetch, FetchOffsets, UpdateOffsets (docs/PROTOCOL.md §5).

use super::codec::{derr, ByteVec, Decode, DecodeResult, Encode, Reader};
use super::error_code::ErrorCode;
use crate::wire_struct;

/// `i32 byte length` followed by zero or more whole batches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordSet(pub Vec<u8>);
impl Encode for RecordSet {
    fn encode(&self, out: &mut Vec<u8>, _v: i16) {
        out.extend_from_slice(&(self.0.len() as i32).to_be_bytes());
        out.extend_from_slice(&self.0);
    }
}
impl Decode for RecordSet {
    fn decode(r: &mut Reader<'_>, _v: i16) -> DecodeResult<Self> {
        let n = r.i32()?;
        if n < 0 {
            return derr(format!("negative RecordSet length {n}"));
        }
        Ok(RecordSet(r.take(n as usize)?.to_vec()))
    }
}

/// Smart-module invocations are not supported: we send none and reject requests that carry some.
fn decode_no_smartmodules(r: &mut Reader<'_>) -> DecodeResult<()> {
    let n = r.i32()?;
    if n > 0 {
        return derr("smart modules are not supported by this broker");
    }
    Ok(())
}

wire_struct! {
    pub struct PartitionProduceData {
        pub partition_index: u32,
        pub records: RecordSet,
    }
}
wire_struct! {
    pub struct TopicProduceData {
        pub name: String,
        pub partitions: Vec<PartitionProduceData>,
    }
}

pub const ACKS_READ_UNCOMMITTED: i16 = 1;
pub const ACKS_READ_COMMITTED: i16 = -1;

/// Hand-written layout: the `transactional_id` gate is ignored by Fluvio; `smartmodules` exists from v8.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProduceRequest {
    pub transactional_id: Option<String>,
    pub acks: i16,
    pub timeout_ms: i32,
    pub topics: Vec<TopicProduceData>,
}
impl Encode for ProduceRequest {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        self.transactional_id.encode(out, v);
        self.acks.encode(out, v);
        self.timeout_ms.encode(out, v);
        self.topics.encode(out, v);
        if v >= 8 {
            0u32.encode(out, v);
        }
    }
}
impl Decode for ProduceRequest {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        let transactional_id = Option::decode(r, v)?;
        let acks = r.i16()?;
        let timeout_ms = r.i32()?;
        if timeout_ms < 0 {
            return derr(format!("negative produce timeout {timeout_ms}"));
        }
        let topics = Vec::decode(r, v)?;
        if v >= 8 {
            decode_no_smartmodules(r)?;
        }
        Ok(ProduceRequest {
            transactional_id,
            acks,
            timeout_ms,
            topics,
        })
    }
}

/// A partition index and its record set, borrowed.
pub type PartitionRecordsRef<'a> = (u32, &'a [u8]);

/// A produce request decoded without copying its record sets: they borrow the frame (the broker's
/// hot path copies each batch once, into the log).
#[derive(Debug, Clone, PartialEq)]
pub struct ProduceRequestRef<'a> {
    pub transactional_id: Option<String>,
    pub acks: i16,
    pub timeout_ms: i32,
    /// (topic, [(partition, record set bytes)]).
    pub topics: Vec<(String, Vec<PartitionRecordsRef<'a>>)>,
}

impl<'a> ProduceRequestRef<'a> {
    pub fn decode(r: &mut Reader<'a>, v: i16) -> DecodeResult<Self> {
        let transactional_id = Option::decode(r, v)?;
        let acks = r.i16()?;
        let timeout_ms = r.i32()?;
        if timeout_ms < 0 {
            return derr(format!("negative produce timeout {timeout_ms}"));
        }
        let n = r.i32()?.max(0) as usize;
        if n > r.remaining() {
            return derr(format!("topic count {n} exceeds the request"));
        }
        let mut topics = Vec::with_capacity(n);
        for _ in 0..n {
            let name = String::decode(r, v)?;
            let m = r.i32()?.max(0) as usize;
            if m > r.remaining() {
                return derr(format!("partition count {m} exceeds the request"));
            }
            let mut parts = Vec::with_capacity(m);
            for _ in 0..m {
                let index = r.u32()?;
                let len = r.i32()?;
                if len < 0 {
                    return derr(format!("negative RecordSet length {len}"));
                }
                parts.push((index, r.take(len as usize)?));
            }
            topics.push((name, parts));
        }
        if v >= 8 {
            decode_no_smartmodules(r)?;
        }
        Ok(ProduceRequestRef {
            transactional_id,
            acks,
            timeout_ms,
            topics,
        })
    }
}

wire_struct! {
    pub struct PartitionProduceResponse {
        pub partition_index: u32,
        pub error_code: ErrorCode,
        pub base_offset: i64,
        pub log_append_time_ms: i64 => 2,
        pub log_start_offset: i64 => 5,
    }
}
wire_struct! {
    pub struct TopicProduceResponse {
        pub name: String,
        pub partitions: Vec<PartitionProduceResponse>,
    }
}
wire_struct! {
    pub struct ProduceResponse {
        pub responses: Vec<TopicProduceResponse>,
        pub throttle_time_ms: i32 => 1,
    }
}

/// Fetch isolation in StreamFetch is a u8 (0 uncommitted, 1 committed), unlike Produce's i16 acks.
pub const ISOLATION_READ_UNCOMMITTED: u8 = 0;
pub const ISOLATION_READ_COMMITTED: u8 = 1;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamFetchRequest {
    pub topic: String,
    pub partition: u32,
    pub fetch_offset: i64,
    pub max_bytes: i32,
    pub isolation: u8,
    pub consumer_id: Option<String>,
}
impl Encode for StreamFetchRequest {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        self.topic.encode(out, v);
        self.partition.encode(out, v);
        self.fetch_offset.encode(out, v);
        self.max_bytes.encode(out, v);
        self.isolation.encode(out, v);
        if (11..=18).contains(&v) {
            ByteVec::default().encode(out, v);
        }
        if (16..=18).contains(&v) {
            out.push(0); // smartmodule None
            out.push(0); // derivedstream None
        }
        if v >= 18 {
            0u32.encode(out, v);
        }
        if v >= 23 {
            self.consumer_id.encode(out, v);
        }
    }
}
impl Decode for StreamFetchRequest {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        let mut s = StreamFetchRequest {
            topic: String::decode(r, v)?,
            partition: r.u32()?,
            fetch_offset: r.i64()?,
            max_bytes: r.i32()?,
            isolation: r.u8()?,
            consumer_id: None,
        };
        if (11..=18).contains(&v) {
            let wasm = ByteVec::decode(r, v)?;
            if !wasm.0.is_empty() {
                return derr("smart modules are not supported by this broker");
            }
        }
        if (16..=18).contains(&v) {
            for what in ["smartmodule", "derivedstream"] {
                if bool::decode(r, v)? {
                    return derr(format!("{what} is not supported by this broker"));
                }
            }
        }
        if v >= 18 {
            decode_no_smartmodules(r)?;
        }
        if v >= 23 {
            s.consumer_id = Option::decode(r, v)?;
        }
        Ok(s)
    }
}

wire_struct! {
    pub struct AbortedTransaction {
        pub producer_id: i64,
        pub first_offset: i64,
    }
}
wire_struct! {
    pub struct FetchablePartitionResponse {
        pub partition_index: u32,
        pub error_code: ErrorCode,
        pub high_watermark: i64,
        pub next_filter_offset: i64 => 11,
        pub log_start_offset: i64,
        pub aborted: Option<Vec<AbortedTransaction>>,
        pub records: RecordSet,
    }
}
wire_struct! {
    pub struct StreamFetchResponse {
        pub topic: String,
        pub stream_id: u32,
        pub partition: FetchablePartitionResponse,
    }
}

wire_struct! {
    pub struct FetchOffsetPartition {
        pub partition_index: u32,
    }
}
wire_struct! {
    pub struct FetchOffsetTopic {
        pub name: String,
        pub partitions: Vec<FetchOffsetPartition>,
    }
}

/// `consumer_id` exists only at exactly version 23.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchOffsetsRequest {
    pub topics: Vec<FetchOffsetTopic>,
    pub consumer_id: Option<String>,
}
impl Encode for FetchOffsetsRequest {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        self.topics.encode(out, v);
        if v == 23 {
            self.consumer_id.encode(out, v);
        }
    }
}
impl Decode for FetchOffsetsRequest {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        let topics = Vec::decode(r, v)?;
        let consumer_id = if v == 23 { Option::decode(r, v)? } else { None };
        Ok(FetchOffsetsRequest {
            topics,
            consumer_id,
        })
    }
}

wire_struct! {
    pub struct FetchOffsetPartitionResponse {
        pub error_code: ErrorCode,
        pub partition_index: u32,
        pub start_offset: i64,
        pub last_stable_offset: i64,
    }
}
wire_struct! {
    pub struct FetchOffsetTopicResponse {
        pub name: String,
        pub partitions: Vec<FetchOffsetPartitionResponse>,
    }
}
wire_struct! {
    pub struct FetchOffsetsResponse {
        pub topics: Vec<FetchOffsetTopicResponse>,
    }
}

wire_struct! {
    pub struct OffsetUpdate {
        pub offset: i64,
        pub session_id: u32,
    }
}
wire_struct! {
    pub struct UpdateOffsetsRequest {
        pub offsets: Vec<OffsetUpdate>,
    }
}
wire_struct! {
    pub struct OffsetUpdateStatus {
        pub session_id: u32,
        pub error: ErrorCode,
    }
}
wire_struct! {
    pub struct UpdateOffsetsResponse {
        pub status: Vec<OffsetUpdateStatus>,
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

    const HELLO_BATCH: &str = "00 00 00 00 00 00 00 00 00 00 00 3d ff ff ff ff 02 af 7d d9 6c 00 00 00 00 00 00 00 00 01 8b cf e5 68 00 00 00 01 8b cf e5 68 00 ff ff ff ff ff ff ff ff ff ff ff ff ff ff 00 00 00 01 16 00 00 00 00 0a 68 65 6c 6c 6f 00";

    #[test]
    fn appendix_a_produce() {
        let req = ProduceRequest {
            transactional_id: None,
            acks: 1,
            timeout_ms: 1500,
            topics: vec![TopicProduceData {
                name: "t1".into(),
                partitions: vec![PartitionProduceData {
                    partition_index: 0,
                    records: RecordSet(unhex(HELLO_BATCH)),
                }],
            }],
        };
        let h = RequestHeader {
            api_key: 0,
            api_version: 25,
            correlation_id: 1,
            client_id: "fluvio".into(),
        };
        let frame = request_frame(&h, &req);
        assert_eq!(frame, unhex(&format!("00 00 00 78 00 00 00 19 00 00 00 01 00 06 66 6c 75 76 69 6f 00 00 01 00 00 05 dc 00 00 00 01 00 02 74 31 00 00 00 01 00 00 00 00 00 00 00 49 {HELLO_BATCH} 00 00 00 00")));
        let back: ProduceRequest = from_bytes(&frame[20..], 25).unwrap();
        assert_eq!(back, req);
        let borrowed =
            ProduceRequestRef::decode(&mut crate::protocol::codec::Reader::new(&frame[20..]), 25)
                .unwrap();
        assert_eq!(
            borrowed.topics,
            vec![(
                "t1".to_string(),
                vec![(0u32, &req.topics[0].partitions[0].records.0[..])]
            )]
        );
        assert_eq!((borrowed.acks, borrowed.timeout_ms), (1, 1500));
        let d =
            crate::protocol::batch::decode_batch(&back.topics[0].partitions[0].records.0, 1 << 20)
                .unwrap();
        assert_eq!(d.records[0].value, b"hello");

        let resp = ProduceResponse {
            responses: vec![TopicProduceResponse {
                name: "t1".into(),
                partitions: vec![PartitionProduceResponse {
                    partition_index: 0,
                    ..Default::default()
                }],
            }],
            throttle_time_ms: 0,
        };
        assert_eq!(response_frame(1, 25, &resp), unhex("00 00 00 32 00 00 00 01 00 00 00 01 00 02 74 31 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"));
    }

    #[test]
    fn appendix_a_fetch_offsets_stream_fetch_update_offsets() {
        let fo = FetchOffsetsRequest {
            topics: vec![FetchOffsetTopic {
                name: "t1".into(),
                partitions: vec![FetchOffsetPartition { partition_index: 0 }],
            }],
            consumer_id: None,
        };
        let h = RequestHeader {
            api_key: 1002,
            api_version: 25,
            correlation_id: 1,
            client_id: "fluvio".into(),
        };
        assert_eq!(request_frame(&h, &fo), unhex("00 00 00 20 03 ea 00 19 00 00 00 01 00 06 66 6c 75 76 69 6f 00 00 00 01 00 02 74 31 00 00 00 01 00 00 00 00"));
        let resp = FetchOffsetsResponse {
            topics: vec![FetchOffsetTopicResponse {
                name: "t1".into(),
                partitions: vec![FetchOffsetPartitionResponse {
                    error_code: ErrorCode::None,
                    partition_index: 0,
                    start_offset: 0,
                    last_stable_offset: 1,
                }],
            }],
        };
        assert_eq!(response_frame(1, 25, &resp), unhex("00 00 00 26 00 00 00 01 00 00 00 01 00 02 74 31 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01"));

        let sf = StreamFetchRequest {
            topic: "t1".into(),
            partition: 0,
            fetch_offset: 0,
            max_bytes: 1048890,
            isolation: 0,
            consumer_id: None,
        };
        let h = RequestHeader {
            api_key: 1003,
            api_version: 25,
            correlation_id: 2,
            client_id: "fluvio".into(),
        };
        let frame = request_frame(&h, &sf);
        assert_eq!(frame, unhex("00 00 00 2a 03 eb 00 19 00 00 00 02 00 06 66 6c 75 76 69 6f 00 02 74 31 00 00 00 00 00 00 00 00 00 00 00 00 00 10 01 3a 00 00 00 00 00 00"));
        for v in [10i16, 17, 18, 23, 24, 25] {
            let b = crate::protocol::codec::to_bytes(&sf, v);
            assert_eq!(from_bytes::<StreamFetchRequest>(&b, v).unwrap(), sf, "v{v}");
        }
        let sresp = StreamFetchResponse {
            topic: "t1".into(),
            stream_id: 1,
            partition: FetchablePartitionResponse {
                high_watermark: 1,
                records: RecordSet(unhex(HELLO_BATCH)),
                ..Default::default()
            },
        };
        assert_eq!(response_frame(2, 25, &sresp), unhex(&format!("00 00 00 78 00 00 00 02 00 02 74 31 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 49 {HELLO_BATCH}")));

        let uo = UpdateOffsetsRequest {
            offsets: vec![OffsetUpdate {
                offset: 1,
                session_id: 1,
            }],
        };
        let h = RequestHeader {
            api_key: 1005,
            api_version: 0,
            correlation_id: 3,
            client_id: "fluvio".into(),
        };
        assert_eq!(request_frame(&h, &uo), unhex("00 00 00 20 03 ed 00 00 00 00 00 03 00 06 66 6c 75 76 69 6f 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 01"));
        let ur = UpdateOffsetsResponse {
            status: vec![OffsetUpdateStatus {
                session_id: 1,
                error: ErrorCode::None,
            }],
        };
        assert_eq!(
            response_frame(3, 0, &ur),
            unhex("00 00 00 0e 00 00 00 03 00 00 00 01 00 00 00 01 00 00")
        );
    }
}
