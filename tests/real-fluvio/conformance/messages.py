"""Request encoders and response decoders for the messages the conformance suite exchanges.

Decoders return plain Python values (dicts, lists, ints, strings) so that two responses compare with
`==` and print readably. Error codes decode to their i16 tag, or to `[tag, payload...]` when the
variant carries a payload (e.g. `[2, "text"]` for `Other`). Every decoder consumes its frame to the
last byte: bytes left over are a decode failure, not something to ignore.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from .wire import DecodeError, Reader, Writer, crc32c, read_varint, varint

API_VERSIONS = 18
# SC keys
CREATE, DELETE, LIST, WATCH, MIRRORING, UPDATE = 1001, 1002, 1003, 1004, 1005, 1006
# SPU keys
PRODUCE, FETCH, FETCH_OFFSETS, STREAM_FETCH, UPDATE_OFFSETS = 0, 1, 1002, 1003, 1005
UPDATE_CONSUMER_OFFSET, DELETE_CONSUMER_OFFSET, FETCH_CONSUMER_OFFSETS = 1006, 1007, 1008

SC_V = 19
SPU_V = 25

# ------------------------------------------------------------------------------------ error codes

_NO_PAYLOAD = {-1, 0, 1, 6, 10, 13, 56, 60, 61, 73, 1000, 1001, 1002, 1003, 1004, 2000, 2001, 2002,
               2003, 2004, 2005, 2006, 2007, 2008, 3000, 3001, 3002, 3004, 3005, 5000, 5001, 5002,
               6000, 7000, 7001, 7002, 8000, 8002, 9000, 10000, 11001, 11002, 11003, 11004, 11005,
               11006}
_ONE_STRING = {2, 3003, 6005, 6007, 8001, 8003, 10001}


def error_code(r: Reader):
    tag = r.i16()
    if tag in _NO_PAYLOAD:
        return tag
    if tag in _ONE_STRING:
        return [tag, r.string()]
    if tag == 7:
        return [tag, r.u64(), r.u8()]
    if tag == 71:
        return [tag, r.i64(), r.i64()]
    if tag == 72:
        return [tag, r.string(), r.u32()]
    if tag in (12001, 12002, 6003):
        return [tag, r.string(), r.string()]
    if tag == 6001:
        return [tag, r.string()]
    if tag == 6002:
        return [tag, r.string(), r.opt(Reader.string)]
    if tag == 6008:
        return [tag, r.u64(), r.u64()]
    raise DecodeError(f"error code tag {tag} unknown to the suite")


# ------------------------------------------------------------------------------------ ApiVersions

def api_versions_req(version: int = 2, client_version: str = "0.50.2", os: str = "linux",
                     arch: str = "x86_64") -> bytes:
    w = Writer()
    if version >= 1:
        w.string(client_version).string(os).string(arch)
    return w.bytes()


def api_versions_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    out = {
        "error_code": error_code(r),
        "api_keys": r.vec(lambda r: [r.i16(), r.i16(), r.i16()]),
        "platform_version": r.string(),
    }
    r.end()
    return out


# ------------------------------------------------------------------------------------ SC objects

def typed_buffer(label: str, payload: bytes) -> bytes:
    return Writer().string(label).u32(len(payload)).raw(payload).bytes()


def read_typed_buffer(r: Reader) -> Tuple[str, Reader]:
    label = r.string()
    n = r.u32()
    return label, Reader(r.take(n))


def put_cleanup(w: Writer, secs: int) -> None:
    w.u8(0).u32(secs)


def put_storage(w: Writer, s: Tuple[Optional[int], Optional[int]]) -> None:
    w.opt(s[0], lambda w, v: w.u32(v)).opt(s[1], lambda w, v: w.u64(v))


def topic_spec(partitions: int = 1, replication: int = 1, *, ignore_rack: bool = False,
               assigned: Optional[List[Tuple[int, List[int]]]] = None,
               cleanup_secs: Optional[int] = None,
               storage: Optional[Tuple[Optional[int], Optional[int]]] = None,
               compression: int = 4, dedup: Optional[str] = None, system: bool = False) -> bytes:
    w = Writer()
    if assigned is not None:
        w.u8(0).vec(assigned, lambda w, m: w.u32(m[0]).vec(m[1], lambda w, s: w.i32(s)).u8(0))
    else:
        w.u8(1).u32(partitions).u32(replication).boolean(ignore_rack)
    w.opt(cleanup_secs, put_cleanup)
    w.opt(storage, put_storage)
    w.u8(compression)
    # Deduplication{bounds{count, age None}, filter{transform{uses, with {}}}}
    w.opt(dedup, lambda w, uses: w.u64(5).u8(0).string(uses).u16(0))
    w.boolean(system)
    return w.bytes()


def create_req(name: str, spec: bytes, *, dry_run: bool = False, timeout: Optional[int] = None,
               label: str = "Topic") -> bytes:
    payload = Writer().string(name).boolean(dry_run).opt(timeout, lambda w, t: w.u32(t)).raw(spec)
    return typed_buffer(label, payload.bytes())


def delete_req(name: str, force: bool = False, label: str = "Topic") -> bytes:
    return typed_buffer(label, Writer().string(name).boolean(force).bytes())


def list_req(label: str, filters: Sequence[str] = (), system: bool = False,
             summary: bool = False) -> bytes:
    payload = Writer().vec(list(filters), lambda w, f: w.string(f)).boolean(summary).boolean(system)
    return typed_buffer(label, payload.bytes())


def watch_req(label: str, epoch: int = 0, summary: bool = False) -> bytes:
    return typed_buffer(label, Writer().i64(epoch).boolean(summary).bytes())


def status_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    out = {"name": r.string(), "error_code": error_code(r), "error_message": r.opt(Reader.string)}
    r.end()
    return out


def _cleanup(r: Reader):
    tag = r.u8()
    if tag != 0:
        raise DecodeError(f"cleanup policy tag {tag}")
    return {"segment_secs": r.u32()}


def _storage(r: Reader):
    return {"segment_size": r.opt(Reader.u32), "max_partition_size": r.opt(Reader.u64)}


def _dedup(r: Reader):
    count = r.u64()
    age = r.opt(lambda r: [r.u64(), r.u32()])
    uses = r.string()
    with_ = {}
    for _ in range(r.u16()):
        k = r.string()
        with_[k] = r.string()
    return {"count": count, "age": age, "uses": uses, "with": with_}


def _replica_spec(r: Reader):
    tag = r.u8()
    if tag == 0:
        return {"assigned": r.vec(lambda r: {"id": r.u32(), "replicas": r.vec(Reader.i32),
                                               "mirror": r.opt(_no_mirror)})}
    if tag == 1:
        return {"computed": [r.u32(), r.u32(), r.boolean()]}
    raise DecodeError(f"replica spec tag {tag}")


def _no_mirror(r: Reader):
    raise DecodeError("mirror configs are not expected by the suite")


def _topic(r: Reader) -> dict:
    name = r.string()
    spec = {
        "replicas": _replica_spec(r),
        "cleanup_policy": r.opt(_cleanup),
        "storage": r.opt(_storage),
        "compression": r.u8(),
        "deduplication": r.opt(_dedup),
        "system": r.boolean(),
    }
    resolution = r.u8()
    replica_map = {}
    for _ in range(r.u16()):
        k = r.u32()
        replica_map[k] = r.vec(Reader.i32)
    mirror_map = r.u16()
    if mirror_map:
        raise DecodeError("mirror maps are not expected by the suite")
    status = {"resolution": resolution, "replica_map": replica_map, "reason": r.string()}
    return {"name": name, "spec": spec, "status": status}


def _replica_status(r: Reader) -> dict:
    return {"spu": r.i32(), "hw": r.i64(), "leo": r.i64()}


def _partition(r: Reader) -> dict:
    name = r.string()
    spec = {
        "leader": r.i32(),
        "replicas": r.vec(Reader.i32),
        "cleanup_policy": r.opt(_cleanup),
        "storage": r.opt(_storage),
        "compression": r.u8(),
        "deduplication": r.opt(_dedup),
        "system": r.boolean(),
        "mirror": r.opt(_no_mirror),
    }
    status = {
        "resolution": r.u8(),
        "leader": _replica_status(r),
        "lsr": r.u32(),
        "replicas": r.vec(_replica_status),
        "size": r.i64(),
        "is_being_deleted": r.boolean(),
        "base_offset": r.i64(),
    }
    return {"name": name, "spec": spec, "status": status}


def _endpoint(r: Reader) -> dict:
    return {"port": r.u16(), "host": r.string(), "encryption": r.u8()}


def _spu(r: Reader) -> dict:
    name = r.string()
    spec = {
        "id": r.i32(),
        "type": r.u8(),
        "public": {"port": r.u16(),
                   "ingress": r.vec(lambda r: [r.opt(Reader.string), r.opt(Reader.string)]),
                   "encryption": r.u8()},
        "private": _endpoint(r),
        "rack": r.opt(Reader.string),
        "public_local": r.opt(_endpoint),
    }
    return {"name": name, "spec": spec, "status": {"resolution": r.u8()}}


def _custom_spu(r: Reader) -> dict:
    """A registered SPU: the SPU spec without its type."""
    name = r.string()
    spec = {
        "id": r.i32(),
        "public": {"port": r.u16(),
                   "ingress": r.vec(lambda r: [r.opt(Reader.string), r.opt(Reader.string)]),
                   "encryption": r.u8()},
        "private": _endpoint(r),
        "rack": r.opt(Reader.string),
        "public_local": r.opt(_endpoint),
    }
    return {"name": name, "spec": spec, "status": {"resolution": r.u8()}}


def _no_objects(r: Reader):
    raise DecodeError("objects of this kind are not expected by the suite")


METADATA = {"Topic": _topic, "Partition": _partition, "SPU": _spu, "CustomSpu": _custom_spu}


def list_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    label, inner = read_typed_buffer(r)
    r.end()
    items = inner.vec(METADATA.get(label, _no_objects))
    inner.end()
    return {"label": label, "items": items}


def watch_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    label, inner = read_typed_buffer(r)
    r.end()
    dec = METADATA.get(label, _no_objects)
    out = {
        "label": label,
        "epoch": inner.i64(),
        "changes": inner.vec(lambda r: {"header": r.u8(), "content": dec(r)}),
        "all": inner.vec(dec),
    }
    inner.end()
    return out


# ------------------------------------------------------------------------------------ batches

def record(value: bytes, key: Optional[bytes] = None, ts_delta: int = 0, off_delta: int = 0) -> bytes:
    body = bytearray()
    body += b"\x00"  # attributes
    body += varint(ts_delta) + varint(off_delta)
    if key is None:
        body += b"\x00"
    else:
        body += b"\x01" + varint(len(key)) + key
    body += varint(len(value)) + value
    body += varint(0)  # headers
    return varint(len(body)) + bytes(body)


FIRST_TS = 1_700_000_000_000


def batch(values: Sequence[bytes], *, keys: Optional[Sequence[Optional[bytes]]] = None,
          base_offset: Optional[int] = None, attributes: int = 0,
          last_offset_delta: Optional[int] = None, first_ts: int = FIRST_TS,
          crc: Optional[int] = None, records_section: Optional[bytes] = None) -> bytes:
    """A batch as the official producer writes it (base_offset n-1, producer fields -1); every
    header field can be overridden to build malformed ones."""
    n = len(values)
    if records_section is None:
        recs = b"".join(record(v, (keys or [None] * n)[i], i, i) for i, v in enumerate(values))
        records_section = Writer().u32(n).bytes() + recs
    lod = n - 1 if last_offset_delta is None else last_offset_delta
    after_crc = (Writer().i16(attributes).i32(lod).i64(first_ts).i64(first_ts)
                 .i64(-1).i16(-1).i32(-1).bytes() + records_section)
    c = crc32c(after_crc) if crc is None else crc
    header = Writer().i32(-1).i8(2).u32(c).bytes()
    after_len = header + after_crc
    base = n - 1 if base_offset is None else base_offset
    return Writer().i64(base).i32(len(after_len)).bytes() + after_len


def parse_batches(data: bytes) -> List[dict]:
    """Every batch in a RecordSet's bytes; a cut-off tail is reported as {"partial": n_bytes}."""
    out = []
    r = Reader(data)
    while r.remaining():
        if r.remaining() < 12:
            out.append({"partial": r.remaining(), "bytes": r.take(r.remaining()).hex()})
            break
        start = r.pos
        base = r.i64()
        blen = r.i32()
        if blen > r.remaining() or blen < 45:
            r.pos = start
            out.append({"partial": r.remaining(), "base_offset": base, "batch_len": blen})
            r.take(r.remaining())
            break
        b = Reader(r.take(blen))
        ple, magic, crc = b.i32(), b.i8(), b.u32()
        rest = b.data[b.pos:]
        attrs = b.i16()
        h = {
            "base_offset": base, "batch_len": blen, "partition_leader_epoch": ple, "magic": magic,
            "crc_ok": crc == crc32c(rest), "attributes": attrs, "last_offset_delta": b.i32(),
            "first_timestamp": b.i64(), "max_timestamp": b.i64(), "producer_id": b.i64(),
            "producer_epoch": b.i16(), "first_sequence": b.i32(),
        }
        section = b.take(b.remaining())
        if attrs & 0x7 == 0:
            h["records"] = _records(section)
        else:
            h["records_section"] = section.hex()
        out.append(h)
    return out


