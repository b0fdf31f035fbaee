#!/usr/bin/env python3
"""Generate Headwater's language-neutral test vectors (tests/vectors/*.json).

This generator is deliberately INDEPENDENT of the Rust core: CRC-32C, zigzag
varints, SipHash-2-4, xxHash32, the record/batch encoder and decoder, and the
hand-built compression framings (snappy framing chunks, LZ4 frames, zstd
raw/RLE blocks) are implemented here from the Fluvio protocol's published
description (its sections §1.1, §5.7, §6, §7) and from the README's configuration table.
Nothing here is copied from Fluvio or from core/.

Requirements (a scratch venv is enough; CI never runs this script):
    python >= 3.9
    cramjam        (required)  snappy/lz4/zstd library compressors for the
                               "library" decode cases, and decompressors for
                               the self-checks
    lz4, zstandard, python-snappy  (optional) extra cross-checks: every
                               compressed case is also decoded with these
                               independent implementations when installed

    python3 -m venv /tmp/hw-vec-venv
    /tmp/hw-vec-venv/bin/pip install cramjam lz4 zstandard python-snappy
    /tmp/hw-vec-venv/bin/python tests/vectors/generate.py

Output is deterministic for a given set of library versions (gzip mtime is 0).
The script asserts the spec's own vectors (varint, CRC, §6.4 batch, §7 table)
before writing anything.
"""

import gzip
import json
import os
import struct
import sys
import zlib

import cramjam

try:  # optional cross-checks
    import lz4.frame as _lz4frame
except ImportError:  # pragma: no cover
    _lz4frame = None
try:
    import zstandard as _zstandard
except ImportError:  # pragma: no cover
    _zstandard = None
try:
    import snappy as _pysnappy
except ImportError:  # pragma: no cover
    _pysnappy = None

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1

# ---------------------------------------------------------------------------
# varint (§1.1): protobuf base-128, 7 bits per byte, little-endian groups,
# MSB = continuation, carrying a standard 64-bit ZigZag value.
# ---------------------------------------------------------------------------


def zigzag(n):
    assert -(1 << 63) <= n < (1 << 63)
    return ((n << 1) ^ (n >> 63)) & MASK64


def unzigzag(u):
    return (u >> 1) ^ -(u & 1)


def varint(n):
    u = zigzag(n)
    out = bytearray()
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf, pos):
    shift = 0
    u = 0
    for i in range(10):
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        u |= (b & 0x7F) << shift
        if not b & 0x80:
            return unzigzag(u & MASK64), pos
        shift += 7
    raise ValueError("varint longer than 10 bytes")


# ---------------------------------------------------------------------------
# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, init/xorout ~0
# ---------------------------------------------------------------------------

_CRC32C_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# SipHash-2-4 partitioner (§7): fluvio_partition.py (stdlib only, so tests can import it alone)
# ---------------------------------------------------------------------------

from fluvio_partition import key_hash, partition_for, siphash24  # noqa: E402,F401



# ---------------------------------------------------------------------------
# xxHash32 (for hand-built LZ4 frames)
# ---------------------------------------------------------------------------

_P1, _P2, _P3, _P4, _P5 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1


def _rotl32(x, r):
    return ((x << r) | (x >> (32 - r))) & MASK32


def xxh32(data, seed=0):
    n = len(data)
    i = 0
    if n >= 16:
        v1 = (seed + _P1 + _P2) & MASK32
        v2 = (seed + _P2) & MASK32
        v3 = seed & MASK32
        v4 = (seed - _P1) & MASK32
        while i + 16 <= n:
            vs = []
            for j, v in enumerate((v1, v2, v3, v4)):
                lane = int.from_bytes(data[i + 4 * j:i + 4 * j + 4], "little")
                v = (v + lane * _P2) & MASK32
                vs.append((_rotl32(v, 13) * _P1) & MASK32)
            v1, v2, v3, v4 = vs
            i += 16
        h = (_rotl32(v1, 1) + _rotl32(v2, 7) + _rotl32(v3, 12) + _rotl32(v4, 18)) & MASK32
    else:
        h = (seed + _P5) & MASK32
    h = (h + n) & MASK32
    while i + 4 <= n:
        h = (h + int.from_bytes(data[i:i + 4], "little") * _P3) & MASK32
        h = (_rotl32(h, 17) * _P4) & MASK32
        i += 4
    while i < n:
        h = (h + data[i] * _P5) & MASK32
        h = (_rotl32(h, 11) * _P1) & MASK32
        i += 1
    h ^= h >> 15
    h = (h * _P2) & MASK32
    h ^= h >> 13
    h = (h * _P3) & MASK32
    h ^= h >> 16
    return h


# ---------------------------------------------------------------------------
# Record / batch (§6.2, §6.3)
# ---------------------------------------------------------------------------

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def encode_record(key, value, ts_delta, off_delta):
    body = bytearray()
    body.append(0)  # attributes i8
    body += varint(ts_delta)
    body += varint(off_delta)
    if key is None:
        body.append(0)
    else:
        body.append(1)
        body += varint(len(key))
        body += key
    body += varint(len(value))
    body += value
    body += varint(0)  # header count
    return varint(len(body)) + bytes(body)


def record_write_size(key, value, ts_delta, off_delta):
    """§6.3 Record::write_size formula, used as a cross-check."""
    vsz = lambda n: len(varint(n))  # noqa: E731
    k = 1 if key is None else 1 + vsz(len(key)) + len(key)
    inner = 1 + vsz(ts_delta) + vsz(off_delta) + k + vsz(len(value)) + len(value) + 1
    return vsz(inner) + inner


def encode_records_section(records):
    out = bytearray(struct.pack(">I", len(records)))
    for r in records:
        out += encode_record(r["key"], r["value"], r["timestamp_delta"], r["offset_delta"])
    return bytes(out)


def encode_batch(section, *, base_offset, last_offset_delta, first_timestamp,
                 max_timestamp, attributes=0, schema_id=None,
                 partition_leader_epoch=-1, magic=2, producer_id=-1,
                 producer_epoch=-1, first_sequence=-1):
    after_crc = struct.pack(">hiqqqhi", attributes, last_offset_delta, first_timestamp,
                            max_timestamp, producer_id, producer_epoch, first_sequence)
    if schema_id is not None:
        after_crc += struct.pack(">I", schema_id)
    after_crc += section
    crc = crc32c(after_crc)
    after_len = struct.pack(">ibI", partition_leader_epoch, magic, crc) + after_crc
    batch_len = len(after_len)
    assert batch_len == 45 + len(section) + (4 if schema_id is not None else 0)
    return struct.pack(">qi", base_offset, batch_len) + after_len, crc


def decode_records(section, count=None):
    """Decode `u32 count ++ records`; returns list of dicts."""
    (n,) = struct.unpack_from(">I", section, 0)
    if count is not None:
        assert n == count, (n, count)
    pos = 4
    recs = []
    for _ in range(n):
        length, pos = read_varint(section, pos)
        start = pos
        attr = section[pos]
        pos += 1
        assert attr == 0
        ts, pos = read_varint(section, pos)
        off, pos = read_varint(section, pos)
        flag = section[pos]
        pos += 1
        if flag == 0:
            key = None
        else:
            assert flag == 1
            kl, pos = read_varint(section, pos)
            key = bytes(section[pos:pos + kl])
            pos += kl
        vl, pos = read_varint(section, pos)
        value = bytes(section[pos:pos + vl])
        pos += vl
        hc, pos = read_varint(section, pos)
        assert hc == 0
        assert pos - start == length
        recs.append({"key": key, "value": value, "timestamp_delta": ts, "offset_delta": off})
    assert pos == len(section), "trailing bytes in records section"
    return recs


