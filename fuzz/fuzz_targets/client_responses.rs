//! Every response decoder the client runs, at the versions the clients use.
#![no_main]
use headwater::protocol::api::*;
use headwater::protocol::codec::from_bytes;
use headwater::protocol::sc::*;
use headwater::protocol::spu::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for v in [0i16, 2, 19, 24, 25] {
        let _ = from_bytes::<ApiVersionsResponse>(data, v);
        let _ = from_bytes::<Status>(data, v);
        let _ = from_bytes::<ProduceResponse>(data, v);
        let _ = from_bytes::<FetchOffsetsResponse>(data, v);
        let _ = from_bytes::<UpdateOffsetsResponse>(data, v);
        if let Ok(resp) = from_bytes::<StreamFetchResponse>(data, v) {
            let _ = headwater::protocol::batch::split_batches(&resp.partition.records.0);
        }
        if let Ok(env) = from_bytes::<ObjectEnvelope>(data, v) {
            let _ = env.inner::<MetadataUpdate<TopicMetadata>>(v);
            let _ = env.inner::<MetadataUpdate<PartitionMetadata>>(v);
            let _ = env.inner::<MetadataUpdate<SpuMetadata>>(v);
            let _ = env.inner::<Vec<TopicMetadata>>(v);
        }
    }
});
