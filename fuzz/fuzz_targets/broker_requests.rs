//! Every request decoder the broker runs: the header, then the body its api key selects, at the
//! header's version (SC and SPU keys both, as on the two listeners).
#![no_main]
use headwater::protocol::api::*;
use headwater::protocol::codec::{Decode, Reader};
use headwater::protocol::sc::*;
use headwater::protocol::spu::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let Ok(h) = RequestHeader::decode(&mut r, 0) else { return };
    let v = h.api_version;
    let body = r.rest();
    let mut r = Reader::new(body);
    match h.api_key {
        18 => drop(ApiVersionsRequest::decode(&mut r, v)),
        0 => drop(ProduceRequest::decode(&mut r, v)),
        1005 => drop(UpdateOffsetsRequest::decode(&mut r, v)),
        _ => {}
    }
    // Keys 1001-1004 mean different things on the SC and the SPU: try both decoders.
    let mut r = Reader::new(body);
    if let Ok(env) = ObjectEnvelope::decode(&mut r, v) {
        let _ = env.inner::<WatchRequest>(v);
        let _ = env.inner::<CreateRequest<TopicSpec>>(v);
        let _ = env.inner::<DeleteRequest>(v);
        let _ = env.inner::<ListRequest>(v);
    }
    let _ = FetchOffsetsRequest::decode(&mut Reader::new(body), v);
    let _ = StreamFetchRequest::decode(&mut Reader::new(body), v);
    if let Ok(p) = ProduceRequest::decode(&mut Reader::new(body), v) {
        for t in p.topics {
            for part in t.partitions {
                let _ = headwater::protocol::batch::split_batches(&part.records.0);
            }
        }
    }
});