def decompress(codec, data):
    if codec == "none":
        return data
    if codec == "gzip":
        return gzip.decompress(data)
    if codec == "snappy":
        return bytes(cramjam.snappy.decompress(data))
    if codec == "lz4":
        return bytes(cramjam.lz4.decompress(data))
    if codec == "zstd":
        return bytes(cramjam.zstd.decompress(data))
    raise ValueError(codec)


def cross_decompress(codec, data):
    """Independent second decoder where one is installed (None otherwise)."""
    if codec == "gzip":
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if codec == "snappy" and _pysnappy is not None:
        d = _pysnappy.StreamDecompressor()
        out = d.decompress(data)
        d.flush()
        return out
    if codec == "lz4" and _lz4frame is not None:
        return _lz4frame.decompress(data)
    if codec == "zstd" and _zstandard is not None:
        return _zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return None


def decode_batch(buf):
    base_offset, batch_len = struct.unpack_from(">qi", buf, 0)
    assert batch_len == len(buf) - 12, (batch_len, len(buf))
    ple, magic, crc = struct.unpack_from(">ibI", buf, 12)
    assert crc == crc32c(buf[21:]), "bad crc"
    attrs, lod, ft, mt, pid, pep, fseq = struct.unpack_from(">hiqqqhi", buf, 21)
    codec_id = attrs & 0x7
    assert attrs & 0x10 == 0
    section = buf[57:]
    codec = {v: k for k, v in CODECS.items()}[codec_id]
    raw = decompress(codec, section)
    other = cross_decompress(codec, section)
    if other is not None:
        assert other == raw, codec
    recs = decode_records(raw)
    # §6.2: record count is derived from last_offset_delta
    assert len(recs) == lod + 1 or lod == -1
    return {"base_offset": base_offset, "codec": codec, "last_offset_delta": lod,
            "first_timestamp": ft, "max_timestamp": mt, "records": recs,
            "uncompressed": raw, "header": (ple, magic, pid, pep, fseq)}


# ---------------------------------------------------------------------------
# Compression framings
# ---------------------------------------------------------------------------

SNAPPY_STREAM_ID = bytes.fromhex("ff060000") + b"sNaPpY"


def snappy_masked_crc(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & MASK32) + 0xA282EAD8) & MASK32


def snappy_chunk(kind, data):
    if kind == "compressed":
        body = bytes(cramjam.snappy.compress_raw(data))
        t = 0x00
    else:
        body = data
        t = 0x01
    assert len(data) <= 65536
    payload = struct.pack("<I", snappy_masked_crc(data)) + body
    return bytes([t]) + len(payload).to_bytes(3, "little") + payload


def snappy_framed_by_hand(data, plan):
    """plan: list of (kind, nbytes); last may be None = rest."""
    out = bytearray(SNAPPY_STREAM_ID)
    pos = 0
    for kind, nbytes in plan:
        chunk = data[pos:] if nbytes is None else data[pos:pos + nbytes]
        pos += len(chunk)
        out += snappy_chunk(kind, chunk)
    assert pos == len(data)
    return bytes(out)


def lz4_frame_by_hand(data, plan, *, content_size=False, block_checksum=False,
                      content_checksum=True):
    """LZ4 frame v1, independent blocks, 64 KiB max block size.
    plan: list of (kind, nbytes) with kind 'compressed' | 'uncompressed'."""
    flg = 0x40 | 0x20  # version 01, block independence
    if block_checksum:
        flg |= 0x10
    if content_size:
        flg |= 0x08
    if content_checksum:
        flg |= 0x04
    bd = 0x40  # 64 KiB
    desc = bytes([flg, bd])
    if content_size:
        desc += struct.pack("<Q", len(data))
    out = bytearray(bytes.fromhex("04224d18") + desc + bytes([(xxh32(desc) >> 8) & 0xFF]))
    pos = 0
    for kind, nbytes in plan:
        chunk = data[pos:] if nbytes is None else data[pos:pos + nbytes]
        pos += len(chunk)
        assert len(chunk) <= 65536
        if kind == "compressed":
            blk = bytes(cramjam.lz4.compress_block(chunk, store_size=False))
            out += struct.pack("<I", len(blk)) + blk
        else:
            blk = chunk
            out += struct.pack("<I", len(blk) | 0x80000000) + blk
        if block_checksum:
            out += struct.pack("<I", xxh32(blk))
    assert pos == len(data)
    out += b"\x00\x00\x00\x00"
    if content_checksum:
        out += struct.pack("<I", xxh32(data))
    return bytes(out)


def zstd_frame_by_hand(data, plan):
    """Single-segment zstd frame with Frame_Content_Size, no checksum, built
    from Raw (type 0) and RLE (type 1) blocks. plan: list of (kind, nbytes)."""
    n = len(data)
    if n < 256:
        fhd, fcs = 0x20, bytes([n])            # FCS flag 0 + single segment: 1 byte
    elif n < 65536 + 256:
        fhd, fcs = 0x60, struct.pack("<H", n - 256)  # FCS flag 1: 2 bytes, +256
    else:
        fhd, fcs = 0xA0, struct.pack("<I", n)  # FCS flag 2: 4 bytes
    out = bytearray(bytes.fromhex("28b52ffd") + bytes([fhd]) + fcs)
    pos = 0
    for idx, (kind, nbytes) in enumerate(plan):
        chunk = data[pos:] if nbytes is None else data[pos:pos + nbytes]
        pos += len(chunk)
        last = 1 if idx == len(plan) - 1 else 0
        if kind == "rle":
            assert len(set(chunk)) == 1
            hdr = last | (1 << 1) | (len(chunk) << 3)
            out += hdr.to_bytes(3, "little") + chunk[:1]
        else:
            hdr = last | (0 << 1) | (len(chunk) << 3)
            out += hdr.to_bytes(3, "little") + chunk
    assert pos == n
    return bytes(out)


# ---------------------------------------------------------------------------
# JSON helpers
# ---------------------------------------------------------------------------


def hx(b):
    return None if b is None else bytes(b).hex()


def write_json(name, obj):
    path = os.path.join(OUT_DIR, name)
    text = json.dumps(obj, indent=1, ensure_ascii=False) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    json.loads(text)
    size = len(text.encode("utf-8"))
    assert size < 200_000, (name, size)
    print(f"wrote {name}: {size} bytes")


# ---------------------------------------------------------------------------
# 1. varint.json
# ---------------------------------------------------------------------------


