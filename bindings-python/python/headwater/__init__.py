"""Headwater: a fast Fluvio-protocol producer with an embedded broker.

>>> from headwater import Producer, TestBroker
>>> with TestBroker.start() as broker:                               # doctest: +SKIP
...     broker.create_topic("events", partitions=3)
...     with Producer.connect(broker.endpoint, "events", linger_ms=10) as p:
...         meta = p.send(b"user-1", b"clicked").wait()

Every blocking call releases the GIL, and Ctrl-C interrupts long waits. Objects created before
``fork()`` raise :class:`ForkedProcessError` in the child. Core's log lines go to the ``logging``
logger ``"headwater"`` from the level ``HEADWATER_LOG`` names (read by core; warnings by default).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import weakref
from types import TracebackType
from typing import Dict, Iterator, List, Mapping, Optional, Type, Union, cast

from . import _native
from ._errors import (
    BrokerConnectionError,
    BrokerError,
    ClosedError,
    CompressionError,
    ConfigError,
    ForkedProcessError,
    HeadwaterError,
    InternalError,
    InvalidArgumentError,
    ProtocolError,
    QueueFullError,
    RecordTooLargeError,
    TimeoutError,
    UnknownPartitionError,
    UnknownTopicError,
)
from ._native import ProduceOutput, RecordMetadata
from ._types import BrokerStats, ProducerStats, StoredBatch, StoredRecord, TopicInfo

__version__: str = _native.__version__

ConfigValue = Union[str, int, bool, os.PathLike[str]]
"""A configuration value: a string in core's syntax, an int for numeric keys, a bool for ``tls``, or
an ``os.PathLike`` for file keys (``tls_ca_file``, ...). Core parses the string form of each."""

PathArg = Union[str, os.PathLike[str]]
"""A file or directory path."""

Timeout = Optional[float]
"""Seconds: None waits as long as it takes, 0 does not wait (negative: InvalidArgumentError)."""

logger = logging.getLogger("headwater")
"""Where core's log events go (TRACE events at level 5, below DEBUG)."""


def set_log_level(level: Union[str, int]) -> None:
    """Forwards core's events from ``level`` on, and sets the ``headwater`` logger's level.

    ``level`` is a name, ``"off"``, ``"error"``, ``"warn"``, ``"info"``, ``"debug"`` or ``"trace"``
    in any case (another name raises :class:`ConfigError` naming ``log_level``), or a ``logging``
    level number from 0 to 50 (``logging.DEBUG``; others raise :class:`InvalidArgumentError`).
    """
    logger.setLevel(_native.set_log_level(level))


# HEADWATER_LOG (read by core) sets the level core forwards at; the logger lets the same through.
_env_level = _native.env_log_level()
if _env_level is not None:
    logger.setLevel(_env_level)


class ProducerConfig(Mapping[str, Optional[str]]):
    """Producer options, validated by core's one parser when the object is built.

    Keys are the snake_case (or camelCase) names of the configuration table (top-level README);
    values are strings or ints.
    As a mapping it holds every key's resulting value as a string (None for an unset
    ``compression``). Unknown keys or bad values raise :class:`ConfigError` naming the key.
    """

    def __init__(self, options: Optional[Mapping[str, ConfigValue]] = None, **kwargs: ConfigValue) -> None:
        merged: Dict[str, ConfigValue] = {}
        if options is not None:
            if not isinstance(options, Mapping):
                raise _native.invalid_argument(f"options must be a mapping, not {type(options).__name__}")
            merged.update(options)
        merged.update(kwargs)
        self._values: Dict[str, Optional[str]] = _native.parse_config(merged)
        self._options = merged

    @property
    def options(self) -> Dict[str, ConfigValue]:
        """The options as given."""
        return dict(self._options)

    def __getitem__(self, key: str) -> Optional[str]:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"ProducerConfig({self._options!r})"


# Producers still open at interpreter exit are closed (their records sent) with this bound.
_EXIT_CLOSE_TIMEOUT = 30.0
_live: weakref.WeakSet[Producer] = weakref.WeakSet()


