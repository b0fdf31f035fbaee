//! Every decoder returns an error (never panics) on garbage: random bytes and random mutations of valid
//! messages, at every protocol version the clients use. Seeded by proptest (failures print the seed).

use headwater::protocol::api::*;
use headwater::protocol::batch::{decode_batch, put_record, split_batches, write_batch, BatchInfo};
use headwater::protocol::codec::{from_bytes, to_bytes, Encode};
use headwater::protocol::compression::ALL_CODECS;
use headwater::protocol::sc::*;
use headwater::protocol::spu::*;
use headwater::protocol::ErrorCode;
use proptest::prelude::*;

fn all_decoders(bytes: &[u8]) {
    for v in [0i16, 1, 10, 17, 18, 19, 23, 24, 25] {
        let _ = from_bytes::<RequestHeader>(bytes, v);
        let _ = from_bytes::<ApiVersionsRequest>(bytes, v);
        let _ = from_bytes::<ApiVersionsResponse>(bytes, v);
        let _ = from_bytes::<ErrorCode>(bytes, v);
        if let Ok(env) = from_bytes::<ObjectEnvelope>(bytes, v) {
            let _ = env.inner::<MetadataUpdate<TopicMetadata>>(v);
            let _ = env.inner::<MetadataUpdate<PartitionMetadata>>(v);
            let _ = env.inner::<MetadataUpdate<SpuMetadata>>(v);
            let _ = env.inner::<CreateRequest<TopicSpec>>(v);
        }
        let _ = from_bytes::<TopicMetadata>(bytes, v);
        let _ = from_bytes::<PartitionMetadata>(bytes, v);
        let _ = from_bytes::<SpuMetadata>(bytes, v);
        let _ = from_bytes::<CreateRequest<TopicSpec>>(bytes, v);
        let _ = from_bytes::<DeleteRequest>(bytes, v);
        let _ = from_bytes::<ListRequest>(bytes, v);
        let _ = from_bytes::<Status>(bytes, v);
        let _ = from_bytes::<ProduceRequest>(bytes, v);
        let _ = from_bytes::<ProduceResponse>(bytes, v);
        let _ = from_bytes::<StreamFetchRequest>(bytes, v);
        let _ = from_bytes::<StreamFetchResponse>(bytes, v);
        let _ = from_bytes::<FetchOffsetsRequest>(bytes, v);
        let _ = from_bytes::<FetchOffsetsResponse>(bytes, v);
        let _ = from_bytes::<UpdateOffsetsRequest>(bytes, v);
        let _ = from_bytes::<UpdateOffsetsResponse>(bytes, v);
    }
    let _ = decode_batch(bytes, 1 << 20);
    let _ = split_batches(bytes);
    for c in ALL_CODECS {
        let _ = c.decompress(bytes, 1 << 20);
    }
}

fn sample_batch(c: headwater::Compression) -> Vec<u8> {
    let mut section = 3u32.to_be_bytes().to_vec();
    put_record(&mut section, None, b"hello", 0, 0);
    put_record(&mut section, Some(b""), b"world", 1, 1);
    put_record(&mut section, Some(b"k"), &[9u8; 100], 2, 2);
    let mut out = Vec::new();
    write_batch(
        &mut out,
        &BatchInfo {
            base_offset: 0,
            record_count: 3,
            first_timestamp: 1,
            max_time_stamp: 3,
            compression: c,
        },
        &section,
    )
    .unwrap();
    out
}

fn valid_messages() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for c in ALL_CODECS {
        v.push(sample_batch(c));
    }
    let produce = ProduceRequest {
        transactional_id: None,
        acks: 1,
        timeout_ms: 1500,
        topics: vec![TopicProduceData {
            name: "t".into(),
            partitions: vec![PartitionProduceData {
                partition_index: 0,
                records: RecordSet(sample_batch(headwater::Compression::Lz4)),
            }],
        }],
    };
    v.push(to_bytes(&produce, 25));
    let topic = TopicMetadata {
        name: "t".into(),
        ..Default::default()
    };
    v.push(to_bytes(
        &ObjectEnvelope::new(
            LABEL_TOPIC,
            &MetadataUpdate {
                epoch: 1,
                changes: vec![Message {
                    header: 0,
                    content: topic.clone(),
                }],
                all: vec![topic],
            },
            19,
        ),
        19,
    ));
    v.push(to_bytes(
        &StreamFetchRequest {
            topic: "t".into(),
            partition: 1,
            fetch_offset: 5,
            max_bytes: 100,
            isolation: 0,
            consumer_id: Some("c".into()),
        },
        25,
    ));
    let mut e = Vec::new();
    ErrorCode::PartitionFull {
        topic: "t".into(),
        partition: 3,
    }
    .encode(&mut e, 0);
    v.push(e);
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        all_decoders(&bytes);
    }

    #[test]
    fn mutated_valid_messages(which in 0usize..9, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let msgs = valid_messages();
        let mut m = msgs[which % msgs.len()].clone();
        for (pos, b) in flips {
            let n = m.len();
            m[pos % n] ^= b;
        }
        all_decoders(&m);
        let cut = cut % (m.len() + 1);
        all_decoders(&m[..cut]);
    }
}

#[test]
fn oversized_counts_do_not_allocate() {
    // A vector count of 2^31-1 with nothing behind it is an error, not a 16 GB allocation.
    let mut b = vec![0x7f, 0xff, 0xff, 0xff];
    b.extend_from_slice(&[0; 8]);
    assert!(from_bytes::<ProduceResponse>(&b, 25).is_err());
    assert!(headwater::protocol::batch::decode_records(&b).is_err());
}