def gen_varint():
    spec = {0: "00", -1: "01", 1: "02", 63: "7e", 8191: "fe7f", -134217729: "8180808001"}
    for v, h in spec.items():
        assert varint(v).hex() == h, (v, varint(v).hex(), h)
    values = [0, -1, 1, -2, 2, 63, -63, -64, 64, -65, 65, 100, -100, 127, 128, 150, 300,
              -300, 1000, 8191, -8192, 8192, -8193, 16383, 16384, 65535, 65536,
              1048575, -1048576, 1048576, 1555478494747 & 0x7FFFFFFF,
              (1 << 27) - 1, -(1 << 27), 134217728, -134217729,
              (1 << 31) - 1, -(1 << 31),
              # beyond i32 but still exact in IEEE doubles (JSON/JS safe)
              (1 << 31), -(1 << 31) - 1, (1 << 32), 1555478494747, -1555478494747,
              (1 << 53) - 1, -((1 << 53) - 1)]
    cases = []
    seen = set()
    for v in values:
        if v in seen:
            continue
        seen.add(v)
        enc = varint(v)
        dec, end = read_varint(enc, 0)
        assert dec == v and end == len(enc)
        c = {"value": v, "hex": enc.hex()}
        if v in spec:
            c["source"] = "spec §1.1"
        if not -(1 << 31) <= v < (1 << 31):
            c["outside_i32"] = True
        cases.append(c)
    big = [(1 << 63) - 1, -(1 << 63), (1 << 62), -(1 << 62) - 1]
    cases64 = []
    for v in big:
        enc = varint(v)
        assert read_varint(enc, 0)[0] == v
        cases64.append({"value": str(v), "hex": enc.hex()})
    invalid = [
        {"hex": "", "reason": "empty input"},
        {"hex": "80", "reason": "truncated: continuation bit set on the last byte"},
        {"hex": "ff", "reason": "truncated: continuation bit set on the last byte"},
        {"hex": "8080", "reason": "truncated"},
        {"hex": "ffffffffffffffffffff01", "reason": "11 bytes: longer than the 10-byte maximum"},
    ]
    for c in invalid:
        try:
            read_varint(bytes.fromhex(c["hex"]), 0)
        except ValueError:
            pass
        else:
            raise AssertionError(c)
    write_json("varint.json", {
        "description": (
            "Zigzag varints (spec §1.1): protobuf base-128 groups, little-endian, MSB = continuation, "
            "carrying the standard 64-bit ZigZag value ((n << 1) ^ (n >> 63)). Encoders must produce "
            "`hex` exactly from `value`; decoders must return `value` from `hex`, consuming every byte. "
            "Fluvio only ever varint-encodes values inside the i32 range (its own encoder is wrong outside it), "
            "so producers should never need the cases marked outside_i32; a standard 64-bit encoder gets them "
            "right anyway. `cases_64bit` carry values beyond 2^53 as decimal strings (not exact in JSON "
            "doubles). `invalid_decode` inputs must be rejected by a decoder reading one varint from the start."
        ),
        "cases": cases,
        "cases_64bit": cases64,
        "invalid_decode": invalid,
    })
    return len(cases) + len(cases64) + len(invalid)


# ---------------------------------------------------------------------------
# 2. crc32c.json (+ the §6.4 batch, built here and reused by batch.json)
# ---------------------------------------------------------------------------

SPEC_64_HEX = (
    "00000000 00000000  0000003c  ffffffff  02  554a8968   0000  ffffffff"
    "0000016a29be3e1b  0000016a29be3e1b  ffffffffffffffff  ffff  ffffffff"
    "00000001  14 00 00 00 00 08 74657374 00"
).replace(" ", "")


def spec_64_batch(schema_id=None):
    recs = [{"key": None, "value": b"test", "timestamp_delta": 0, "offset_delta": 0}]
    return encode_batch(encode_records_section(recs), base_offset=0, last_offset_delta=-1,
                        first_timestamp=1555478494747, max_timestamp=1555478494747,
                        attributes=0x10 if schema_id is not None else 0, schema_id=schema_id)


def gen_crc32c():
    assert crc32c(b"123456789") == 0xE3069283
    batch, crc = spec_64_batch()
    assert batch.hex() == SPEC_64_HEX and crc == 1430948200
    sbatch, scrc = spec_64_batch(schema_id=42)
    assert scrc == 2943551365
    inputs = [
        ("empty", b"", 0),
        ("ascii 123456789 (standard check value)", b"123456789", 0xE3069283),
        ("single byte 'a'", b"a", None),
        ("single zero byte", b"\x00", None),
        ("RFC 3720 B.4: 32 zero bytes", bytes(32), 0x8A9136AA),
        ("RFC 3720 B.4: 32 0xff bytes", b"\xff" * 32, 0x62A8AB43),
        ("RFC 3720 B.4: 32 incrementing bytes 00..1f", bytes(range(32)), 0x46DD794E),
        ("RFC 3720 B.4: 32 decrementing bytes 1f..00", bytes(range(31, -1, -1)), 0x113FDB5C),
        ("ascii 'The quick brown fox jumps over the lazy dog'",
         b"The quick brown fox jumps over the lazy dog", None),
        ("all 256 byte values", bytes(range(256)), None),
        ("1000 bytes i*7 mod 256", bytes((i * 7) & 0xFF for i in range(1000)), None),
        ("spec §6.4 batch: bytes from attributes (offset 21) to end; crc 1430948200",
         batch[21:], 1430948200),
        ("spec §6.4 schema-id variant (attributes 0x10, schema id 42): offset 21 to end; crc 2943551365",
         sbatch[21:], 2943551365),
    ]
    cases = []
    for name, data, expect in inputs:
        c = crc32c(data)
        if expect is not None:
            assert c == expect, (name, hex(c), hex(expect))
        cases.append({"name": name, "input_hex": data.hex(), "crc": c})
    write_json("crc32c.json", {
        "description": (
            "CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, init 0xFFFFFFFF, final xor 0xFFFFFFFF), "
            "as used for the batch `crc` field (spec §6.2: over the bytes from `attributes`, batch offset 21, "
            "to the end of the batch) and, masked, in snappy framing chunks. `crc` is the unsigned 32-bit "
            "result as a JSON integer; the batch field stores it big-endian."
        ),
        "cases": cases,
    })
    return len(cases)


# ---------------------------------------------------------------------------
# 3. partitioner.json
# ---------------------------------------------------------------------------

SPEC_PARTITION_TABLE = {
    b"": (0xE849E8BB6FFE2567, 1, 2, 3),
    b"a": (0xFEB15081B68CA86B, 1, 1, 3),
    b"key": (0x1BF94D5174027FCA, 0, 2, 2),
    b"fluvio": (0xCEFB711B1C18AB54, 0, 1, 0),
    b"hello": (0xD17F96BD0852CE12, 0, 2, 2),
    b"user-1": (0x5B7BF110F671CD04, 0, 1, 0),
}