class Producer(_native.Producer):
    """A producer for one topic. Create it with :meth:`connect`; use it from any thread."""

    @classmethod
    def connect(
        cls,
        endpoint: str,
        topic: str,
        config: Union[ProducerConfig, Mapping[str, ConfigValue], None] = None,
        **options: ConfigValue,
    ) -> Producer:
        """Connects to the cluster at ``endpoint`` and waits for ``topic``'s metadata.

        ``config`` (a :class:`ProducerConfig` or a mapping) and keyword ``options`` are config keys;
        keywords win. Raises :class:`ConfigError` for a bad key or value.
        """
        merged: Dict[str, ConfigValue] = {}
        if isinstance(config, ProducerConfig):
            merged.update(config.options)
        elif config is not None:
            if not isinstance(config, Mapping):
                raise _native.invalid_argument(
                    f"config must be a ProducerConfig, a mapping or None, not {type(config).__name__}"
                )
            merged.update(cast(Mapping[str, ConfigValue], config))
        merged.update(options)
        producer = cls(endpoint, topic, merged)
        _live.add(producer)
        return producer

    async def flush_async(self, timeout: Timeout = None) -> None:
        """:meth:`flush` for asyncio code (does not block the event loop)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._flush_into(loop, fut, timeout)
        await fut

    async def close_async(self, timeout: Timeout = None) -> None:
        """:meth:`close` for asyncio code (does not block the event loop)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._close_into(loop, fut, timeout)
        await fut

    def __enter__(self) -> Producer:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    async def __aenter__(self) -> Producer:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close_async()


class TestBroker(_native.TestBroker):
    """An embedded Fluvio-protocol broker (SC + SPUs on loopback ports), for tests and demos."""

    __test__ = False  # not a pytest test class

    @classmethod
    def start(
        cls,
        spus: int = 1,
        data_dir: Optional[PathArg] = None,
        *,
        sync: Union[str, int, None] = None,
        tls_cert: Optional[PathArg] = None,
        tls_key: Optional[PathArg] = None,
        tls_client_ca: Optional[PathArg] = None,
    ) -> TestBroker:
        """Starts a broker with ``spus`` SPUs, in memory or durable in ``data_dir``.

        ``sync`` is when a durable broker fsyncs: ``"request"`` (every produce request, the default),
        ``"never"``, or an interval in milliseconds. ``tls_cert`` + ``tls_key`` (PEM files) make every
        listener serve TLS; ``tls_client_ca`` also requires client certificates signed by that CA
        (mutual TLS). Core validates the options: a bad one raises :class:`ConfigError` naming it.
        """
        return cls(
            spus,
            data_dir,
            sync=sync,
            tls_cert=tls_cert,
            tls_key=tls_key,
            tls_client_ca=tls_client_ca,
        )

    def __enter__(self) -> TestBroker:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()


class Admin(_native.Admin):
    """Topic administration over the network."""

    @classmethod
    def connect(cls, endpoint: str, **tls: ConfigValue) -> Admin:
        """Connects to the SC at ``endpoint``; plaintext unless TLS options are given (``tls``,
        ``tls_ca_file``, ``tls_cert_file``, ``tls_key_file``, ``tls_server_name``, as for a producer).
        """
        return cls(endpoint, tls)

    def __enter__(self) -> Admin:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        return None


def key_partition(key: Union[bytes, bytearray, memoryview, str], partition_count: int) -> int:
    """The partition Fluvio's default partitioner gives ``key`` in a topic of that many partitions."""
    return _native.key_partition(key, partition_count)


def key_hash(key: Union[bytes, bytearray, memoryview, str]) -> int:
    """Fluvio's key hash: SipHash-2-4 (zero keys) over ``u64_le(len(key)) ++ key``."""
    return _native.key_hash(key)


def _close_live_producers() -> None:
    producers: List[Producer] = [p for p in list(_live) if not p.closed]
    for p in producers:
        try:
            p.close(timeout=_EXIT_CLOSE_TIMEOUT)
        except (HeadwaterError, KeyboardInterrupt) as e:
            logger.warning("closing producer for %r at exit failed: %s", p.topic, e)


def _at_exit() -> None:
    try:
        _close_live_producers()
    finally:
        _native.shutdown_logging()


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_native.after_fork_in_child)


__all__ = [
    "Admin",
    "BrokerConnectionError",
    "BrokerError",
    "BrokerStats",
    "ClosedError",
    "CompressionError",
    "ConfigError",
    "ConfigValue",
    "ForkedProcessError",
    "HeadwaterError",
    "InternalError",
    "InvalidArgumentError",
    "PathArg",
    "ProduceOutput",
    "Producer",
    "ProducerConfig",
    "ProducerStats",
    "ProtocolError",
    "QueueFullError",
    "RecordMetadata",
    "RecordTooLargeError",
    "StoredBatch",
    "StoredRecord",
    "TestBroker",
    "TimeoutError",
    "TopicInfo",
    "UnknownPartitionError",
    "UnknownTopicError",
    "key_hash",
    "key_partition",
    "logger",
    "set_log_level",
]