def _records(section: bytes):
    r = Reader(section)
    try:
        n = r.u32()
        recs = []
        for _ in range(n):
            length = read_varint(r)
            start = r.pos
            attrs = r.i8()
            ts, off = read_varint(r), read_varint(r)
            key = r.opt(lambda r: r.take(read_varint(r)).decode(errors="replace"))
            value = r.take(read_varint(r)).decode(errors="replace")
            headers = read_varint(r)
            recs.append({"len_ok": r.pos - start == length, "attrs": attrs, "ts_delta": ts,
                         "offset_delta": off, "key": key, "value": value, "headers": headers})
        r.end()
        return recs
    except DecodeError as e:
        return {"undecodable": str(e), "hex": section.hex()}


# ------------------------------------------------------------------------------------ SPU requests

def produce_req(topics: Sequence[Tuple[str, Sequence[Tuple[int, bytes]]]], *, acks: int = 1,
                timeout_ms: int = 1500, transactional_id: Optional[str] = None,
                smartmodules: bool = True) -> bytes:
    """`topics` = [(name, [(partition, record set bytes without its length)])]."""
    w = Writer().opt_string(transactional_id).i16(acks).i32(timeout_ms)
    w.vec(list(topics), lambda w, t: w.string(t[0]).vec(
        list(t[1]), lambda w, p: w.u32(p[0]).i32(len(p[1])).raw(p[1])))
    if smartmodules:
        w.u32(0)
    return w.bytes()


