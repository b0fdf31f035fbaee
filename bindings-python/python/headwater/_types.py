"""Plain result types built by the native module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class ProducerStats:
    """Producer counters (the same field names in every language)."""

    records_sent: int
    records_acked: int
    records_failed: int
    bytes_uncompressed: int
    bytes_compressed: int
    batches_sent: int
    requests_sent: int
    retries: int
    errors: int
    queued_records: int
    queued_batches: int


@dataclass(frozen=True)
class StoredRecord:
    """A record as the embedded broker stores it. ``key`` is None for a record without a key."""

    offset: int
    key: Optional[bytes]
    value: bytes
    timestamp: int
    compression: str
    """Codec of the batch that carried the record: none, gzip, snappy, lz4 or zstd."""
    batch_base_offset: int


@dataclass(frozen=True)
class StoredBatch:
    """A stored batch's header facts."""

    base_offset: int
    record_count: int
    compression: str
    size_bytes: int
    first_timestamp: int


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    replication: int
    compression: str
    retention_secs: Optional[int]
    status: str


@dataclass(frozen=True)
class BrokerStats:
    """The embedded broker's counters (the same field names in every language)."""

    produce_requests: int
    batches_appended: int
    records_appended: int
    bytes_appended: int
    fsyncs: int
    segments_deleted: int
    truncated_bytes: int
    connections: int
    connections_total: int
    rejected_frames: int
    fetch_responses: int