def gen_partitioner():
    # SipHash paper vector (key 00..0f, message 00..0e)
    k = bytes(range(16))
    assert siphash24(int.from_bytes(k[:8], "little"), int.from_bytes(k[8:], "little"),
                     bytes(range(15))) == 0xA129CA6149BE45E5
    for key, (h, p2, p3, p4) in SPEC_PARTITION_TABLE.items():
        assert key_hash(key) == h, key
        assert (h % 2, h % 3, h % 4) == (p2, p3, p4), key

    keys = [
        (b"", "empty key (Some(empty), NOT no key)"),
        (b"a", None), (b"key", None), (b"fluvio", None), (b"hello", None), (b"user-1", None),
        (b"b", None), (b"A", None), (b"user-2", None), (b"user-3", None), (b"user-10", None),
        (b"order-42", None), (b"0", None), (b"1", None), (b"12345", None),
        (b"1234567", "7 bytes: message (8-byte prefix + key) is 15 bytes, one short of two blocks"),
        (b"12345678", "8 bytes: message is exactly 16 bytes (two full SipHash blocks)"),
        (b"123456789", "9 bytes"),
        (b"0123456789abcdef", "16 bytes"),
        (b"The quick brown fox jumps over the lazy dog", None),
        (b"\x00", "binary: one zero byte"),
        (b"\x00\x00\x00\x00", "binary: four zero bytes"),
        (b"\xff", "binary: 0xff"),
        (b"\xff\xfe\xfd\xfc\xfb", "binary: not valid UTF-8"),
        (bytes(range(256)), "binary: all 256 byte values"),
        ("héllo".encode("utf-8"), "UTF-8 'héllo'"),
        ("日本語".encode("utf-8"), "UTF-8 '日本語'"),
        ("🦀".encode("utf-8"), "UTF-8 crab emoji (4 bytes)"),
        (b"x" * 1000, "1000 x 'x'"),
        (bytes((i * 31 + 7) & 0xFF for i in range(1000)), "1000 bytes, (i*31+7) mod 256"),
    ]
    keys_out = []
    cases = []
    counts = list(range(1, 17))
    extra_counts = [31, 100, 1000, 65536, 2147483647]
    for key, note in keys:
        h = key_hash(key)
        entry = {"key_hex": key.hex(), "siphash": str(h), "siphash_hex": f"{h:016x}"}
        try:
            entry["key_utf8"] = key.decode("utf-8")
        except UnicodeDecodeError:
            pass
        if note:
            entry["note"] = note
        if key in SPEC_PARTITION_TABLE:
            entry["source"] = "spec §7 table"
        keys_out.append(entry)
        cs = counts + (extra_counts if key in SPEC_PARTITION_TABLE else [])
        for n in cs:
            cases.append({"key_hex": key.hex(), "partition_count": n,
                          "partition": h % n, "siphash": str(h)})
    keyless = []
    for n in (1, 2, 3, 4, 5):
        keyless.append({"partition_count": n,
                        "expected": [i % n for i in range(max(7, 2 * n + 1))]})
    assert keyless[2] == {"partition_count": 3, "expected": [0, 1, 2, 0, 1, 2, 0]}
    write_json("partitioner.json", {
        "description": (
            "Fluvio's default partitioner. Keyed record: partition = "
            "SipHash-2-4(k0=0, k1=0, u64_le(len(key)) ++ key) mod partition_count, the modulo taken on the "
            "unsigned 64-bit hash; partition_count is the topic's partition count, not the number of "
            "available partitions. `siphash` is that u64 as a decimal string (not exact as a JSON double), "
            "`siphash_hex` the same value in 16 hex digits. An empty key (key_hex \"\") is a real key and is "
            "hashed; it is NOT the keyless case. Keyless records (no key: None/null/NULL) do not hash: see "
            "keyless_sequences. Every case has a non-null key_hex."
        ),
        "keys": keys_out,
        "cases": cases,
        "keyless_description": (
            "Keyless records round-robin: a producer-wide counter starting at 0, incremented once per keyless "
            "record (wrapping u32); with all partitions online partition = counter mod partition_count (with "
            "some partitions offline: available[counter mod len(available)], available sorted ascending; when "
            "none is reported available: counter mod partition_count). Each entry is the partition sequence "
            "of successive keyless records from a fresh producer with every partition online. Keyed records "
            "in between do not advance the counter. With partitioner = round_robin every record, keyed or not, "
            "follows this rule."
        ),
        "keyless_sequences": keyless,
    })
    return len(cases), len(keys_out), len(keyless)


# ---------------------------------------------------------------------------
# 4. batch.json
# ---------------------------------------------------------------------------


def R(key, value, ts, off):
    return {"key": key, "value": value, "timestamp_delta": ts, "offset_delta": off}


def rec_json(r, with_hex=True):
    d = {"key_hex": hx(r["key"]), "value_hex": r["value"].hex(),
         "timestamp_delta": r["timestamp_delta"], "offset_delta": r["offset_delta"]}
    if with_hex:
        d["record_hex"] = encode_record(r["key"], r["value"], r["timestamp_delta"],
                                        r["offset_delta"]).hex()
    return d


def pattern(n, mul=1, add=0):
    return bytes((i * mul + add) & 0xFF for i in range(n))


def producer_records(specs):
    """specs: list of (key, value, ts_delta); offset_delta = index."""
    return [R(k, v, ts, i) for i, (k, v, ts) in enumerate(specs)]