def produce_resp(body: bytes, version: int) -> dict:
    r = Reader(body)

    def part(r: Reader) -> dict:
        p = {"partition_index": r.u32(), "error_code": error_code(r), "base_offset": r.i64()}
        if version >= 2:
            p["log_append_time_ms"] = r.i64()
        if version >= 5:
            p["log_start_offset"] = r.i64()
        return p

    out = {"responses": r.vec(lambda r: {"name": r.string(), "partitions": r.vec(part)})}
    if version >= 1:
        out["throttle_time_ms"] = r.i32()
    r.end()
    return out


def fetch_offsets_req(topics: Sequence[Tuple[str, Sequence[int]]], version: int = SPU_V,
                      consumer_id: Optional[str] = None) -> bytes:
    w = Writer().vec(list(topics), lambda w, t: w.string(t[0]).vec(list(t[1]), lambda w, p: w.u32(p)))
    if version == 23:
        w.opt_string(consumer_id)
    return w.bytes()


def fetch_offsets_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    out = {"topics": r.vec(lambda r: {"name": r.string(), "partitions": r.vec(lambda r: {
        "error_code": error_code(r), "partition_index": r.u32(), "start_offset": r.i64(),
        "last_stable_offset": r.i64()})})}
    r.end()
    return out


def predefined_smartmodule(name: str, version: int = SPU_V) -> bytes:
    """A SmartModuleInvocation of a module the cluster should hold: Predefined(name), kind Filter,
    no parameters, no lookback (v >= 20), no name (v >= 25)."""
    w = Writer().u8(0).string(name).u8(0).u16(0)
    if version >= 20:
        w.u8(0)
    if version >= 25:
        w.u8(0)
    return w.bytes()


