"""Exception classes: one per core error kind (tests/vectors/errors.json), all under HeadwaterError."""

from __future__ import annotations

import builtins
from typing import Dict, Optional, Type


class HeadwaterError(Exception):
    """Base of every Headwater error.

    ``code`` is core's stable code string (``"CONFIG"``, ``"TIMEOUT"``, ...), ``number`` its stable
    number, ``retriable`` whether retrying the operation may succeed, ``broker_code`` the Fluvio
    error code for errors the broker reported (else None), and ``message`` (also ``str(err)``) core's
    text, ``"[CODE] what happened"``.
    """

    code: str = "INTERNAL"
    number: int = 14
    retriable: bool = False
    broker_code: Optional[int] = None

    @property
    def message(self) -> str:
        """The error's text (``str(err)``)."""
        return str(self)


class ConfigError(HeadwaterError, ValueError):
    """An unknown configuration key or a bad value; the message names the key."""

    code = "CONFIG"
    number = 1


class TimeoutError(HeadwaterError, builtins.TimeoutError):
    """A wait ran past its deadline (nothing was dropped: the operation may still complete)."""

    code = "TIMEOUT"
    number = 2
    retriable = True


class QueueFullError(HeadwaterError):
    """The partition's batch queue stayed full for ``send_timeout_ms``."""

    code = "QUEUE_FULL"
    number = 3


class RecordTooLargeError(HeadwaterError, ValueError):
    """A record larger than ``max_request_size``."""

    code = "RECORD_TOO_LARGE"
    number = 4


class UnknownTopicError(HeadwaterError):
    code = "UNKNOWN_TOPIC"
    number = 5


class UnknownPartitionError(HeadwaterError):
    code = "UNKNOWN_PARTITION"
    number = 6


class CompressionError(HeadwaterError):
    """A codec failed, or the topic's compression policy forbids the codec."""

    code = "COMPRESSION"
    number = 7


class BrokerConnectionError(HeadwaterError, ConnectionError):
    """The connection failed or dropped."""

    code = "TRANSPORT"
    number = 8
    retriable = True


class ProtocolError(HeadwaterError):
    """A peer sent bytes that do not decode."""

    code = "PROTOCOL"
    number = 9


class BrokerError(HeadwaterError):
    """The broker answered with a Fluvio error code (``broker_code``)."""

    code = "BROKER"
    number = 10


class ClosedError(HeadwaterError):
    """The producer (or broker) was closed."""

    code = "CLOSED"
    number = 11


class ForkedProcessError(HeadwaterError):
    """The object was created before ``fork()``; create a new one in the child process."""

    code = "FORKED"
    number = 12


class InvalidArgumentError(HeadwaterError, ValueError, TypeError):
    """A wrong argument: a wrong type, a missing value, a number out of range, a negative timeout."""

    code = "INVALID_ARGUMENT"
    number = 13


class InternalError(HeadwaterError):
    """A bug in Headwater; please report it."""

    code = "INTERNAL"
    number = 14


_BY_CODE: Dict[str, Type[HeadwaterError]] = {
    cls.code: cls
    for cls in (
        ConfigError,
        TimeoutError,
        QueueFullError,
        RecordTooLargeError,
        UnknownTopicError,
        UnknownPartitionError,
        CompressionError,
        BrokerConnectionError,
        ProtocolError,
        BrokerError,
        ClosedError,
        ForkedProcessError,
        InvalidArgumentError,
        InternalError,
    )
}


def _from_native(
    code: str, message: str, retriable: bool, number: int, broker_code: Optional[int]
) -> HeadwaterError:
    """Called by the native module to build the exception for a core error."""
    err = _BY_CODE.get(code, HeadwaterError)(message)
    err.code = code
    err.retriable = retriable
    err.number = number
    err.broker_code = broker_code
    return err


__all__ = [
    "BrokerConnectionError",
    "BrokerError",
    "ClosedError",
    "CompressionError",
    "ConfigError",
    "ForkedProcessError",
    "HeadwaterError",
    "InternalError",
    "InvalidArgumentError",
    "ProtocolError",
    "QueueFullError",
    "RecordTooLargeError",
    "TimeoutError",
    "UnknownPartitionError",
    "UnknownTopicError",
]

for _cls in (HeadwaterError, *_BY_CODE.values()):
    _cls.__module__ = "headwater"