def gen_batch():
    T0 = 1700000000000
    encode_specs = [
        dict(name="spec §6.4 example (one record, value 'test', no key; last_offset_delta -1 as in the Fluvio unit test)",
             records=[R(None, b"test", 0, 0)], first_timestamp=1555478494747,
             max_timestamp=1555478494747, base_offset=0, last_offset_delta=-1,
             expect_hex=SPEC_64_HEX, expect_crc=1430948200),
        dict(name="one record, no key (producer values: base_offset n-1 = 0, last_offset_delta n-1 = 0)",
             records=producer_records([(None, b"test", 0)]), first_timestamp=1555478494747),
        dict(name="one record, empty key (key Some(empty) = 01 00)",
             records=producer_records([(b"", b"value", 0)]), first_timestamp=T0),
        dict(name="one record, key 'key', value 'value'",
             records=producer_records([(b"key", b"value", 0)]), first_timestamp=T0),
        dict(name="one record, key 'k', empty value",
             records=producer_records([(b"k", b"", 0)]), first_timestamp=T0),
        dict(name="one record, no key, 200-byte value (2-byte value length and record length varints)",
             records=producer_records([(None, pattern(200), 0)]), first_timestamp=T0),
        dict(name="value lengths 63 and 64 (varint 1-byte/2-byte boundary), keys 'a' and null",
             records=producer_records([(b"a", b"v" * 63, 0), (None, b"w" * 64, 0)]),
             first_timestamp=T0),
        dict(name="five records: null key, empty key, keyed, keyed, null key; timestamp deltas 0,1,5,100,1000",
             records=producer_records([(None, b"first", 0), (b"", b"second", 1),
                                       (b"user-1", b"third", 5), (b"user-2", b'{"n":4}', 100),
                                       (None, b"fifth", 1000)]),
             first_timestamp=T0),
        dict(name="binary key and value containing 00 and ff bytes",
             records=producer_records([(b"\x00\xff\x00", b"\xff\x00\xfe\x01\x00", 0)]),
             first_timestamp=T0),
        dict(name="300-byte key, 10-byte value",
             records=producer_records([(pattern(300, 3, 1), b"0123456789", 0)]), first_timestamp=T0),
        dict(name="timestamp delta 70000 (3-byte varint) on the second record",
             records=producer_records([(b"t", b"early", 0), (b"t", b"late", 70000)]),
             first_timestamp=T0),
        dict(name="8200-byte value (3-byte value length and record length varints)",
             records=producer_records([(b"big", pattern(8200, 7, 3), 0)]), first_timestamp=T0),
        dict(name="broker-style stored batch: base_offset 1000, three records",
             records=producer_records([(b"k1", b"v1", 0), (b"k2", b"v2", 2), (b"k3", b"v3", 3)]),
             first_timestamp=T0, base_offset=1000),
        dict(name="utf-8 key and value",
             records=producer_records([("clé".encode(), "naïve ☃ 日本".encode(), 0)]),
             first_timestamp=T0),
    ]
    enc_cases = []
    for s in encode_specs:
        recs = s["records"]
        n = len(recs)
        ft = s["first_timestamp"]
        mt = s.get("max_timestamp", ft + recs[-1]["timestamp_delta"])
        bo = s.get("base_offset", n - 1)
        lod = s.get("last_offset_delta", n - 1)
        for r in recs:
            enc = encode_record(r["key"], r["value"], r["timestamp_delta"], r["offset_delta"])
            assert len(enc) == record_write_size(r["key"], r["value"], r["timestamp_delta"],
                                                 r["offset_delta"])
        section = encode_records_section(recs)
        batch, crc = encode_batch(section, base_offset=bo, last_offset_delta=lod,
                                  first_timestamp=ft, max_timestamp=mt)
        if "expect_hex" in s:
            assert batch.hex() == s["expect_hex"]
            assert crc == s["expect_crc"]
        d = decode_batch(batch)
        assert d["records"] == recs and d["base_offset"] == bo
        enc_cases.append({
            "name": s["name"],
            "records": [rec_json(r) for r in recs],
            "first_timestamp": ft, "max_timestamp": mt, "base_offset": bo,
            "last_offset_delta": lod, "codec": "none", "attributes": 0,
            "batch_len": len(batch) - 12, "crc": crc,
            "batch_hex": batch.hex(),
        })

    # -- decode cases (compressed) -------------------------------------------
    base_records = producer_records([
        (None, b"keyless value", 0),
        (b"", b"empty key", 1),
        (b"user-1", b"hello headwater", 2),
        (b"user-2", b"x" * 120, 3),
        (None, pattern(90, 5, 9), 3),
    ])
    compressible = producer_records([
        (b"log", b"INFO request handled in 12ms path=/api/v1/items status=200 " * 4, i)
        for i in range(6)
    ])

    def lib_compress(codec, raw):
        if codec == "gzip":
            return gzip.compress(raw, compresslevel=6, mtime=0)
        if codec == "snappy":
            return bytes(cramjam.snappy.compress(raw))
        if codec == "lz4":
            return bytes(cramjam.lz4.compress(raw))
        if codec == "zstd":
            return bytes(cramjam.zstd.compress(raw, level=1))
        raise ValueError(codec)

    dec_specs = []
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        dec_specs.append((codec, f"{codec}: library compressor, mixed keys (null, empty, keyed)",
                          base_records, lambda raw, c=codec: lib_compress(c, raw)))
        dec_specs.append((codec, f"{codec}: library compressor, highly compressible values",
                          compressible, lambda raw, c=codec: lib_compress(c, raw)))
    dec_specs += [
        ("gzip", "gzip: level 9, FNAME header field set",
         base_records, lambda raw: _gzip_with_name(raw)),
        ("gzip", "gzip: level 0 (stored deflate blocks)",
         base_records, lambda raw: gzip.compress(raw, compresslevel=0, mtime=0)),
        ("snappy", "snappy framing by hand: one uncompressed (0x01) chunk",
         base_records, lambda raw: snappy_framed_by_hand(raw, [("uncompressed", None)])),
        ("snappy", "snappy framing by hand: compressed, uncompressed, compressed chunks",
         compressible, lambda raw: snappy_framed_by_hand(
             raw, [("compressed", 300), ("uncompressed", 200), ("compressed", None)])),
        ("lz4", "lz4 frame by hand: one uncompressed block (high bit set), content checksum",
         base_records, lambda raw: lz4_frame_by_hand(raw, [("uncompressed", None)])),
        ("lz4", "lz4 frame by hand: compressed + uncompressed blocks, content size, block and content checksums",
         compressible, lambda raw: lz4_frame_by_hand(
             raw, [("compressed", 700), ("uncompressed", 100), ("compressed", None)],
             content_size=True, block_checksum=True)),
        ("zstd", "zstd frame by hand: one Raw block",
         base_records, lambda raw: zstd_frame_by_hand(raw, [("raw", None)])),
    ]
    rle_records = producer_records([(b"r", b"z" * 500, 0)])
    rle_raw = encode_records_section(rle_records)
    zi = rle_raw.index(b"z" * 500)
    dec_specs.append(("zstd", "zstd frame by hand: Raw + RLE + Raw blocks",
                      rle_records, lambda raw, zi=zi: zstd_frame_by_hand(
                          raw, [("raw", zi), ("rle", 500), ("raw", None)])))

    dec_cases = []
    for codec, name, recs, comp in dec_specs:
        raw = encode_records_section(recs)
        payload = comp(raw)
        n = len(recs)
        ft = T0
        mt = ft + recs[-1]["timestamp_delta"]
        batch, crc = encode_batch(payload, base_offset=n - 1, last_offset_delta=n - 1,
                                  first_timestamp=ft, max_timestamp=mt, attributes=CODECS[codec])
        d = decode_batch(batch)
        assert d["codec"] == codec and d["records"] == recs and d["uncompressed"] == raw
        dec_cases.append({
            "name": name, "codec": codec, "codec_id": CODECS[codec],
            "base_offset": n - 1, "first_timestamp": ft, "max_timestamp": mt,
            "last_offset_delta": n - 1,
            "expected_records": [rec_json(r, with_hex=False) for r in recs],
            "uncompressed_records_hex": raw.hex(),
            "batch_hex": batch.hex(),
        })

    # -- decode cases that must fail ----------------------------------------
    bad = []
    raw = encode_records_section(base_records[:2])
    for cid in (5, 6, 7):
        b, _ = encode_batch(raw, base_offset=1, last_offset_delta=1, first_timestamp=T0,
                            max_timestamp=T0 + 1, attributes=cid)
        bad.append({"name": f"codec id {cid} in attributes (unknown codec)", "codec_id": cid,
                    "batch_hex": b.hex()})
    raw_snappy = bytes(cramjam.snappy.compress_raw(raw))
    assert 0x02 <= raw_snappy[0] < 0x80  # a reserved unskippable chunk type for framing decoders
    b, _ = encode_batch(raw_snappy, base_offset=1, last_offset_delta=1, first_timestamp=T0,
                        max_timestamp=T0 + 1, attributes=2)
    bad.append({"name": "snappy codec with RAW snappy (no framing / stream identifier)",
                "codec_id": 2, "batch_hex": b.hex()})
    raw_lz4 = bytes(cramjam.lz4.compress_block(raw, store_size=False))
    b, _ = encode_batch(raw_lz4, base_offset=1, last_offset_delta=1, first_timestamp=T0,
                        max_timestamp=T0 + 1, attributes=3)
    bad.append({"name": "lz4 codec with a raw LZ4 block (no frame magic)",
                "codec_id": 3, "batch_hex": b.hex()})
    b, _ = encode_batch(gzip.compress(raw, mtime=0), base_offset=1, last_offset_delta=1,
                        first_timestamp=T0, max_timestamp=T0 + 1, attributes=4)
    bad.append({"name": "zstd codec with a gzip payload", "codec_id": 4, "batch_hex": b.hex()})
    b, _ = encode_batch(bytes.fromhex("1f8b0800000000000003") + b"\x00garbage", base_offset=1,
                        last_offset_delta=1, first_timestamp=T0, max_timestamp=T0 + 1, attributes=1)
    bad.append({"name": "gzip codec with a corrupt deflate stream", "codec_id": 1, "batch_hex": b.hex()})
    for c in bad:
        c["expected_error"] = "COMPRESSION"
        c["fluvio_code"] = 9000

    write_json("batch.json", {
        "description": (
            "Record batches (spec §6.2/§6.3). `encode` cases: the exact bytes of one uncompressed batch "
            "(no RecordSet length prefix) from the listed inputs, with producer header values "
            "partition_leader_epoch -1, magic 2, producer_id -1, producer_epoch -1, first_sequence -1, "
            "attributes 0; batch_len = 45 + len(records section); crc = CRC-32C of bytes 21..end. Records: "
            "varint length, attributes 0, varint timestamp_delta, varint offset_delta, key as Option "
            "(00 = no key, 01 + varint len + bytes; key_hex null = no key, \"\" = empty key), varint value "
            "length + bytes, varint header count 0. `record_hex` is one encoded record. Encode cases also "
            "decode back to their inputs. `decode` cases: compressed batches; attributes low 3 bits = codec "
            "id (1 gzip member, 2 snappy FRAMING format with the sNaPpY stream identifier, 3 LZ4 FRAME "
            "format, 4 zstd frame); the records section is compress(u32 record_count ++ records) with the "
            "count INSIDE the compressed payload (`uncompressed_records_hex` is that payload before "
            "compression). Any conforming decoder must return expected_records; encoders may produce "
            "different compressed bytes, so for compressed codecs only decoding is asserted (an encoder "
            "test can round-trip: encode, decode, compare records). `decode_invalid` batches must fail "
            "with a Compression error (the SPU answers CompressionError 9000)."
        ),
        "producer_header": {"partition_leader_epoch": -1, "magic": 2, "producer_id": -1,
                            "producer_epoch": -1, "first_sequence": -1},
        "codec_ids": CODECS,
        "cases": enc_cases,
        "decode": dec_cases,
        "decode_invalid": bad,
    })
    return len(enc_cases), len(dec_cases), len(bad)


