"""Fluvio's default partitioner (spec §7), written from the spec with the standard library only:
SipHash-2-4 with zero keys over `u64_le(len(key)) ++ key`, modulo the partition count. Used by
generate.py for the vectors and by test suites that check where a keyed record landed."""

import struct

MASK64 = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK64


def siphash24(k0, k1, msg):
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rnd():
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & MASK64
        v1 = _rotl(v1, 13) ^ v0
        v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & MASK64
        v3 = _rotl(v3, 16) ^ v2
        v0 = (v0 + v3) & MASK64
        v3 = _rotl(v3, 21) ^ v0
        v2 = (v2 + v1) & MASK64
        v1 = _rotl(v1, 17) ^ v2
        v2 = _rotl(v2, 32)

    n = len(msg)
    full = n - n % 8
    for i in range(0, full, 8):
        m = int.from_bytes(msg[i:i + 8], "little")
        v3 ^= m
        rnd()
        rnd()
        v0 ^= m
    last = ((n & 0xFF) << 56) | int.from_bytes(msg[full:], "little")
    v3 ^= last
    rnd()
    rnd()
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(4):
        rnd()
    return v0 ^ v1 ^ v2 ^ v3


def key_hash(key):
    return siphash24(0, 0, struct.pack("<Q", len(key)) + key)


def partition_for(key, count):
    return key_hash(key) % count
