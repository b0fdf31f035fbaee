"""Bad input raises the documented exception: a wrong argument is InvalidArgumentError (also a
TypeError and a ValueError), raised before anything happens."""

from __future__ import annotations

import socket
from typing import Any, Callable

import pytest

import headwater
from headwater import (
    Admin,
    BrokerConnectionError,
    ConfigError,
    HeadwaterError,
    InternalError,
    InvalidArgumentError,
    Producer,
    TestBroker,
    UnknownPartitionError,
    UnknownTopicError,
    _native,
)

TopicFactory = Callable[..., str]


@pytest.fixture
def producer(broker: TestBroker, topic: TopicFactory) -> Any:
    with Producer.connect(broker.endpoint, topic(2), linger_ms=0) as p:
        yield p


def invalid(match: str = "") -> Any:
    """pytest.raises for a wrong argument: InvalidArgumentError, code INVALID_ARGUMENT."""
    return pytest.raises(InvalidArgumentError, match=match)


def test_invalid_argument_is_also_a_type_and_value_error() -> None:
    assert issubclass(InvalidArgumentError, TypeError) and issubclass(InvalidArgumentError, ValueError)
    err = _native.invalid_argument("wrong")
    assert isinstance(err, InvalidArgumentError) and err.code == "INVALID_ARGUMENT" and err.number == 13
    assert str(err) == err.message == "[INVALID_ARGUMENT] wrong"


@pytest.mark.parametrize("key", [1, 1.5, object(), ["k"], True])
def test_wrong_key_type(producer: Producer, key: Any) -> None:
    with invalid("key"):
        producer.send(key, b"v")
    with pytest.raises(TypeError, match="key"):  # `except TypeError` still works
        producer.send(key, b"v")


@pytest.mark.parametrize("value", [None, 1, {"a": 1}, False])
def test_wrong_value_type(producer: Producer, value: Any) -> None:
    with invalid("value"):
        producer.send(b"k", value)


def test_wrong_option_types(producer: Producer) -> None:
    with invalid("partition"):
        producer.send(b"k", b"v", partition="0")  # type: ignore[arg-type]
    with invalid("partition"):
        producer.send(b"k", b"v", partition=True)
    with invalid("timestamp"):
        producer.send(b"k", b"v", timestamp="now")  # type: ignore[arg-type]
    with pytest.raises(TypeError):  # Python's own: a keyword-only argument passed by position
        producer.send(b"k", b"v", 0)  # type: ignore[misc]
    with invalid("send_all"):
        producer.send_all([b"just-a-value"])  # type: ignore[list-item]
    with invalid("send_all"):
        producer.send_all(5)  # type: ignore[arg-type]
    with invalid("options"):
        producer.send_all([(b"k", b"v", 0)])  # type: ignore[list-item]
    with invalid("colour"):
        producer.send_all([(b"k", b"v", {"colour": 1})])
    with invalid("timeout"):
        producer.flush(timeout="1")  # type: ignore[arg-type]
    with invalid("timeout"):
        producer.close(timeout=True)
    with invalid("partition"):
        producer.send_to("0", b"k", b"v")  # type: ignore[arg-type]
    assert not producer.closed


def test_out_of_range_numbers_use_the_one_range_message(producer: Producer, broker: TestBroker) -> None:
    for call in (
        lambda: producer.send(b"k", b"v", partition=-1),
        lambda: producer.send_to(-1, b"k", b"v"),
        lambda: producer.send_all([(b"k", b"v", {"partition": -1})]),
    ):
        with invalid(r"^\[INVALID_ARGUMENT\] `partition` must be in 0..=2147483647, got -1$"):
            call()
    with invalid("`partition` must be in 0..=2147483647, got 2147483648"):
        producer.send_to(2**31, b"k", b"v")
    with invalid("`partition` must be in 0..=2147483647, got 100000000000000000000"):
        producer.send_to(10**20, b"k", b"v")
    with invalid("`partitions` must be in 1..=2147483647, got -1"):
        broker.create_topic("negative", -1)
    with invalid("`replication` must be in 1..=2147483647, got 0"):
        broker.create_topic("no-replicas", 1, replication=0)
    with invalid("`partition_count` must be in 1..=2147483647, got 0"):
        headwater.key_partition(b"k", 0)
    with invalid("timeout"):
        producer.flush(timeout=-1)
    with invalid("timeout"):
        producer.flush(timeout=float("nan"))
    assert headwater.key_partition(b"k", 2**31 - 1) < 2**31 - 1


def test_broker_and_admin_wrong_arguments(broker: TestBroker) -> None:
    with invalid("api_key"):
        broker.fail_next(-1, 1, 6)
    with invalid("api_key"):
        broker.drop_next(65536, 1)
    with invalid("count"):
        broker.fail_next(0, -1, 6)
    with invalid("code"):
        broker.fail_next(0, 1, 40000)
    with invalid("seconds"):
        broker.delay(0, -1.0)
    with invalid("id"):
        broker.pause_spu("5001")  # type: ignore[arg-type]
    with invalid("name"):
        broker.create_topic(5)  # type: ignore[arg-type]
    with invalid("partitions"):
        broker.create_topic("float-partitions", 1.5)  # type: ignore[arg-type]
    with invalid("topic"):
        broker.records(None, 0)  # type: ignore[arg-type]
    with invalid("partition"):
        broker.leader("t", -1)
    with invalid("log_level"):
        headwater.set_log_level(51)
    with invalid("endpoint"):
        Admin.connect(9003)  # type: ignore[arg-type]
    with invalid("topic"):
        Producer.connect(broker.endpoint, b"t")  # type: ignore[arg-type]


def test_a_panic_is_an_internal_error(producer: Producer) -> None:
    """A bug in the binding or core surfaces as InternalError (not pyo3's BaseException)."""
    with pytest.raises(InternalError) as e:
        _native._debug_panic()
    assert e.value.code == "INTERNAL" and "_debug_panic was called" in str(e.value)
    assert isinstance(e.value, Exception)
    assert producer.send(b"k", b"after the panic").wait(timeout=60).offset is not None


def test_unknown_partition(producer: Producer) -> None:
    with pytest.raises(UnknownPartitionError):
        producer.send(b"k", b"v", partition=2)
    with pytest.raises(UnknownPartitionError):
        producer.send_to(2, b"k", b"v")


def test_unknown_config_key(broker: TestBroker, topic: TopicFactory) -> None:
    with pytest.raises(ConfigError, match="lingerms"):
        Producer.connect(broker.endpoint, topic(), lingerms=5)
    with pytest.raises(ConfigError, match="linger_ms"):
        Producer.connect(broker.endpoint, topic(), linger_ms="soon")
    with invalid("config"):
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
    assert e.value.code == "TRANSPORT" and e.value.retriable is True


def test_broker_bad_arguments(broker: TestBroker) -> None:
    with invalid("`partitions` must be in 1..=2147483647, got 0"):
        broker.create_topic("zero-partitions", 0)
    with invalid("compression"):
        broker.create_topic("bad-codec", 1, compression="brotli")
    with pytest.raises(ConfigError, match="spus"):
        TestBroker.start(spus=0)
    with pytest.raises(HeadwaterError):
        TestBroker.start(spus=0)
