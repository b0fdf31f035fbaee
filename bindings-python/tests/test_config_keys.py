"""Each config key has an observable effect on what the broker holds (or on what the API reports)."""

from __future__ import annotations

import threading
from typing import Callable, List

import pytest

from conftest import all_records, wait_until
from headwater import (
    BrokerError,
    CompressionError,
    Producer,
    QueueFullError,
    RecordTooLargeError,
    TestBroker,
    TimeoutError,
    UnknownTopicError,
    key_partition,
)

TopicFactory = Callable[..., str]
DEADLINE_S = 60.0
PRODUCE = 0  # Fluvio API key of Produce


def test_batch_size_splits_batches(broker: TestBroker, topic: TopicFactory) -> None:
    small, big = topic(), topic()
    for name, size in ((small, 300), (big, 1_000_000)):
        with Producer.connect(broker.endpoint, name, batch_size=size, linger_ms=600_000) as p:
            for _ in range(50):
                p.send(None, b"x" * 20)
    assert len(broker.batches(big, 0)) == 1
    batches = broker.batches(small, 0)
    assert len(batches) > 3
    assert sum(b.record_count for b in batches) == 50
    assert all(b.size_bytes <= 300 + 100 for b in batches)


def test_linger_seals_only_after_linger(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    with Producer.connect(broker.endpoint, t, linger_ms=600_000) as p:
        held = p.send(b"k", b"held")
        with Producer.connect(broker.endpoint, t, linger_ms=0) as q:
            q.send(b"k", b"prompt").wait()  # linger 0: delivered without flush
        assert not held.done()  # still lingering after another record went through
        assert [r.value for r in broker.records(t, 0)] == [b"prompt"]
        p.flush()
        assert held.done()
    assert [r.value for r in broker.records(t, 0)] == [b"prompt", b"held"]


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_compression_codec_bits_on_broker(broker: TestBroker, topic: TopicFactory, codec: str) -> None:
    t = topic()
    with Producer.connect(broker.endpoint, t, compression=codec) as p:
        p.send_all([(b"k%d" % i, b"value-%d" % i * 10) for i in range(20)])
    assert {b.compression for b in broker.batches(t, 0)} == {codec}
    recs = broker.records(t, 0)
    assert [r.value for r in recs] == [b"value-%d" % i * 10 for i in range(20)]
    assert {r.compression for r in recs} == {codec}


def test_compression_follows_topic_policy(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic(1, compression="gzip")
    with Producer.connect(broker.endpoint, t) as p:
        assert p.compression == "gzip"
        p.send(None, b"v").wait()
    assert broker.batches(t, 0)[0].compression == "gzip"
    with pytest.raises(CompressionError):
        Producer.connect(broker.endpoint, t, compression="lz4")


def test_max_request_size(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    with Producer.connect(broker.endpoint, t, max_request_size=1000) as p:
        p.send(None, b"x" * 800).wait()
        with pytest.raises(RecordTooLargeError) as e:
            p.send(None, b"x" * 1000)
        assert isinstance(e.value, ValueError)
        with pytest.raises(RecordTooLargeError):
            p.send_all([(None, b"ok"), (None, b"x" * 2000)])
    assert [len(r.value) for r in broker.records(t, 0)] == [800]  # send_all sent nothing


def test_batch_queue_size_and_send_timeout(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    p = Producer.connect(
        broker.endpoint, t, batch_queue_size=1, send_timeout_ms=0, linger_ms=0, batch_size=100
    )
    broker.pause()
    try:
        with pytest.raises(QueueFullError) as e:
            for _ in range(1000):
                p.send(None, b"x" * 60)
        assert e.value.retriable is False
    finally:
        broker.resume()
    p.close()
    assert len(broker.records(t, 0)) >= 1


def test_send_blocked_on_a_full_queue_sends_the_right_bytes(broker: TestBroker, topic: TopicFactory) -> None:
    # A send that finds its partition's queue full waits without the GIL, on the caller's bytes
    # (borrowed for `bytes`, copied for the other types): what lands on the broker must be intact.
    t = topic()
    values = [b"a" * 60, bytearray(b"b" * 60), memoryview(b"c" * 60), "d" * 60] * 3
    expected = [v.encode() if isinstance(v, str) else bytes(v) for v in values] * 2
    p = Producer.connect(
        broker.endpoint, t, batch_queue_size=1, send_timeout_ms=120_000, linger_ms=0, batch_size=100
    )
    done = threading.Event()
    errors: List[BaseException] = []

    def produce() -> None:
        try:
            for v in values:
                p.send(b"k", v)
            p.send_all([(b"k", v) for v in values])
        except BaseException as e:  # reported by the main thread
            errors.append(e)
        done.set()

    broker.pause()
    th = threading.Thread(target=produce)
    try:
        th.start()
        # This thread runs while the other one is blocked: the wait does not hold the GIL.
        assert not done.wait(0.5), "the sends did not wait for queue space"
    finally:
        broker.resume()
    th.join(DEADLINE_S)
    assert done.is_set() and not errors, errors
    p.close()
    assert [r.value for r in broker.records(t, 0)] == expected


def test_delivery_at_most_once(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    with Producer.connect(broker.endpoint, t, delivery="at_most_once", linger_ms=0) as p:
        metas = [p.send(None, b"%d" % i).wait() for i in range(3)]
    assert all(m.offset is None for m in metas)
    wait_until(lambda: len(broker.records(t, 0)) == 3, "at-most-once records on the broker")


def test_isolation_read_committed(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    with Producer.connect(broker.endpoint, t, isolation="read_committed") as p:
        assert p.send(b"k", b"v").wait().offset == 0
    assert len(broker.records(t, 0)) == 1


def test_retries(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    with Producer.connect(broker.endpoint, t, max_retries=5, retry_backoff_ms=1, linger_ms=0) as p:
        broker.fail_next(PRODUCE, 2, 6)  # NotLeaderForPartition: retriable
        assert p.send(b"k", b"v").wait().offset == 0
        assert p.stats().retries >= 2
    t2 = topic()
    with Producer.connect(broker.endpoint, t2, max_retries=0, linger_ms=0) as p:
        broker.fail_next(PRODUCE, 1, 6)
        with pytest.raises(BrokerError) as e:
            p.send(b"k", b"v").wait()
        assert e.value.broker_code == 6 and e.value.retriable is True
        with pytest.raises(BrokerError):
            p.flush()  # the failure is reported by the next flush too
    assert broker.records(t2, 0) == []


def test_non_retriable_broker_error(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    with Producer.connect(broker.endpoint, t, linger_ms=0, retry_backoff_ms=1) as p:
        broker.fail_next(PRODUCE, 1, -1)  # UnknownServerError
        with pytest.raises(BrokerError) as e:
            p.send(b"k", b"v").wait()
        assert e.value.broker_code == -1 and e.value.retriable is False
        with pytest.raises(BrokerError):
            p.flush()
    assert p.stats().records_failed == 1


def test_delivery_timeout(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    p = Producer.connect(broker.endpoint, t, delivery_timeout_ms=300, timeout_ms=100, linger_ms=0)
    broker.pause()
    try:
        out = p.send(b"k", b"v")
        with pytest.raises(TimeoutError) as e:
            out.wait()
        assert isinstance(e.value, __import__("builtins").TimeoutError)
    finally:
        broker.resume()
    with pytest.raises(TimeoutError):
        p.close(timeout=30)  # close flushes, and flush reports the failure nobody flushed yet
    assert p.closed


def test_flush_and_wait_timeouts(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    p = Producer.connect(broker.endpoint, t, linger_ms=0)
    broker.pause()
    try:
        out = p.send(b"k", b"v")
        with pytest.raises(TimeoutError) as e:
            p.flush(timeout=0.2)
        assert e.value.retriable is True
        with pytest.raises(TimeoutError):
            out.wait(timeout=0.1)
    finally:
        broker.resume()
    p.flush()
    assert out.wait().offset == 0  # nothing was dropped by the timeouts
    p.close()


def test_metadata_timeout_unknown_topic(broker: TestBroker) -> None:
    with pytest.raises(UnknownTopicError) as e:
        Producer.connect(broker.endpoint, "no-such-topic", metadata_timeout_ms=200)
    assert e.value.code == "UNKNOWN_TOPIC"


def test_metadata_timeout_waits_for_topic(broker: TestBroker) -> None:
    timer = threading.Timer(0.3, lambda: broker.create_topic("appears-later"))
    timer.start()
    try:
        with Producer.connect(broker.endpoint, "appears-later", metadata_timeout_ms=60_000) as p:
            p.send(None, b"v").wait()
    finally:
        timer.join()
    assert len(broker.records("appears-later", 0)) == 1


def test_partitioner_round_robin(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic(3)
    with Producer.connect(broker.endpoint, t, partitioner="round_robin", linger_ms=0) as p:
        parts = [p.send(b"same-key", b"%d" % i).wait().partition for i in range(6)]
    assert parts == [0, 1, 2, 0, 1, 2]
    with Producer.connect(broker.endpoint, t, partitioner="default", linger_ms=0) as p:
        parts = [p.send(b"same-key", b"%d" % i).wait().partition for i in range(3)]
    assert parts == [key_partition(b"same-key", 3)] * 3
    assert len(all_records(broker, t, 3)) == 9


def test_client_id_and_timeout_ms_accepted(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    with Producer.connect(
        broker.endpoint, t, client_id="my-app", timeout_ms=5000, retry_backoff_max_ms=10
    ) as p:
        assert p.send(b"k", b"v").wait().offset == 0
    assert len(broker.records(t, 0)) == 1
