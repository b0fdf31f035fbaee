"""The producer against the embedded broker: what the broker holds after each call."""

from __future__ import annotations

import asyncio
from typing import Callable

import pytest

from conftest import all_records
from headwater import (
    Admin,
    ClosedError,
    Producer,
    ProducerConfig,
    RecordMetadata,
    TestBroker,
)

TopicFactory = Callable[..., str]


def test_send_wait_and_read_back(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic(3)
    with Producer.connect(broker.endpoint, t, linger_ms=10) as p:
        assert p.topic == t and p.partition_count == 3
        out = p.send(b"user-1", b"clicked")
        meta = out.wait()
        assert isinstance(meta, RecordMetadata)
        assert (meta.topic, meta.partition, meta.offset) == (t, out.partition, 0)
        assert out.done()
        assert out.wait() == meta  # any number of times
        assert out.wait(timeout=5) == meta
    [rec] = broker.records(t, meta.partition)
    assert (rec.offset, rec.key, rec.value, rec.timestamp) == (0, b"user-1", b"clicked", meta.timestamp)
    assert p.closed


@pytest.mark.parametrize(
    "key,stored",
    [
        (None, None),
        (b"", b""),
        (b"k", b"k"),
        (bytearray(b"ba"), b"ba"),
        (memoryview(b"xmvx")[1:3], b"mv"),
        ("tēxt", "tēxt".encode()),
    ],
    ids=["none", "empty", "bytes", "bytearray", "memoryview", "str"],
)
def test_key_and_value_types(broker: TestBroker, topic: TopicFactory, key: object, stored: object) -> None:
    t = topic()
    with Producer.connect(broker.endpoint, t, linger_ms=0) as p:
        p.send(key, key if key is not None else b"v").wait()  # type: ignore[arg-type]
    [rec] = broker.records(t, 0)
    assert rec.key == stored
    assert rec.value == (stored if stored is not None else b"v")


def test_explicit_partition_and_timestamp(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic(4)
    with Producer.connect(broker.endpoint, t) as p:
        meta = p.send(b"k", b"v", partition=3, timestamp=1_700_000_000_123).wait()
    assert (meta.partition, meta.timestamp) == (3, 1_700_000_000_123)
    [rec] = broker.records(t, 3)
    assert rec.timestamp == 1_700_000_000_123


def test_send_to_overrides_the_partitioner(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic(3)
    with Producer.connect(broker.endpoint, t, linger_ms=0) as p:
        # key b hashes to partition 0 (tests/vectors/partitioner.json)
        out = p.send_to(2, b"b", b"to-2", timestamp=1_700_000_000_000)
        assert out.partition == 2
        meta = out.wait()
    assert (meta.partition, meta.offset, meta.timestamp) == (2, 0, 1_700_000_000_000)
    assert [(r.key, r.value) for r in broker.records(t, 2)] == [(b"b", b"to-2")]
    assert broker.records(t, 0) == []


def test_send_all(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic(2)
    with Producer.connect(broker.endpoint, t) as p:
        outs = p.send_all([(None, b"a"), (b"k", "text"), (bytearray(b"b"), memoryview(b"c"))])
        assert len(outs) == 3
        p.flush()
        metas = [o.wait() for o in outs]
        outs2 = p.send_all(iter([(b"g%d" % i, b"x") for i in range(100)]))
        p.flush()
        assert all(o.done() for o in outs2)
    recs = {(r.key, r.value) for r in all_records(broker, t, 2)}
    assert {(None, b"a"), (b"k", b"text"), (b"b", b"c")} <= recs
    assert len(recs) == 103
    assert [m.topic for m in metas] == [t] * 3


def test_send_all_records_with_options(broker: TestBroker, topic: TopicFactory) -> None:
    """A record is (key, value) or (key, value, {"partition": p, "timestamp": t})."""
    t = topic(3)
    with Producer.connect(broker.endpoint, t, linger_ms=0) as p:
        outs = p.send_all(
            [
                (b"b", b"to-2", {"partition": 2}),
                (None, b"stamped", {"partition": 1, "timestamp": 1_600_000_000_000}),
                (b"b", b"hashed", {}),
                (b"b", b"also-hashed", {"partition": None, "timestamp": None}),
            ]
        )
        metas = [o.wait() for o in outs]
    assert [m.partition for m in metas] == [2, 1, 0, 0]
    assert metas[1].timestamp == 1_600_000_000_000
    assert [r.value for r in broker.records(t, 2)] == [b"to-2"]
    assert [(r.value, r.timestamp) for r in broker.records(t, 1)] == [(b"stamped", 1_600_000_000_000)]
    assert [r.value for r in broker.records(t, 0)] == [b"hashed", b"also-hashed"]


def test_offsets_are_consecutive_per_partition(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic(1)
    with Producer.connect(broker.endpoint, t, batch_size=200) as p:
        outs = [p.send(None, b"%d" % i) for i in range(500)]
    assert [o.wait().offset for o in outs] == list(range(500))
    assert [r.value for r in broker.records(t, 0)] == [b"%d" % i for i in range(500)]
    assert broker.offsets(t, 0) == (0, 500)


def test_context_manager_flushes_on_exit(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    with Producer.connect(broker.endpoint, t, linger_ms=600_000) as p:
        out = p.send(b"k", b"v")
        assert not out.done()  # lingering; nothing has sealed the batch
    assert out.done() and out.wait().offset == 0
    assert len(broker.records(t, 0)) == 1


def test_config_object_and_kwargs(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    cfg = ProducerConfig(compression="gzip", linger_ms=0)
    with Producer.connect(broker.endpoint, t, cfg, compression="zstd") as p:
        assert p.compression == "zstd"  # keywords win
        p.send(None, b"v").wait()
    with Producer.connect(broker.endpoint, t, {"compression": "snappy"}) as p:
        assert p.compression == "snappy"
        p.send(None, b"v").wait()
    assert [r.compression for r in broker.records(t, 0)] == ["zstd", "snappy"]


def test_stats(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    with Producer.connect(broker.endpoint, t, linger_ms=0) as p:
        for _ in range(10):
            p.send(None, b"x" * 10)
        p.flush()
        s = p.stats()
    assert s.records_sent == 10 and s.records_acked == 10 and s.records_failed == 0
    assert s.batches_sent >= 1 and s.requests_sent >= 1 and s.queued_records == 0
    assert s.bytes_uncompressed > 0


def test_asyncio(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic(2)

    async def main() -> None:
        async with Producer.connect(broker.endpoint, t, linger_ms=5) as p:
            meta = await p.send(b"k", b"v")
            assert meta.offset == 0 and meta.topic == t
            metas = await asyncio.gather(*(_await(p.send(None, b"%d" % i)) for i in range(50)))
            assert len({(m.partition, m.offset) for m in metas}) == 50
            pending = p.send(b"late", b"x")
            await p.flush_async()
            assert pending.done()
            assert (await pending) == pending.wait()  # awaiting a finished output works too
        assert p.closed

    async def _await(o: object) -> RecordMetadata:
        return await o  # type: ignore[no-any-return, misc]

    asyncio.run(main())
    assert len(all_records(broker, t, 2)) == 52


def test_close_is_idempotent_and_later_sends_fail(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    p = Producer.connect(broker.endpoint, t)
    out = p.send(b"k", b"v")
    p.close()
    p.close()
    assert out.wait().offset == 0
    with pytest.raises(ClosedError) as e:
        p.send(b"k", b"v")
    assert e.value.code == "CLOSED"


def test_admin(broker: TestBroker) -> None:
    with Admin.connect(broker.endpoint) as a:
        a.create_topic("admin-made", 2, compression="lz4")
        info = {t.name: t for t in a.list_topics()}["admin-made"]
        assert (info.partitions, info.compression) == (2, "lz4")
        with Producer.connect(broker.endpoint, "admin-made") as p:
            assert p.compression == "lz4"
            p.send(None, b"v").wait()
        a.delete_topic("admin-made")
        assert "admin-made" not in {t.name for t in a.list_topics()}
    assert "admin-made" not in broker.topics()


def test_topic_options_and_partition_facts(broker: TestBroker) -> None:
    """TestBroker and Admin take the same topic options (core's TopicConfig); the broker reports
    leaders, replicas and high watermarks."""
    broker.create_topic("opts-broker", 2, segment_size=1 << 20, max_partition_size=1 << 24, retention_secs=60)
    with Admin.connect(broker.endpoint) as a:
        a.create_topic("opts-admin", 1, replication=1, segment_size=1 << 20, max_partition_size=1 << 24)
        info = {t.name: t for t in a.list_topics()}
    assert (info["opts-broker"].partitions, info["opts-broker"].retention_secs) == (2, 60)
    assert info["opts-admin"].partitions == 1
    [spu] = broker.spu_ids()
    with Producer.connect(broker.endpoint, "opts-broker", linger_ms=0) as p:
        p.send_to(1, None, b"v").wait()
    assert broker.leader("opts-broker", 1) == spu
    assert broker.replicas("opts-broker", 1) == [spu]
    assert broker.high_watermark("opts-broker", 1) == 1
    assert broker.offsets("opts-broker", 1) == (0, 1)
    stats = broker.stats()
    assert stats.records_appended >= 1 and stats.produce_requests >= 1