def _gzip_with_name(raw):
    import io
    buf = io.BytesIO()
    with gzip.GzipFile(filename="records.bin", mode="wb", compresslevel=9, fileobj=buf,
                       mtime=0) as f:
        f.write(raw)
    out = buf.getvalue()
    assert out[3] & 0x08  # FNAME
    return out


# ---------------------------------------------------------------------------
# 5. config.json
# ---------------------------------------------------------------------------

COMMON_NUM_INVALID = ["", "-1", "1.5", "abc", " 100", "100 ", "+100", "1_000", "0x10", "1e3",
                      "100ms", "18446744073709551616"]


def num_key(key, camel, typ, default, minimum, maximum=None, extra_valid=(), extra_invalid=(),
            meaning=""):
    valid = [default]
    if minimum == 0:
        valid.append("0")
    else:
        valid.append(str(minimum))
    valid += list(extra_valid)
    invalid = list(COMMON_NUM_INVALID)
    if minimum == 1:
        invalid.insert(0, "0")
    invalid += list(extra_invalid)
    seen = []
    for v in valid:
        if v not in seen:
            seen.append(v)
    for v in seen:
        assert v.isascii() and v.isdigit() and int(v) >= minimum
    return {"key": key, "camel": camel, "type": typ, "default": default, "min": minimum,
            "max": maximum, "meaning": meaning,
            "valid": [{"input": v, "value": int(v)} for v in seen], "invalid": invalid}


def enum_key(key, camel, default, values, invalid, meaning=""):
    valid = [{"input": v, "value": v} for v in values]
    return {"key": key, "camel": camel, "type": "enum", "default": default, "values": values,
            "meaning": meaning, "valid": valid, "invalid": invalid}


