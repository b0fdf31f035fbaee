//! Each decompressor, bounded: no input may make one produce more than the limit (bombs included).
#![no_main]
use headwater::protocol::compression::ALL_CODECS;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limit = 1 << 20;
    for c in ALL_CODECS {
        if let Ok(out) = c.decompress(data, limit) {
            assert!(out.len() <= limit);
        }
    }
});
