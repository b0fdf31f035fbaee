//! Partitioning exactly as the official Fluvio client does it (docs/PROTOCOL.md §7): SipHash-2-4 with zero keys
//! over `u64_le(len) ++ key` modulo the partition count for keys; round-robin over online partitions
//! for keyless records. Custom partitioners implement [`Partitioner`].

use std::hash::Hasher;
use std::sync::atomic::{AtomicU32, Ordering};

/// What a partitioner may look at.
#[derive(Debug, Clone, Copy)]
pub struct PartitionerContext<'a> {
    /// The topic's partition count (not the number of online partitions).
    pub partition_count: u32,
    /// Online partitions, ascending.
    pub available: &'a [u32],
}

pub trait Partitioner: Send + Sync + 'static {
    /// The partition for a record; must be `< ctx.partition_count`.
    fn partition(&self, ctx: &PartitionerContext<'_>, key: Option<&[u8]>, value: &[u8]) -> u32;
}

/// SipHash-2-4 (zero keys) of `u64_le(len) ++ key`, i.e. Rust's `Hash` for `&[u8]` on 64-bit targets.
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h = siphasher::sip::SipHasher24::new();
    h.write(&(key.len() as u64).to_le_bytes());
    h.write(key);
    h.finish()
}

/// The partition a keyed record goes to.
pub fn key_partition(key: &[u8], partition_count: u32) -> u32 {
    (key_hash(key) % partition_count.max(1) as u64) as u32
}

fn round_robin(counter: &AtomicU32, ctx: &PartitionerContext<'_>) -> u32 {
    let n = counter.fetch_add(1, Ordering::Relaxed);
    if ctx.available.is_empty() {
        n % ctx.partition_count.max(1)
    } else {
        ctx.available[(n as usize) % ctx.available.len()]
    }
}

/// Fluvio's default partitioner.
#[derive(Debug, Default)]
pub struct DefaultPartitioner {
    counter: AtomicU32,
}

impl Partitioner for DefaultPartitioner {
    fn partition(&self, ctx: &PartitionerContext<'_>, key: Option<&[u8]>, _value: &[u8]) -> u32 {
        match key {
            Some(k) => key_partition(k, ctx.partition_count),
            None => round_robin(&self.counter, ctx),
        }
    }
}

/// Round-robin for every record, keys ignored.
#[derive(Debug, Default)]
pub struct RoundRobinPartitioner {
    counter: AtomicU32,
}

impl Partitioner for RoundRobinPartitioner {
    fn partition(&self, ctx: &PartitionerContext<'_>, _key: Option<&[u8]>, _value: &[u8]) -> u32 {
        round_robin(&self.counter, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_table() {
        for (key, hash, p3, p4) in [
            ("", 0xe849e8bb6ffe2567u64, 2, 3),
            ("a", 0xfeb15081b68ca86b, 1, 3),
            ("key", 0x1bf94d5174027fca, 2, 2),
            ("fluvio", 0xcefb711b1c18ab54, 1, 0),
            ("hello", 0xd17f96bd0852ce12, 2, 2),
            ("user-1", 0x5b7bf110f671cd04, 1, 0),
        ] {
            assert_eq!(key_hash(key.as_bytes()), hash, "{key}");
            assert_eq!(key_partition(key.as_bytes(), 3), p3);
            assert_eq!(key_partition(key.as_bytes(), 4), p4);
        }
    }

    #[test]
    fn keyless_round_robin_over_available() {
        let p = DefaultPartitioner::default();
        let ctx = PartitionerContext {
            partition_count: 4,
            available: &[1, 3],
        };
        let got: Vec<u32> = (0..4).map(|_| p.partition(&ctx, None, b"")).collect();
        assert_eq!(got, vec![1, 3, 1, 3]);
    }
}