def stream_fetch_req(topic: str, partition: int = 0, offset: int = 0, max_bytes: int = 1048890,
                     isolation: int = 0, consumer_id: Optional[str] = None,
                     version: int = SPU_V, smartmodules: Sequence[bytes] = ()) -> bytes:
    w = Writer().string(topic).u32(partition).i64(offset).i32(max_bytes).u8(isolation)
    if 11 <= version <= 18:
        w.u32(0)
    if 16 <= version <= 18:
        w.u8(0).u8(0)
    if version >= 18:
        w.u32(len(smartmodules))
        for sm in smartmodules:
            w.raw(sm)
    if version >= 23:
        w.opt_string(consumer_id)
    return w.bytes()


def stream_fetch_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    out = {"topic": r.string(), "stream_id": r.u32()}
    out["partition"] = _fetchable_partition(r, version)
    r.end()
    return out


def update_req(name: str, action: bytes, label: str = "Topic") -> bytes:
    """Update (SC 1006): key, then the action (tag 0 AddPartition{count})."""
    return typed_buffer(label, Writer().string(name).raw(action).bytes())


def add_partition(count: int) -> bytes:
    return Writer().u8(0).u32(count).bytes()


def update_offsets_req(updates: Sequence[Tuple[int, int]]) -> bytes:
    return Writer().vec(list(updates), lambda w, u: w.i64(u[0]).u32(u[1])).bytes()


