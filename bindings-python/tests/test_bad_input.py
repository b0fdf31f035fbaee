"""Bad input raises the documented exception."""

from __future__ import annotations

import socket
from typing import Any, Callable

import pytest

from headwater import (
    BrokerConnectionError,
    ConfigError,
    HeadwaterError,
    InvalidArgumentError,
    Producer,
    TestBroker,
    UnknownPartitionError,
    UnknownTopicError,
)

TopicFactory = Callable[..., str]


@pytest.fixture
def producer(broker: TestBroker, topic: TopicFactory) -> Any:
    with Producer.connect(broker.endpoint, topic(2), linger_ms=0) as p:
        yield p


@pytest.mark.parametrize("key", [1, 1.5, object(), ["k"]])
def test_wrong_key_type(producer: Producer, key: Any) -> None:
    with pytest.raises(TypeError, match="key"):
        producer.send(key, b"v")


@pytest.mark.parametrize("value", [None, 1, {"a": 1}])
def test_wrong_value_type(producer: Producer, value: Any) -> None:
    with pytest.raises(TypeError, match="value"):
        producer.send(b"k", value)


def test_wrong_option_types(producer: Producer) -> None:
    with pytest.raises(TypeError):
        producer.send(b"k", b"v", partition="0")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        producer.send(b"k", b"v", timestamp="now")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        producer.send(b"k", b"v", 0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        producer.send_all([b"just-a-value"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        producer.send_all(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        producer.flush(timeout="1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        producer.flush(timeout=-1)
    with pytest.raises(InvalidArgumentError):
        producer.send(b"k", b"v", partition=-1)


def test_unknown_partition(producer: Producer) -> None:
    with pytest.raises(UnknownPartitionError):
        producer.send(b"k", b"v", partition=2)


def test_unknown_config_key(broker: TestBroker, topic: TopicFactory) -> None:
    with pytest.raises(ConfigError, match="lingerms"):
        Producer.connect(broker.endpoint, topic(), lingerms=5)
    with pytest.raises(ConfigError, match="linger_ms"):
        Producer.connect(broker.endpoint, topic(), linger_ms="soon")
    with pytest.raises(TypeError):
        Producer.connect(broker.endpoint, topic(), config=[("linger_ms", "5")])  # type: ignore[arg-type]


def test_unknown_topic(broker: TestBroker) -> None:
    with pytest.raises(UnknownTopicError):
        Producer.connect(broker.endpoint, "missing-topic", metadata_timeout_ms=100)
    with pytest.raises(UnknownTopicError):
        broker.records("missing-topic", 0)


def test_unreachable_endpoint() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BrokerConnectionError) as e:
        Producer.connect(f"127.0.0.1:{port}", "t", metadata_timeout_ms=500)
    assert isinstance(e.value, ConnectionError)
    assert e.value.kind == "TRANSPORT" and e.value.retriable is True


def test_broker_bad_arguments(broker: TestBroker) -> None:
    with pytest.raises(InvalidArgumentError):
        broker.create_topic("zero-partitions", 0)
    with pytest.raises(InvalidArgumentError):
        broker.create_topic("bad-codec", 1, compression="brotli")
    with pytest.raises(HeadwaterError):
        TestBroker.start(spus=0)
