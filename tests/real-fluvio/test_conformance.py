"""Differential conformance: the same raw requests — well-formed, edge-case and malformed — go to
the real Fluvio engine (SC + one SPU of upstream `fluvio-run`) and to the embedded broker
(`headwater broker --spus 1`), and the decoded answers are compared field by field.

Each case is one test item. It runs against both servers and records a transcript: every response
decoded into plain values, or "closed" (connection dropped without an answer) or "silence" (nothing
within the wait). Values that legitimately differ between two servers are masked before comparing:
listener ports, store epochs, wall-clock modification times. The real engine is the reference:
where the embedded broker differs, the broker is fixed; the few differences that are deliberate are
listed in EXPECTED_DIFFERENCES with the reason, and their test checks that the difference is exactly
the one described (so it fails if either side changes).

Both servers are started once for the module; every case uses topics named after itself, so cases
do not see each other's data.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable, Dict, List

import pytest

from conformance import messages as m
from conformance.probe import SILENCE_WAIT, Probe
from conformance.targets import our_side, real_side
from conformance.wire import Writer

CASES: List[Callable[[Probe], None]] = []


def case(fn: Callable[[Probe], None]) -> Callable[[Probe], None]:
    CASES.append(fn)
    return fn


@dataclass
class Sides:
    real: object
    ours: object


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    with real_side(tmp_path_factory.mktemp("conformance-real")) as real, our_side() as ours:
        yield Sides(real, ours)


# ---------------------------------------------------------------------------------------- masks

def mask_spu_items(items: list) -> list:
    for s in items:
        s["spec"]["public"]["port"] = "<port>"
        s["spec"]["private"]["port"] = "<port>"
        if s["spec"]["public_local"]:
            s["spec"]["public_local"]["port"] = "<port>"
    return items


def only(prefix: str) -> Callable[[dict], dict]:
    """Keeps the listed objects of this case (the real cluster is shared by every case)."""
    def keep(resp: dict) -> dict:
        if "items" in resp and isinstance(resp["items"], list):
            # Listing order is the store's (hash) order on the real SC: compare sorted by name.
            resp["items"] = sorted((i for i in resp["items"] if i["name"].startswith(prefix)),
                                   key=lambda i: i["name"])
        return resp
    return keep


def mask_modified_time(resp: dict) -> dict:
    now = time.time()
    for c in resp.get("consumers", []):
        assert abs(c["modified_time"] - now) < 600, f"modified_time not in seconds: {c}"
        c["modified_time"] = "<now, seconds>"
    return resp


# ---------------------------------------------------------------------------------------- ApiVersions

def _api_versions(p: Probe, conn, version: int, label: str, **kw) -> None:
    p.call(conn, m.API_VERSIONS, version, m.api_versions_req(version, **kw), m.api_versions_resp,
           label)


@case
def sc_api_versions(p: Probe) -> None:
    c = p.sc()
    p.call(c, m.API_VERSIONS, 2, m.api_versions_req(), m.api_versions_resp, "v2",
           mask=mask_sc_platform)


def mask_sc_platform(resp):
    # The SC reports the engine's own version (the real one is a development build, 0.18.2-dev-1);
    # what clients rely on is that it parses as semver and is >= 0.9.0.
    if isinstance(resp, dict) and "platform_version" in resp:
        major, minor = (int(x) for x in resp["platform_version"].split("-")[0].split(".")[:2])
        assert (major, minor) >= (0, 9), resp
        resp["platform_version"] = "<semver >= 0.9.0>"
    return resp


@case
def sc_api_versions_v0(p: Probe) -> None:
    """Version 0 has no client_version; the SC cannot parse "" as semver and drops the connection."""
    _api_versions(p, p.sc(), 0, "v0")


@case
def sc_api_versions_v1(p: Probe) -> None:
    p.call(p.sc(), m.API_VERSIONS, 1, m.api_versions_req(1), m.api_versions_resp, "v1",
           mask=mask_sc_platform)


@case
def sc_api_versions_bad_client_version(p: Probe) -> None:
    for i, cv in enumerate(["not-a-version", "", "1.2", "v1.2.3"]):
        _api_versions(p, p.sc(), 2, f"client_version={cv!r}", client_version=cv)


@case
def sc_api_versions_prerelease_client_version(p: Probe) -> None:
    p.call(p.sc(), m.API_VERSIONS, 2, m.api_versions_req(client_version="1.0.0-alpha.1+build.5"),
           m.api_versions_resp, "prerelease", mask=mask_sc_platform)


@case
def sc_api_versions_truncated_body(p: Probe) -> None:
    body = m.api_versions_req()[:-3]
    p.call(p.sc(), m.API_VERSIONS, 2, body, m.api_versions_resp, "truncated")


@case
def spu_api_versions(p: Probe) -> None:
    _api_versions(p, p.spu(), 2, "v2")


@case
def spu_api_versions_v0(p: Probe) -> None:
    """Version 0 (clients <= 0.9.12): no client_version, so StreamFetch is capped at 15."""
    _api_versions(p, p.spu(), 0, "v0")


@case
def spu_api_versions_bad_client_version(p: Probe) -> None:
    for cv in ["not-a-version", ""]:
        _api_versions(p, p.spu(), 2, f"client_version={cv!r}", client_version=cv)


@case
def spu_api_versions_truncated_body(p: Probe) -> None:
    p.call(p.spu(), m.API_VERSIONS, 2, m.api_versions_req()[:-3], m.api_versions_resp,
           "truncated")


# ---------------------------------------------------------------------------------------- framing

@case
def sc_unknown_api_key(p: Probe) -> None:
    c = p.sc()
    p.call(c, 9999, 0, b"", m.api_versions_resp, "key 9999")


@case
def spu_unknown_api_key(p: Probe) -> None:
    p.call(p.spu(), 9999, 0, b"", m.api_versions_resp, "key 9999")


@case
def sc_spu_only_key(p: Probe) -> None:
    """Produce (0) means nothing to the SC."""
    p.call(p.sc(), m.PRODUCE, m.SPU_V, m.produce_req([]), m.produce_resp, "produce on the SC")


@case
def spu_sc_only_key(p: Probe) -> None:
    """Watch (1004) means nothing to the SPU."""
    p.call(p.spu(), m.WATCH, m.SC_V, m.watch_req("Topic"), m.watch_resp, "watch on the SPU")


@case
def sc_truncated_frame(p: Probe) -> None:
    """A frame that announces more bytes than arrive before the client half-closes."""
    c = p.sc()
    frame = b"\x00\x00\x00\x64" + Writer().u16(18).i16(2).i32(1).string("x").bytes()
    c.send_raw(frame)
    c.shutdown_write()
    p.read(c, m.api_versions_resp, 2, "truncated then EOF", 1)


@case
def spu_truncated_frame(p: Probe) -> None:
    c = p.spu()
    c.send_raw(b"\x00\x00\x00\x64" + Writer().u16(18).i16(2).i32(1).string("x").bytes())
    c.shutdown_write()
    p.read(c, m.api_versions_resp, 2, "truncated then EOF", 1)


@case
def sc_frame_shorter_than_header(p: Probe) -> None:
    c = p.sc()
    c.send_raw(b"\x00\x00\x00\x03\x00\x12\x00")
    p.read(c, m.api_versions_resp, 2, "3-byte frame", 1)


@case
def spu_empty_frame(p: Probe) -> None:
    c = p.spu()
    c.send_raw(b"\x00\x00\x00\x00")
    p.read(c, m.api_versions_resp, 2, "0-byte frame", 1)


@case
def sc_pipelined_requests(p: Probe) -> None:
    """Two requests in one write are answered in order, each with its correlation id."""
    c = p.sc()
    from conformance.wire import request_frame
    c.send_raw(request_frame(18, 2, 11, m.api_versions_req())
               + request_frame(m.LIST, m.SC_V, 12, m.list_req("Topic", system=True)))
    p.read(c, m.api_versions_resp, 2, "first", 11, mask=mask_sc_platform)
    p.read(c, m.list_resp, m.SC_V, "second", 12)


@case
def sc_trailing_bytes_after_body(p: Probe) -> None:
    c = p.sc()
    p.call(c, m.API_VERSIONS, 2, m.api_versions_req() + b"\x01\x02\x03", m.api_versions_resp,
           "trailing bytes", mask=mask_sc_platform)


@case
def sc_client_id_variants(p: Probe) -> None:
    for cid in ["", "fluvio", "x" * 300]:
        p.call(p.sc(), m.API_VERSIONS, 2, m.api_versions_req(), m.api_versions_resp,
               f"client_id len {len(cid)}", mask=mask_sc_platform, client_id=cid)


# ---------------------------------------------------------------------------------------- topics

def _create(p: Probe, conn, name: str, spec: bytes, label: str, **kw):
    return p.call(conn, m.CREATE, m.SC_V, m.create_req(name, spec, **kw), m.status_resp, label)


def _list_topics(p: Probe, conn, label: str, filters=(), system=False):
    return p.call(conn, m.LIST, m.SC_V, m.list_req("Topic", filters, system), m.list_resp, label,
                  mask=only(p.prefix))


def _list_partitions(p: Probe, conn, label: str, filters=(), system=False):
    return p.call(conn, m.LIST, m.SC_V, m.list_req("Partition", filters, system), m.list_resp,
                  label, mask=only(p.prefix))


@case
def topic_create_list_delete(p: Probe) -> None:
    c = p.sc()
    _create(p, c, p.topic(), m.topic_spec(2), "create 2 partitions")
    _list_topics(p, c, "list topics")
    _list_partitions(p, c, "list partitions")
    p.call(c, m.DELETE, m.SC_V, m.delete_req(p.topic()), m.status_resp, "delete")
    _list_topics(p, c, "list after delete")


@case
def topic_create_duplicate(p: Probe) -> None:
    c = p.sc()
    _create(p, c, p.topic(), m.topic_spec(1), "first")
    _create(p, c, p.topic(), m.topic_spec(3), "again")
    _create(p, c, p.topic(), m.topic_spec(3), "again, dry run", dry_run=True)


@case
def topic_create_invalid_names(p: Probe) -> None:
    c = p.sc()
    for name in ["Bad_Name", "-lead", "trail-", "has space", "dots.in.name", "ümlaut",
                 "a" * 64, p.topic("x" * 40)[:64]]:
        _create(p, c, name, m.topic_spec(1), f"name {name!r}", dry_run=True)


@case
def topic_create_longest_name(p: Probe) -> None:
    c = p.sc()
    name = (p.topic() + "x" * 63)[:63]
    _create(p, c, name, m.topic_spec(1), "63 characters")
    _list_topics(p, c, "listed")


@case
def topic_create_empty_name_dry_run(p: Probe) -> None:
    _create(p, p.sc(), "", m.topic_spec(1), "empty name", dry_run=True)


@case
def topic_create_zero_partitions(p: Probe) -> None:
    c = p.sc()
    _create(p, c, p.topic(), m.topic_spec(0), "0 partitions")
    _create(p, c, p.topic("-dry"), m.topic_spec(0), "0 partitions, dry run", dry_run=True)
    _list_topics(p, c, "nothing created")


@case
def topic_create_zero_replication(p: Probe) -> None:
    c = p.sc()
    _create(p, c, p.topic(), m.topic_spec(1, 0), "replication 0")
    _list_topics(p, c, "nothing created")


@case
def topic_create_replication_exceeds_spus(p: Probe) -> None:
    c = p.sc()
    _create(p, c, p.topic("-dry"), m.topic_spec(1, 2), "replication 2, dry run", dry_run=True)
    _create(p, c, p.topic(), m.topic_spec(1, 2), "replication 2 on 1 SPU")
    _list_topics(p, c, "after")
    _list_partitions(p, c, "partitions after")
    p.call(c, m.DELETE, m.SC_V, m.delete_req(p.topic()), m.status_resp, "delete")


@case
def topic_create_dry_run(p: Probe) -> None:
    c = p.sc()
    _create(p, c, p.topic(), m.topic_spec(2), "dry run", dry_run=True)
    _list_topics(p, c, "nothing created")


@case
def topic_create_with_timeout_field(p: Probe) -> None:
    c = p.sc()
    _create(p, c, p.topic(), m.topic_spec(1), "timeout Some(5000)", timeout=5000)
    _list_topics(p, c, "created")


@case
def topic_create_assigned(p: Probe) -> None:
    c = p.sc()
    _create(p, c, p.topic(), m.topic_spec(assigned=[(0, [5001])]), "assigned to 5001")
    _create(p, c, p.topic("-bad"), m.topic_spec(assigned=[(0, [9999])]), "assigned to 9999")
    _list_topics(p, c, "after")
    _list_partitions(p, c, "partitions")


@case
def topic_create_config_limits(p: Probe) -> None:
    c = p.sc()
    _create(p, c, p.topic("-ret"), m.topic_spec(1, cleanup_secs=1), "retention 1 s")
    _create(p, c, p.topic("-seg"), m.topic_spec(1, storage=(100, None)), "segment 100 bytes")
    _create(p, c, p.topic("-max"), m.topic_spec(1, storage=(None, 100)), "max partition 100 bytes")
    _create(p, c, p.topic("-lt"), m.topic_spec(1, storage=(2000000, 1500000)),
            "max partition < segment")
    _create(p, c, p.topic("-ok"), m.topic_spec(1, cleanup_secs=3600, storage=(2000000, 4000000)),
            "valid limits")
    _list_topics(p, c, "after")


@case
def topic_create_compression(p: Probe) -> None:
    c = p.sc()
    for code in [0, 1, 2, 3, 4, 5]:
        _create(p, c, p.topic(f"-{code}"), m.topic_spec(1, compression=code), f"compression {code}")
    _list_topics(p, c, "after")
    _list_partitions(p, c, "partitions")


@case
def topic_create_dedup_without_smartmodule(p: Probe) -> None:
    c = p.sc()
    _create(p, c, p.topic(), m.topic_spec(1, dedup="fluvio/dedup-filter@0.0.1"), "dedup")
    _list_topics(p, c, "nothing created")


@case
def topic_create_unknown_label(p: Probe) -> None:
    c = p.sc()
    p.call(c, m.CREATE, m.SC_V, m.create_req(p.topic(), m.topic_spec(1), label="Bogus"),
           m.status_resp, "label Bogus")


@case
def topic_delete_missing(p: Probe) -> None:
    p.call(p.sc(), m.DELETE, m.SC_V, m.delete_req(p.topic()), m.status_resp, "delete missing")


@case
def topic_delete_system_topic(p: Probe) -> None:
    p.call(p.sc(), m.DELETE, m.SC_V, m.delete_req("consumer-offset"), m.status_resp,
           "delete consumer-offset without force")


@case
def topic_list_filters(p: Probe) -> None:
    c = p.sc()
    p.create_topic(p.topic("-alpha"))
    p.create_topic(p.topic("-beta"), 2)
    _list_topics(p, c, "filter alpha", filters=[p.topic("-alp")])
    _list_topics(p, c, "filter two", filters=[p.topic("-alpha"), p.topic("-beta")])
    _list_topics(p, c, "filter none match", filters=["zzz-no-such"])
    _list_partitions(p, c, "partitions ignore filters", filters=[p.topic("-alpha")])


@case
def topic_list_system(p: Probe) -> None:
    c = p.sc()
    p.call(c, m.LIST, m.SC_V, m.list_req("Topic", system=True), m.list_resp, "system topics")
    p.call(c, m.LIST, m.SC_V, m.list_req("Partition", system=True), m.list_resp,
           "system partitions")


@case
def spu_list(p: Probe) -> None:
    p.call(p.sc(), m.LIST, m.SC_V, m.list_req("SPU"), m.list_resp, "SPUs",
           mask=lambda r: {**r, "items": mask_spu_items(r["items"])})


@case
def list_unknown_label(p: Probe) -> None:
    p.call(p.sc(), m.LIST, m.SC_V, m.list_req("Bogus"), m.list_resp, "label Bogus")


@case
def watch_topic_first_response(p: Probe) -> None:
    p.create_topic(p.topic(), 2)
    c = p.sc()

    def mask(r):
        if isinstance(r, dict) and "all" in r:
            r["epoch"] = "<epoch>"
            r["all"] = sorted((i for i in r["all"] if i["name"].startswith(p.prefix)),
                              key=lambda i: i["name"])
        return r

    p.call(c, m.WATCH, m.SC_V, m.watch_req("Topic"), m.watch_resp, "watch Topic", mask=mask)
    p.call(c, m.WATCH, m.SC_V, m.watch_req("Partition"), m.watch_resp, "watch Partition",
           mask=mask)


# ---------------------------------------------------------------------------------------- produce

def _produce(p: Probe, conn, topics, label: str, version: int = m.SPU_V, **kw):
    return p.call(conn, m.PRODUCE, version, m.produce_req(topics, **kw), m.produce_resp, label)


def _read_all(p: Probe, topic: str, label: str, partition: int = 0, offset: int = 0):
    """Reads what the partition holds now (one StreamFetch response)."""
    c = p.spu()
    p.call(c, m.STREAM_FETCH, m.SPU_V, m.stream_fetch_req(topic, partition, offset),
           m.stream_fetch_resp, label)


@case
def produce_basic(p: Probe) -> None:
    p.create_topic(p.topic(), 2)
    c = p.spu()
    _produce(p, c, [(p.topic(), [(0, m.batch([b"a", b"b", b"c"]))])], "3 records")
    _produce(p, c, [(p.topic(), [(0, m.batch([b"d"], keys=[b"k"])),
                                 (1, m.batch([b"e"])), (0, m.batch([b"f", b"g"]))])],
             "three entries, two partitions")
    _read_all(p, p.topic(), "read back partition 0")
    _read_all(p, p.topic(), "read back partition 1", partition=1)


@case
def produce_versions(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.spu()
    for v in [25, 24, 8, 7, 1, 0]:
        _produce(p, c, [(p.topic(), [(0, m.batch([b"v%d" % v]))])], f"v{v}", version=v,
                 smartmodules=True)


@case
def produce_v7_without_smartmodules(p: Probe) -> None:
    """Below v8 the 0.17.3 client omits the smart-module vector; the current engine always reads it."""
    p.create_topic(p.topic())
    _produce(p, p.spu(), [(p.topic(), [(0, m.batch([b"x"]))])], "v7 no smartmodules", version=7,
             smartmodules=False)


@case
def produce_unknown_topic_and_partition(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.spu()
    _produce(p, c, [(p.topic("-missing"), [(0, m.batch([b"x"]))])], "unknown topic")
    _produce(p, c, [(p.topic(), [(5, m.batch([b"x"]))])], "unknown partition")
    _produce(p, c, [(p.topic(), [(5, m.batch([b"x"])), (0, m.batch([b"y"]))]),
                    (p.topic("-missing"), [(0, m.batch([b"z"]))])], "mixed")


@case
def produce_acks_variants(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.spu()
    for acks in [1, -1, 0, 7, -5]:
        _produce(p, c, [(p.topic(), [(0, m.batch([b"a%d" % acks]))])], f"acks {acks}", acks=acks)


@case
def produce_timeout_variants(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.spu()
    _produce(p, c, [(p.topic(), [(0, m.batch([b"t"]))])], "timeout 0, acks -1", acks=-1,
             timeout_ms=0)
    _produce(p, c, [(p.topic(), [(0, m.batch([b"t"]))])], "negative timeout", timeout_ms=-1)


@case
def produce_transactional_id(p: Probe) -> None:
    p.create_topic(p.topic())
    _produce(p, p.spu(), [(p.topic(), [(0, m.batch([b"t"]))])], "transactional id",
             transactional_id="tx-1")


@case
def produce_empty_requests(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.spu()
    _produce(p, c, [], "no topics")
    _produce(p, c, [(p.topic(), [])], "topic with no partitions")
    _produce(p, c, [(p.topic("-missing"), [])], "unknown topic with no partitions")
    _produce(p, c, [(p.topic(), [(0, b"")])], "empty record set")


EMPTY_BATCH = m.batch([], last_offset_delta=-1, records_section=Writer().u32(0).bytes())


@case
def produce_empty_batch(p: Probe) -> None:
    """A partition entry whose batches hold no records is a success that writes nothing."""
    p.create_topic(p.topic())
    c = p.spu()
    _produce(p, c, [(p.topic(), [(0, EMPTY_BATCH)])], "one empty batch")
    _produce(p, c, [(p.topic(), [(0, EMPTY_BATCH + EMPTY_BATCH)])], "two empty batches")
    _produce(p, c, [(p.topic(), [(0, m.batch([b"after"]))])], "then a record")
    _read_all(p, p.topic(), "stored")


@case
def produce_empty_batch_among_others(p: Probe) -> None:
    for suffix, batches, order in [("-a", m.batch([b"a"]) + EMPTY_BATCH, "non-empty then empty"),
                                   ("-b", EMPTY_BATCH + m.batch([b"b"]), "empty then non-empty")]:
        p.create_topic(p.topic(suffix))
        c = p.spu()
        _produce(p, c, [(p.topic(suffix), [(0, batches)])], order)
        _produce(p, c, [(p.topic(suffix), [(0, m.batch([b"next"]))])], f"next write after {order}")


@case
def produce_bad_crc(p: Probe) -> None:
    p.create_topic(p.topic())
    _produce(p, p.spu(), [(p.topic(), [(0, m.batch([b"crc"], crc=0xDEADBEEF))])], "wrong CRC")
    _read_all(p, p.topic(), "stored with")


@case
def produce_wrong_last_offset_delta(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.spu()
    _produce(p, c, [(p.topic(), [(0, m.batch([b"a", b"b"], last_offset_delta=4))])],
             "2 records claiming 5")
    _produce(p, c, [(p.topic(), [(0, m.batch([b"c", b"d"], last_offset_delta=0))])],
             "2 records claiming 1")
    _read_all(p, p.topic(), "stored")


@case
def produce_truncated_batch(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.spu()
    whole = m.batch([b"hello"])
    _produce(p, c, [(p.topic(), [(0, whole[:30])])], "record set cut inside the header")
    c = p.spu()
    _produce(p, c, [(p.topic(), [(0, whole + whole[:-4])])], "second batch cut short")
    _read_all(p, p.topic(), "stored")


@case
def produce_batch_len_beyond_record_set(p: Probe) -> None:
    p.create_topic(p.topic())
    whole = bytearray(m.batch([b"hello"]))
    whole[8:12] = (len(whole) + 50).to_bytes(4, "big")
    _produce(p, p.spu(), [(p.topic(), [(0, bytes(whole))])], "batch_len too large")
    _read_all(p, p.topic(), "stored")


@case
def produce_record_set_length_beyond_frame(p: Probe) -> None:
    p.create_topic(p.topic())
    body = (Writer().u8(0).i16(1).i32(1500).u32(1).string(p.topic()).u32(1).u32(0).i32(500)
            .raw(m.batch([b"x"])).u32(0).bytes())
    p.call(p.spu(), m.PRODUCE, m.SPU_V, body, m.produce_resp, "record set length past the end")


@case
def produce_compression_codes(p: Probe) -> None:
    p.create_topic(p.topic())
    p.create_topic(p.topic("-gzip"), compression=1)
    c = p.spu()
    for codec in [1, 5, 7]:
        _produce(p, c, [(p.topic(), [(0, m.batch([b"c"], attributes=codec))])],
                 f"codec {codec} on an Any topic")
    _produce(p, c, [(p.topic("-gzip"), [(0, m.batch([b"c"]))])], "uncompressed on a gzip topic")


@case
def produce_smartmodule_invocation(p: Probe) -> None:
    p.create_topic(p.topic())
    sm = (Writer().u8(0).string("no-such-module").u8(0)  # Predefined(name), kind Filter
          .u16(0).u8(0)  # params: {}, lookback None (v >= 20)
          .u8(0).bytes())  # name None (v >= 25)
    body = (Writer().u8(0).i16(1).i32(1500).u32(1).string(p.topic()).u32(1).u32(0)
            .i32(len(m.batch([b"x"]))).raw(m.batch([b"x"])).u32(1).raw(sm).bytes())
    p.call(p.spu(), m.PRODUCE, m.SPU_V, body, m.produce_resp, "one predefined filter")


# ---------------------------------------------------------------------------------------- offsets

@case
def fetch_offsets(p: Probe) -> None:
    p.create_topic(p.topic(), 2)
    p.produce(p.topic(), [m.batch([b"a", b"b"]), m.batch([b"c"])])
    c = p.spu()
    for v in [25, 24, 23, 0]:
        p.call(c, m.FETCH_OFFSETS, v, m.fetch_offsets_req([(p.topic(), [0, 1])], v),
               m.fetch_offsets_resp, f"v{v}")
    p.call(c, m.FETCH_OFFSETS, 23,
           m.fetch_offsets_req([(p.topic(), [0])], 23, consumer_id="grp"),
           m.fetch_offsets_resp, "v23 with consumer id")


@case
def fetch_offsets_unknown(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.spu()
    p.call(c, m.FETCH_OFFSETS, 25,
           m.fetch_offsets_req([(p.topic(), [0, 3]), (p.topic("-missing"), [0])]),
           m.fetch_offsets_resp, "unknown partition and topic")
    p.call(c, m.FETCH_OFFSETS, 25, m.fetch_offsets_req([]), m.fetch_offsets_resp, "no topics")
    p.call(c, m.FETCH_OFFSETS, 25, m.fetch_offsets_req([(p.topic(), [])]),
           m.fetch_offsets_resp, "topic without partitions")


# ---------------------------------------------------------------------------------------- stream fetch

def _fetch(p: Probe, conn, label: str, topic=None, version: int = m.SPU_V, **kw) -> int:
    corr = p.next_corr()
    conn.send(m.STREAM_FETCH, version, corr, m.stream_fetch_req(topic or p.topic(), version=version,
                                                                **kw))
    p.read(conn, m.stream_fetch_resp, version, label, corr)
    return corr


def _update(p: Probe, conn, updates, label: str):
    return p.call(conn, m.UPDATE_OFFSETS, 0, m.update_offsets_req(updates),
                  m.update_offsets_resp, label)


@case
def stream_fetch_flow_control(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a", b"b"]), m.batch([b"c"])])
    c = p.spu()
    corr = _fetch(p, c, "from 0")
    _update(p, c, [(3, 1)], "ack to the end")
    p.expect_silence(c, "nothing more")
    p.produce(p.topic(), [m.batch([b"d"])])
    p.read(c, m.stream_fetch_resp, m.SPU_V, "pushed after produce", corr)
    p.produce(p.topic(), [m.batch([b"e"])])
    p.expect_silence(c, "not pushed before the ack")
    p.ack_and_read(c, [(4, 1)], "ack the push", corr, "pushed after the ack")


@case
def stream_fetch_from_middle_of_batch(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a", b"b", b"c"]), m.batch([b"d", b"e"])])
    _fetch(p, p.spu(), "offset 1", offset=1)
    _fetch(p, p.spu(), "offset 4", offset=4)


@case
def stream_fetch_at_and_beyond_end(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a", b"b"])])
    c = p.spu()
    corr = p.next_corr()
    c.send(m.STREAM_FETCH, m.SPU_V, corr, m.stream_fetch_req(p.topic(), 0, 2))
    p.expect_silence(c, "at the end: nothing")
    p.produce(p.topic(), [m.batch([b"c"])])
    p.read(c, m.stream_fetch_resp, m.SPU_V, "then the new batch", corr)
    _fetch(p, p.spu(), "beyond the end", offset=10)
    _fetch(p, p.spu(), "negative offset", offset=-1)


@case
def stream_fetch_empty_partition(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.spu()
    corr = p.next_corr()
    c.send(m.STREAM_FETCH, m.SPU_V, corr, m.stream_fetch_req(p.topic(), 0, 0))
    p.expect_silence(c, "empty: nothing")
    p.produce(p.topic(), [m.batch([b"first"])])
    p.read(c, m.stream_fetch_resp, m.SPU_V, "first batch pushed", corr)


@case
def stream_fetch_unknown(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.spu()
    _fetch(p, c, "unknown partition", partition=4)
    _fetch(p, c, "unknown topic", topic=p.topic("-missing"))
    p.produce(p.topic(), [m.batch([b"a"])])
    _fetch(p, c, "then a real stream gets id 1")


@case
def stream_fetch_stream_ids(p: Probe) -> None:
    p.create_topic(p.topic(), 2)
    p.produce(p.topic(), [m.batch([b"a"])], partition=0)
    p.produce(p.topic(), [m.batch([b"b"])], partition=1)
    c = p.spu()
    _fetch(p, c, "first stream", partition=0)
    _fetch(p, c, "second stream", partition=1)
    _update(p, c, [(1, 1), (1, 2), (0, 9)], "ack both and an unknown session")
    _fetch(p, p.spu(), "new connection restarts at 1", partition=1)


@case
def stream_fetch_max_bytes_cuts_next_batch(p: Probe) -> None:
    p.create_topic(p.topic())
    b1, b2, b3 = m.batch([b"one"]), m.batch([b"two-two"]), m.batch([b"three"])
    p.produce(p.topic(), [b1, b2, b3])
    c = p.spu()
    corr = _fetch(p, c, "max_bytes = first batch + 10", max_bytes=len(b1) + 10)
    p.ack_and_read(c, [(1, 1)], "ack after the first batch", corr, "next chunk")


@case
def stream_fetch_max_bytes_below_first_batch(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a-fairly-long-value" * 3]), m.batch([b"b"])])
    c = p.spu()
    corr = _fetch(p, c, "max_bytes 20", max_bytes=20)
    p.ack_and_read(c, [(0, 1)], "ack offset 0", corr, "same piece again")
    # The real SPU answers the ack with the same partial piece again, or with nothing, depending on
    # the order its internal events race in (both seen on one machine); the embedded broker resends.
    # Either keeps a consumer where it was, so the transcript records "the first piece or nothing".
    label, again = p.transcript[-1]
    first = p.transcript[0][1]
    p.transcript[-1] = (label, "the first piece or nothing" if again in (first, "silence") else again)


@case
def stream_fetch_max_bytes_zero_and_negative(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a"]), m.batch([b"b"])])
    c = p.spu()
    corr = p.next_corr()
    c.send(m.STREAM_FETCH, m.SPU_V, corr, m.stream_fetch_req(p.topic(), 0, 0, max_bytes=0))
    p.expect_silence(c, "max_bytes 0: nothing")
    _fetch(p, p.spu(), "max_bytes -1: no limit", max_bytes=-1)


@case
def stream_fetch_read_committed(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a"])])
    _fetch(p, p.spu(), "isolation 1", isolation=1)


@case
def stream_fetch_versions(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a"])])
    for v in [25, 24, 23, 18, 17, 11, 10]:
        _fetch(p, p.spu(), f"v{v}", version=v)


@case
def stream_fetch_topic_deleted(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a"])])
    c = p.spu()
    corr = _fetch(p, c, "from 0")
    _update(p, c, [(1, 1)], "ack")
    p.delete_topic(p.topic())
    p.read(c, m.stream_fetch_resp, m.SPU_V, "after delete", corr)


@case
def update_offsets_unknown_sessions(p: Probe) -> None:
    c = p.spu()
    _update(p, c, [(5, 1), (0, 0), (-1, 77)], "no streams on this connection")
    _update(p, c, [], "empty")


@case
def stream_fetch_smartmodule_not_found(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a"])])
    c = p.spu()
    _fetch(p, c, "predefined module that is not there",
           smartmodules=[m.predefined_smartmodule("no-such-module")])
    _fetch(p, c, "the next stream gets id 2")


@case
def stream_fetch_bad_isolation(p: Probe) -> None:
    p.create_topic(p.topic())
    _fetch(p, p.spu(), "isolation 2", isolation=2)


@case
def stream_fetch_reads_one_segment(p: Probe) -> None:
    """A read stops at the end of the segment that holds its start."""
    p.create_topic(p.topic(), storage=(1024, None))
    for i in range(5):
        p.produce(p.topic(), [m.batch([bytes([97 + i]) * 250])])
    c = p.spu()
    corr = _fetch(p, c, "from 0")
    p.ack_and_read(c, [(3, 1)], "ack the first segment", corr, "the second segment")
    _fetch(p, p.spu(), "from the middle of the second segment", offset=4)


@case
def produce_batch_larger_than_segment(p: Probe) -> None:
    p.create_topic(p.topic(), storage=(1024, None))
    _produce(p, p.spu(), [(p.topic(), [(0, m.batch([b"x" * 1500]))])], "1.5 KB batch, 1 KB segments")


def _classic_fetch(p: Probe, conn, topics, label: str, version: int = m.SPU_V, **kw):
    return p.call(conn, m.FETCH, version, m.fetch_req(topics, version=version, **kw), m.fetch_resp,
                  label)


@case
def classic_fetch(p: Probe) -> None:
    p.create_topic(p.topic(), 2)
    p.produce(p.topic(), [m.batch([b"a", b"b"]), m.batch([b"c"])])
    c = p.spu()
    _classic_fetch(p, c, [(p.topic(), [(0, 0, 1 << 20), (1, 0, 1 << 20)])], "both partitions")
    _classic_fetch(p, c, [(p.topic(), [(0, 1, 1 << 20)])], "from the middle of a batch")
    _classic_fetch(p, c, [(p.topic(), [(0, 3, 1 << 20)])], "at the end")
    _classic_fetch(p, c, [(p.topic(), [(0, 9, 1 << 20)])], "beyond the end")
    _classic_fetch(p, c, [(p.topic(), [(0, 0, 1 << 20)])], "request max_bytes 80", max_bytes=80)
    _classic_fetch(p, c, [(p.topic(), [(7, 0, 100)]), (p.topic("-missing"), [(0, 0, 100)])],
                   "unknown partition and topic")
    for v in [10, 4, 0]:
        _classic_fetch(p, c, [(p.topic(), [(0, 0, 1 << 20)])], f"v{v}", version=v)


@case
def topic_update(p: Probe) -> None:
    p.create_topic(p.topic())
    c = p.sc()
    p.call(c, m.UPDATE, m.SC_V, m.update_req(p.topic("-missing"), m.add_partition(1)),
           m.status_resp, "add partition to a missing topic")
    p.call(c, m.UPDATE, m.SC_V, m.update_req("consumer-offset", m.add_partition(1)),
           m.status_resp, "add partition to the system topic")
    p.call(c, m.UPDATE, m.SC_V, m.update_req(p.topic(), m.add_partition(1), label="Bogus"),
           m.status_resp, "label Bogus")


@case
def topic_delete_unknown_label(p: Probe) -> None:
    p.call(p.sc(), m.DELETE, m.SC_V, m.delete_req(p.topic(), label="Bogus"), m.status_resp,
           "label Bogus")


@case
def list_other_kinds(p: Probe) -> None:
    for label in ["SpuGroup", "SmartModule", "TableFormat", "Mirror"]:
        p.call(p.sc(), m.LIST, m.SC_V, m.list_req(label), m.list_resp, label)
    p.call(p.sc(), m.LIST, m.SC_V, m.list_req("CustomSpu"), m.list_resp, "CustomSpu",
           mask=lambda r: {**r, "items": mask_spu_items(r["items"])})


@case
def watch_other_kinds(p: Probe) -> None:
    def mask(r):
        if isinstance(r, dict) and "epoch" in r:
            r["epoch"] = "<epoch>"
        return r

    for label in ["SpuGroup", "SmartModule", "TableFormat", "Mirror", "CustomSpu", "Bogus"]:
        c = p.sc()
        p.call(c, m.WATCH, m.SC_V, m.watch_req(label), m.watch_resp, label, mask=mask,
               wait=SILENCE_WAIT * 3)
        if label in ("SpuGroup", "SmartModule", "TableFormat"):
            p.expect_silence(c, f"{label}: nothing more")


# ---------------------------------------------------------------------------------------- consumer offsets

def _consumers(p: Probe, conn, label: str, version: int = m.SPU_V, filter_opts=None):
    return p.call(conn, m.FETCH_CONSUMER_OFFSETS, version,
                  m.fetch_consumer_offsets_req(version, filter_opts),
                  m.fetch_consumer_offsets_resp, label, mask=mask_modified_time)


@case
def consumer_offsets_round_trip(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a", b"b"]), m.batch([b"c"])])
    c = p.spu()
    replica = (p.topic(), 0)
    _consumers(p, c, "none yet", filter_opts=(replica, None))
    _fetch(p, c, "stream with consumer id", consumer_id="grp-1")
    p.call(c, m.UPDATE_CONSUMER_OFFSET, m.SPU_V, m.update_consumer_offset_req(2, 1),
           m.update_consumer_offset_resp, "commit offset 2")
    _consumers(p, c, "by replica", filter_opts=(replica, None))
    _consumers(p, c, "by replica and consumer", filter_opts=(replica, "grp-1"))
    _consumers(p, c, "other consumer", filter_opts=(replica, "grp-2"))
    p.call(c, m.UPDATE_CONSUMER_OFFSET, m.SPU_V, m.update_consumer_offset_req(3, 1),
           m.update_consumer_offset_resp, "commit offset 3")
    _consumers(p, p.spu(), "seen from another connection", filter_opts=(replica, None))
    p.call(c, m.DELETE_CONSUMER_OFFSET, m.SPU_V, m.delete_consumer_offset_req(p.topic(), 0, "grp-1"),
           m.delete_consumer_offset_resp, "delete")
    _consumers(p, c, "gone", filter_opts=(replica, None))
    p.call(c, m.DELETE_CONSUMER_OFFSET, m.SPU_V, m.delete_consumer_offset_req(p.topic(), 0, "grp-1"),
           m.delete_consumer_offset_resp, "delete again")


@case
def consumer_offset_update_errors(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a"])])
    c = p.spu()
    p.call(c, m.UPDATE_CONSUMER_OFFSET, m.SPU_V, m.update_consumer_offset_req(1, 1),
           m.update_consumer_offset_resp, "no such session")
    _fetch(p, c, "stream without consumer id")
    p.call(c, m.UPDATE_CONSUMER_OFFSET, m.SPU_V, m.update_consumer_offset_req(1, 1),
           m.update_consumer_offset_resp, "session without consumer id")


@case
def consumer_offsets_versions(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a"])])
    c = p.spu()
    _fetch(p, c, "stream with consumer id", consumer_id="grp-v")
    p.call(c, m.UPDATE_CONSUMER_OFFSET, 24, m.update_consumer_offset_req(1, 1),
           m.update_consumer_offset_resp, "commit at v24")
    only_mine = lambda r: {**mask_modified_time(r), "consumers": [  # noqa: E731
        x for x in r["consumers"] if x["replica"][0] == p.topic()]}
    for v in [25, 24, 23]:
        p.call(c, m.FETCH_CONSUMER_OFFSETS, v, m.fetch_consumer_offsets_req(v),
               m.fetch_consumer_offsets_resp, f"all at v{v}", mask=only_mine)


@case
def consumer_offsets_removed_with_topic(p: Probe) -> None:
    p.create_topic(p.topic())
    p.produce(p.topic(), [m.batch([b"a"])])
    c = p.spu()
    _fetch(p, c, "stream with consumer id", consumer_id="grp-d")
    p.call(c, m.UPDATE_CONSUMER_OFFSET, m.SPU_V, m.update_consumer_offset_req(1, 1),
           m.update_consumer_offset_resp, "commit")
    p.delete_topic(p.topic())
    time.sleep(1.0)  # the SPU learns of the deletion from the SC
    _consumers(p, p.spu(), "after the topic is deleted", filter_opts=((p.topic(), 0), None))


# ---------------------------------------------------------------------------------------- the test

@dataclass
class Expected:
    """A deliberate difference: `reason` says why; `ours(real)` is what the broker answers instead."""
    reason: str
    ours: Callable[[list], list]


def _with(real: list, label_prefix: str, change: Callable[[object], object]) -> list:
    """`real` with the entries whose label starts with `label_prefix` passed through `change`."""
    return [(label, change(json.loads(json.dumps(v))) if label.startswith(label_prefix) else v)
            for label, v in real]


def _message_suffix(suffix: str) -> Callable[[dict], dict]:
    def change(status: dict) -> dict:
        status["error_message"] += suffix
        return status
    return change


def _error_73_to_ok(resp: dict) -> dict:
    part = resp["responses"][0]["partitions"][0]
    assert part["error_code"] == 73, resp  # PartitionShortCircuited on the real SPU
    part["error_code"] = 0
    return resp


EXPECTED_DIFFERENCES: Dict[str, Expected] = {
    "topic_create_replication_exceeds_spus": Expected(
        "the real SC keeps the topic, waits FLV_TOPIC_WAIT for SPUs that might still join, then "
        "says only 'only 0 out of N provisioned'; the embedded broker keeps the topic the same way "
        "but, having a fixed set of SPUs, answers at once and says why",
        lambda real: _with(real, "replication 2 on 1 SPU", _message_suffix(
            ": replication factor 2 exceeds the 1 SPU(s) of this broker")),
    ),
    "produce_empty_batch_among_others": Expected(
        "an empty batch next to non-empty ones fails the entry with StorageError on both; the real "
        "SPU has by then written the batches before it (uncommitted) and marks the partition's "
        "storage short-circuited, so every later write fails with PartitionShortCircuited (73) "
        "until the SPU restarts. The embedded broker refuses the entry before writing anything and "
        "keeps the partition usable: reproducing a storage fault that bricks the partition would "
        "make the test double less useful, not more faithful to anything a client can rely on",
        lambda real: _with(real, "next write", _error_73_to_ok),
    ),
}


def _run(side, fn) -> list:
    prefix = "cf-" + fn.__name__.replace("_", "-")[:40]
    p = Probe(side, prefix)
    try:
        fn(p)
    finally:
        p.close()
    return p.transcript


def _show(t: list) -> str:
    return "\n".join(f"  {label}: {json.dumps(v, default=str)}" for label, v in t)


def _diff(a, b, path: str = "") -> List[str]:
    """Leaf-level differences between two transcripts, as `path: real != ours`."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            out += _diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += _diff(x, y, f"{path}[{i}]")
        return out
    if a == b:
        return []
    return [f"  {path}: {json.dumps(a, default=str)[:300]}  !=  {json.dumps(b, default=str)[:300]}"]


@pytest.mark.parametrize("fn", CASES, ids=[f.__name__ for f in CASES])
def test_conformance(sides, fn) -> None:
    real = _run(sides.real, fn)
    ours = _run(sides.ours, fn)
    diffs = []
    for i in range(max(len(real), len(ours))):
        (lr, r), (lo, o) = (real + [("<absent>", None)] * len(ours))[i], \
            (ours + [("<absent>", None)] * len(real))[i]
        diffs += _diff(r, o, f"#{i} {lr if lr == lo else lr + ' / ' + lo}")
    diffs = "\n".join(diffs[:30])
    report = (f"differences (real != ours):\n{diffs}\n"
              f"real engine:\n{_show(real)}\nembedded broker:\n{_show(ours)}")
    exp = EXPECTED_DIFFERENCES.get(fn.__name__)
    if exp is None:
        assert ours == real, f"the embedded broker differs from the real engine\n{report}"
    else:
        assert ours != real, f"expected difference no longer exists ({exp.reason})\n{report}"
        assert ours == exp.ours(real), f"difference is not the expected one ({exp.reason})\n{report}"