def gen_config():
    keys = [
        num_key("batch_size", "batchSize", "bytes", "16384", 1,
                extra_valid=["1024", "1048576"],
                meaning="seal a partition's batch when its estimated size reaches this"),
        num_key("linger_ms", "lingerMs", "ms", "100", 0, extra_valid=["5", "60000"],
                meaning="seal a batch this long after it opened"),
        num_key("max_request_size", "maxRequestSize", "bytes", "1048576", 1,
                extra_valid=["65536", "16777216"],
                meaning="largest batch; a larger single record fails with RecordTooLarge"),
        num_key("batch_queue_size", "batchQueueSize", "count", "100", 1, extra_valid=["1000"],
                meaning="per-partition queue bound, in batches"),
        num_key("send_timeout_ms", "sendTimeoutMs", "ms", "30000", 0, extra_valid=["1000"],
                meaning="how long send may wait on a full queue before QueueFull"),
        {"key": "compression", "camel": "compression", "type": "enum", "default": None,
         "values": ["none", "gzip", "snappy", "lz4", "zstd"],
         "meaning": "batch codec; unset (null) = follow the topic's policy (any => none); must be allowed by the topic",
         "valid": [{"input": v, "value": v} for v in ["none", "gzip", "snappy", "lz4", "zstd"]],
         "invalid": ["", "GZIP", "Gzip", " gzip", "gzip ", "any", "zip", "lz4hc", "zstandard", "snappy-framed", "1"]},
        enum_key("isolation", "isolation", "read_uncommitted", ["read_uncommitted", "read_committed"],
                 ["", "READ_COMMITTED", "ReadCommitted", "read-committed", "readCommitted", "committed", "1", "-1"],
                 meaning="acks 1 (read_uncommitted) or -1 (read_committed)"),
        enum_key("delivery", "delivery", "at_least_once", ["at_least_once", "at_most_once"],
                 ["", "AT_LEAST_ONCE", "AtLeastOnce", "at-least-once", "atLeastOnce", "exactly_once", "at_least"],
                 meaning="wait for acknowledgements and retry, or not"),
        num_key("max_retries", "maxRetries", "count", "2147483647", 0, extra_valid=["4", "10"],
                meaning="retries per batch; by default no count limit: retries stop at delivery_timeout_ms"),
        num_key("retry_backoff_ms", "retryBackoffMs", "ms", "20", 0, extra_valid=["250"],
                meaning="exponential backoff: first delay"),
        num_key("retry_backoff_max_ms", "retryBackoffMaxMs", "ms", "5000", 0, extra_valid=["60000"],
                meaning="exponential backoff: largest delay"),
        num_key("delivery_timeout_ms", "deliveryTimeoutMs", "ms", "120000", 0, extra_valid=["5000"],
                meaning="upper bound from send to a final result"),
        num_key("timeout_ms", "timeoutMs", "ms", "1500", 0, maximum=2147483647,
                extra_valid=["2147483647"], extra_invalid=["2147483648"],
                meaning="server-side wait sent in each produce request (an i32 on the wire)"),
        num_key("metadata_timeout_ms", "metadataTimeoutMs", "ms", "10000", 0, extra_valid=["500"],
                meaning="how long connect waits for the topic to appear"),
        enum_key("partitioner", "partitioner", "default", ["default", "round_robin"],
                 ["", "DEFAULT", "Default", "round-robin", "roundRobin", "siphash", "random"],
                 meaning="default = SipHash for keys + round-robin without; round_robin = all records round-robin"),
        {"key": "client_id", "camel": "clientId", "type": "string", "default": "headwater",
         "max_bytes": 32767,
         "meaning": "sent in every request header (a u16-length string decoded as i16 by Fluvio)",
         "valid": [{"input": v, "value": v} for v in
                   ["headwater", "my-app", "svc_1.worker-2", "Mixed Case With Spaces", "日本"]],
         "invalid": ["", "x" * 32768]},
    ]
    # TLS keys. Every accepted input except tls=false turns TLS on, and the binding runners connect to
    # a plaintext broker with each `valid` input, so those inputs live in `valid_tls` (core's
    # tests/tls.rs runs them). File keys are checked when set: the file must exist (its PEM contents
    # are checked when connecting); /etc/hosts exists on Linux and macOS.
    missing = ["", "/nonexistent/headwater-tls-vector.pem", "/"]

    def file_key(key, camel, meaning):
        return {"key": key, "camel": camel, "type": "file", "default": None, "meaning": meaning,
                "valid": [], "valid_tls": [{"input": "/etc/hosts", "value": "/etc/hosts"}],
                "invalid": missing}

    keys += [
        {"key": "tls", "camel": "tls", "type": "bool", "default": "false",
         "meaning": "use TLS; true alone trusts the system roots. Reads back true when any other tls_* key "
                    "is set (they turn TLS on); false together with one of them fails at connect",
         "valid": [{"input": "false", "value": "false"}],
         "valid_tls": [{"input": "true", "value": "true"}],
         "invalid": ["", "TRUE", "True", "yes", "on", "1", "0", " true", "false "]},
        file_key("tls_ca_file", "tlsCaFile",
                 "PEM CA bundle to verify the cluster with (instead of the system roots)"),
        file_key("tls_cert_file", "tlsCertFile",
                 "PEM client certificate chain for mutual TLS (needs tls_key_file)"),
        file_key("tls_key_file", "tlsKeyFile",
                 "PEM client private key for mutual TLS (needs tls_cert_file)"),
        {"key": "tls_server_name", "camel": "tlsServerName", "type": "server_name", "default": None,
         "meaning": "name the SC's certificate is verified against (default: the endpoint's host); SPUs "
                    "are then verified as <spu-name>.<tls_server_name>, as the official client does",
         "valid": [],
         "valid_tls": [{"input": v, "value": v} for v in
                       ["broker.example.com", "localhost", "custom-spu-5001.cloud.example",
                        "127.0.0.1", "::1"]],
         "invalid": ["", "has space.example", "a..b", "-leading.example"]},
    ]
    for k in keys:
        for v in k["valid"] + k.get("valid_tls", []):
            assert v["input"] not in k["invalid"], (k["key"], v)
        d = k["default"]
        if d is not None:
            assert any(v["input"] == d for v in k["valid"]), k["key"]
    stats = ["records_sent", "records_acked", "records_failed", "bytes_uncompressed",
             "bytes_compressed", "batches_sent", "requests_sent", "retries", "errors",
             "queued_records", "queued_batches"]

    def camel(s):
        p = s.split("_")
        return p[0] + "".join(x.title() for x in p[1:])

    for k in keys:
        assert k["camel"] == camel(k["key"])
    write_json("config.json", {
        "description": (
            "The producer configuration table (README 'Configuration'), parsed by one parser in "
            "core. `key` is the snake_case name (Rust, Python, C, CLI), `camel` the camelCase name (Node, "
            "Java). Every value is given in its string form. Types: bytes/count/ms = non-negative integer "
            "written as one or more ASCII digits only (no sign, whitespace, separators, decimal point, "
            "exponent, hex prefix or unit suffix), at least `min` and at most `max` (null = no bound below "
            "the u64 range); ms values are milliseconds. enum = one of `values`, lowercase, exact match. "
            "string = any UTF-8 of 1..max_bytes bytes. bool = exactly true or false. file = a path to an "
            "existing regular file (checked when set; its PEM contents are checked when connecting). "
            "server_name = a DNS name or an IP address. `default` is the string the parser would accept for "
            "the default (null = unset: compression follows the topic; TLS files and server name unset). "
            "`valid` lists accepted inputs with the parsed value, each usable against a plaintext broker; "
            "`valid_tls` (TLS keys only) lists accepted inputs that turn TLS on, so a runner that connects "
            "with them needs a TLS broker. Every `invalid` input, and every key in unknown_keys, must be "
            "rejected with a Config error (code CONFIG) that names the key. A binding may additionally "
            "accept native numbers where its language has them; the string forms here are what every "
            "binding must handle."
        ),
        "cases": keys,
        "unknown_keys": ["lingerms", "batch-size", "nope", "linger", "BATCH_SIZE"],
        "stats": {
            "description": (
                "ProducerStats field names every language exposes (snake_case in Rust/Python/C, camelCase "
                "in Node/Java), all non-negative integer counters/gauges."
            ),
            "fields": stats,
            "camel": [camel(s) for s in stats],
        },
    })
    return len(keys)


# ---------------------------------------------------------------------------
# 6. errors.json
# ---------------------------------------------------------------------------

FLUVIO_CODES = [
    (-1, "UnknownServerError", ""), (0, "None", ""), (1, "OffsetOutOfRange", ""),
    (2, "Other", "String"), (6, "NotLeaderForPartition", ""),
    (7, "RequestTimedOut", "timeout_ms: u64, kind: RequestKind (u8, 0 = Produce)"),
    (10, "MessageTooLarge", ""), (13, "PermissionDenied", ""), (56, "StorageError", ""),
    (60, "InvalidCreateRequest", ""), (61, "InvalidDeleteRequest", ""),
    (71, "OffsetEvicted", "offset: i64, next_available: i64"),
    (72, "PartitionFull", "replica_key: ReplicaKey{topic: String, partition: u32}"),
    (73, "PartitionShortCircuited", ""),
    (1000, "SpuError", ""), (1001, "SpuRegisterationFailed", ""), (1002, "SpuOffline", ""),
    (1003, "SpuNotFound", ""), (1004, "SpuAlreadyExists", ""),
    (2000, "TopicError", ""), (2001, "TopicNotFound", ""), (2002, "TopicAlreadyExists", ""),
    (2003, "TopicPendingInitialization", ""), (2004, "TopicInvalidConfiguration", ""),
    (2005, "TopicNotProvisioned", ""), (2006, "TopicInvalidName", ""), (2007, "TopicDeleted", ""),
    (2008, "TopicInvalidReplicaType", ""),
    (3000, "PartitionPendingInitialization", ""), (3001, "PartitionNotLeader", ""),
    (3002, "FetchSessionNotFoud", ""), (3003, "OffsetFlushRequestError", "String"),
    (3004, "OffsetManagementDisabled", ""), (3005, "MaxRetryReached", ""),
    (5000, "ManagedConnectorError", ""), (5001, "ManagedConnectorNotFound", ""),
    (5002, "ManagedConnectorAlreadyExists", ""),
    (6000, "SmartModuleError", ""), (6001, "SmartModuleNotFound", "name: String"),
    (6002, "SmartModuleInvalid", "error: String, name: Option<String>"),
    (6003, "SmartModuleInvalidExports", "error: String, kind: String"),
    (6004, "SmartModuleRuntimeError",
     "SmartModuleTransformRuntimeError{hint: String, offset: i64, kind: u8 enum, "
     "record_key: Option<RecordData>, record_value: RecordData}"),
    (6005, "SmartModuleChainInitError", "String"),
    (6006, "SmartModuleInitError", "SmartModuleInitRuntimeError"),
    (6007, "SmartModuleLookBackError", "String"),
    (6008, "SmartModuleMemoryLimitExceeded", "requested: u64, max: u64"),
    (7000, "TableFormatError", ""), (7001, "TableFormatNotFound", ""),
    (7002, "TableFormatAlreadyExists", ""),
    (8000, "DerivedStreamObjectError", ""), (8001, "DerivedStreamNotFound", "String"),
    (8002, "DerivedStreamJoinFetchError", ""), (8003, "DerivedStreamInvalid", "String"),
    (9000, "CompressionError", ""),
    (10000, "DeduplicationSmartModuleNotLoaded", ""),
    (10001, "DeduplicationSmartModuleNameInvalid", "String"),
    (11001, "MirrorNotFound", ""), (11002, "MirrorAlreadyExists", ""),
    (11003, "MirrorProduceFromHome", ""), (11004, "MirrorDeleteFromRemote", ""),
    (11005, "MirrorInvalidType", ""), (11006, "MirrorProduceFromRemoteNotAllowed", ""),
    (12001, "SystemSpecDeletionAttempt", "kind: String, name: String"),
    (12002, "SystemSpecUpdatingAttempt", "kind: String, name: String"),
]
RETRIABLE_FLUVIO = {6, 7, 1002, 2003, 3000, 3001}
FLUVIO_MAPS = {9000: "COMPRESSION", 2001: "UNKNOWN_TOPIC", 10: "RECORD_TOO_LARGE", 0: None}