def update_offsets_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    out = {"status": r.vec(lambda r: {"session_id": r.u32(), "error": error_code(r)})}
    r.end()
    return out


def update_consumer_offset_req(offset: int, session_id: int) -> bytes:
    return Writer().i64(offset).u32(session_id).bytes()


def update_consumer_offset_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    out = {"offset": r.i64(), "error_code": error_code(r)}
    r.end()
    return out


def delete_consumer_offset_req(topic: str, partition: int, consumer_id: str) -> bytes:
    return Writer().string(topic).u32(partition).string(consumer_id).bytes()


def delete_consumer_offset_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    out = {"error_code": error_code(r)}
    r.end()
    return out


def fetch_req(topics: Sequence[Tuple[str, Sequence[Tuple[int, int, int]]]], *, version: int = SPU_V,
              max_bytes: int = 1 << 20, isolation: int = 0) -> bytes:
    """Classic Fetch (key 1); topics = [(name, [(partition, fetch_offset, partition max_bytes)])]."""
    w = Writer().i32(0).i32(0)
    if version >= 3:
        w.i32(max_bytes)
    if version >= 4:
        w.u8(isolation)

    def part(w: Writer, p) -> None:
        w.u32(p[0])
        if version >= 9:
            w.i32(-1)
        w.i64(p[1])
        if version >= 5:
            w.i64(0)
        w.i32(p[2])

    w.vec(list(topics), lambda w, t: w.string(t[0]).vec(list(t[1]), part))
    if version >= 7:
        w.u32(0)
    return w.bytes()


def _fetchable_partition(r: Reader, version: int) -> dict:
    p = {"partition_index": r.u32(), "error_code": error_code(r), "high_watermark": r.i64()}
    if version >= 11:
        p["next_filter_offset"] = r.i64()
    p["log_start_offset"] = r.i64()
    p["aborted"] = r.opt(lambda r: r.vec(lambda r: [r.i64(), r.i64()]))
    n = r.i32()
    p["record_set_len"] = n
    p["batches"] = parse_batches(r.take(max(n, 0)))
    return p


def fetch_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    out = {"throttle_time_ms": r.i32(), "error_code": error_code(r), "session_id": r.i32(),
           "topics": r.vec(lambda r: {"name": r.string(), "partitions": r.vec(
               lambda r: _fetchable_partition(r, version))})}
    r.end()
    return out


def fetch_consumer_offsets_req(version: int = SPU_V, filter_opts=None) -> bytes:
    """filter_opts: None, or ((topic, partition) | None, consumer_id | None)."""
    w = Writer()
    if version >= 24:
        w.opt(filter_opts, lambda w, f: w.opt(f[0], lambda w, k: w.string(k[0]).u32(k[1]))
              .opt_string(f[1]))
    return w.bytes()


def fetch_consumer_offsets_resp(body: bytes, version: int) -> dict:
    r = Reader(body)
    out = {"error_code": error_code(r), "consumers": r.vec(lambda r: {
        "consumer_id": r.string(), "replica": [r.string(), r.u32()], "offset": r.i64(),
        "modified_time": r.u64()})}
    r.end()
    return out
