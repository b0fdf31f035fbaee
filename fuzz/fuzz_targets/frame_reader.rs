//! The frame reader: a size prefix and body from arbitrary bytes, with the size limit enforced.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    let limit = 4096;
    while let Ok(Some(frame)) = futures_executor::block_on(headwater::protocol::api::read_frame(&mut input, limit)) {
        assert!(frame.len() <= limit);
    }
});