def gen_errors():
    kinds = [
        ("Config", "CONFIG", 1, False, "ConfigError", ["HeadwaterError", "ValueError"]),
        ("Timeout", "TIMEOUT", 2, True, "TimeoutError", ["HeadwaterError", "TimeoutError"]),
        ("QueueFull", "QUEUE_FULL", 3, False, "QueueFullError", ["HeadwaterError"]),
        ("RecordTooLarge", "RECORD_TOO_LARGE", 4, False, "RecordTooLargeError",
         ["HeadwaterError", "ValueError"]),
        ("UnknownTopic", "UNKNOWN_TOPIC", 5, False, "UnknownTopicError", ["HeadwaterError"]),
        ("UnknownPartition", "UNKNOWN_PARTITION", 6, False, "UnknownPartitionError", ["HeadwaterError"]),
        ("Compression", "COMPRESSION", 7, False, "CompressionError", ["HeadwaterError"]),
        ("Transport", "TRANSPORT", 8, True, "BrokerConnectionError", ["HeadwaterError", "ConnectionError"]),
        ("Protocol", "PROTOCOL", 9, False, "ProtocolError", ["HeadwaterError"]),
        ("Broker", "BROKER", 10, None, "BrokerError", ["HeadwaterError"]),
        ("Closed", "CLOSED", 11, False, "ClosedError", ["HeadwaterError"]),
        ("Forked", "FORKED", 12, False, "ForkedProcessError", ["HeadwaterError"]),
        ("InvalidArgument", "INVALID_ARGUMENT", 13, False, "InvalidArgumentError",
         ["HeadwaterError", "ValueError", "TypeError"]),
        ("Internal", "INTERNAL", 14, False, "InternalError", ["HeadwaterError"]),
    ]
    cases = []
    for kind, code, num, retr, pycls, pybases in kinds:
        # Go reaches core through the C ABI, so it can meet every kind C can.
        langs = {"rust": True, "python": True, "node": True, "java": True, "c": True, "go": True}
        if kind == "Forked":
            langs["node"] = langs["java"] = False
        c = {"kind": kind, "code": code, "number": num, "retriable": retr, "languages": langs,
             "python_class": pycls, "python_bases": pybases}
        if retr is None:
            c["retriable_rule"] = "retriable exactly when the Fluvio error code is retriable (see fluvio_codes)"
        cases.append(c)
    assert [c["number"] for c in cases] == list(range(1, 15))
    known = {c["code"] for c in cases}
    fcodes = []
    for code, name, payload in FLUVIO_CODES:
        maps = FLUVIO_MAPS.get(code, "BROKER")
        assert maps is None or maps in known
        d = {"code": code, "name": name, "retriable": code in RETRIABLE_FLUVIO, "maps_to": maps}
        if payload:
            d["payload"] = payload
        fcodes.append(d)
    assert len({f["code"] for f in fcodes}) == len(fcodes)
    assert sum(f["retriable"] for f in fcodes) == 6
    write_json("errors.json", {
        "description": (
            "Error kinds: one ErrorKind in core, mapped mechanically by every binding. "
            "`code` is the stable string (Python/Node err.code, Java getCode(), C hw_error_code(), Go Error.Code), "
            "`number` the stable integer (Python/Node err.number, Java getNumber(), C hw_error_number() and "
            "the hw_error_kind enum, Go Error.Number), `retriable` what is_retriable() returns (null "
            "for Broker: it follows the Fluvio code, see retriable_rule), `languages` whether the kind can "
            "occur in that language (no Forked in Node or Java), `python_class` the Python exception "
            "class, `python_bases` its base classes (all subclass HeadwaterError; some also a builtin). "
            "`fluvio_codes`: every Fluvio ErrorCode (spec §5.7, i16 tag) with its name, whether a failure "
            "with that code is retriable, and the kind it maps to (`maps_to` null only for 0 = success); "
            "a Broker error carries the Fluvio code."
        ),
        "cases": cases,
        "python_base_class": "HeadwaterError",
        "fluvio_mapping_rule": (
            "9000 CompressionError => COMPRESSION; 2001 TopicNotFound => UNKNOWN_TOPIC; 10 MessageTooLarge => "
            "RECORD_TOO_LARGE; 0 None => success (no error); every other code => BROKER carrying the code. "
            "Retriable codes: 6 NotLeaderForPartition, 7 RequestTimedOut, 1002 SpuOffline, 2003 "
            "TopicPendingInitialization, 3000 PartitionPendingInitialization, 3001 PartitionNotLeader."
        ),
        "fluvio_codes": fcodes,
    })
    return len(cases), len(fcodes)


def main():
    nv = gen_varint()
    nc = gen_crc32c()
    npart, nkeys, nkl = gen_partitioner()
    ne, nd, nbad = gen_batch()
    ncfg = gen_config()
    nerr, nf = gen_errors()
    print(f"varint: {nv} cases; crc32c: {nc}; partitioner: {npart} cases over {nkeys} keys, "
          f"{nkl} keyless sequences; batch: {ne} encode, {nd} decode, {nbad} decode_invalid; "
          f"config: {ncfg} keys; errors: {nerr} kinds, {nf} fluvio codes")
    if _lz4frame is None or _zstandard is None or _pysnappy is None:
        print("note: some optional cross-check libraries are missing", file=sys.stderr)


if __name__ == "__main__":
    main()
