"""Fault injection per error class through the Python API: the exact outcome a Python user sees."""

from __future__ import annotations

from typing import Callable

import pytest

from headwater import (
    BrokerError,
    CompressionError,
    Producer,
    TestBroker,
    TimeoutError,
    UnknownTopicError,
)

PRODUCE = 0  # Fluvio API key of Produce


def connect(broker: TestBroker, topic: str, **kw: object) -> Producer:
    opts = {"linger_ms": 0, "retry_backoff_ms": 5, "max_retries": 3, **kw}
    return Producer.connect(broker.endpoint, topic, **opts)  # type: ignore[arg-type]


def test_not_leader_is_retried_and_stored_once(broker: TestBroker, topic: Callable[..., str]) -> None:
    t = topic()
    with connect(broker, t) as p:
        broker.fail_next(PRODUCE, 2, 6)
        assert p.send(None, b"x").wait(timeout=60).offset == 0
        assert p.stats().retries == 2
    assert [r.value for r in broker.records(t, 0)] == [b"x"]


def test_request_timed_out_gives_up_after_max_retries(broker: TestBroker, topic: Callable[..., str]) -> None:
    t = topic()
    p = connect(broker, t)
    broker.fail_next(PRODUCE, 10, 7)
    with pytest.raises(BrokerError) as e:
        p.send(None, b"x").wait(timeout=60)
    assert e.value.retriable and "4 attempts" in str(e.value)
    broker.fail_next(PRODUCE, 0, 7)
    assert broker.records(t, 0) == []
    with pytest.raises(BrokerError):
        p.close()  # reports the failure nobody flushed


def test_storage_error_fails_only_that_batch(broker: TestBroker, topic: Callable[..., str]) -> None:
    t = topic()
    p = connect(broker, t)
    broker.fail_next(PRODUCE, 1, 56)
    with pytest.raises(BrokerError) as e:
        p.send(None, b"lost").wait(timeout=60)
    assert not e.value.retriable
    assert p.send(None, b"kept").wait(timeout=60).offset == 0
    with pytest.raises(BrokerError):
        p.close()


def test_compression_and_unknown_topic_codes(broker: TestBroker, topic: Callable[..., str]) -> None:
    t = topic()
    p = connect(broker, t)
    broker.fail_next(PRODUCE, 1, 9000)
    with pytest.raises(CompressionError):
        p.send(None, b"a").wait(timeout=60)
    broker.fail_next(PRODUCE, 1, 2001)
    with pytest.raises(UnknownTopicError):
        p.send(None, b"b").wait(timeout=60)
    with pytest.raises(CompressionError):
        p.close()


def test_dropped_connection_is_retried(broker: TestBroker, topic: Callable[..., str]) -> None:
    t = topic()
    with connect(broker, t) as p:
        broker.drop_next(PRODUCE, 2)
        assert p.send(b"k", b"after-drops").wait(timeout=60).offset == 0
        assert p.stats().retries >= 2
    assert [r.value for r in broker.records(t, 0)] == [b"after-drops"]


def test_slow_broker_hits_the_delivery_timeout(broker: TestBroker, topic: Callable[..., str]) -> None:
    t = topic()
    p = connect(broker, t, delivery_timeout_ms=300)
    broker.delay(PRODUCE, 3.0)
    try:
        with pytest.raises(TimeoutError):
            p.send(None, b"late").wait(timeout=60)
    finally:
        broker.delay(PRODUCE, None)
    with pytest.raises(TimeoutError):
        p.close()


def test_spu_stop_and_start_keeps_acknowledged_records(tmp_path: object) -> None:
    with TestBroker.start(spus=1, data_dir=str(tmp_path)) as b:
        b.create_topic("spu", 1)
        with connect(b, "spu", max_retries=100, retry_backoff_ms=20) as p:
            assert p.send(None, b"before").wait(timeout=60).offset == 0
            b.stop_spu(b.spu_ids()[0])
            out = p.send(None, b"during")
            assert not out.done()
            b.start_spu(b.spu_ids()[0])
            m = out.wait(timeout=60)
        values = [r.value for r in b.records("spu", 0)]
        assert values[0] == b"before" and values[m.offset] == b"during"
