//! The record-batch decoder (header, decompression, records) and RecordSet splitting.
#![no_main]
use headwater::protocol::batch::{decode_batch, split_batches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (batches, used) = split_batches(data);
    assert!(used <= data.len());
    for (h, bytes) in batches {
        assert_eq!(bytes.len(), h.total_len());
    }
    if let Ok(d) = decode_batch(data, 1 << 20) {
        assert!(d.header.last_offset_delta < 0 || d.records.len() as i64 == d.header.record_count());
    }
});
