"""``python -m headwater`` against the embedded broker: what the broker stores, what the command prints,
and its exit codes. Each run is a fresh interpreter, as a user would start it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from typing import Callable

import headwater
from conftest import wait_until
from headwater import TestBroker

TopicFactory = Callable[..., str]


def cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "headwater", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "HEADWATER_LOG"},
    )
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())


def one_error_line(r: subprocess.CompletedProcess[str], exit_code: int, start: str) -> str:
    assert r.returncode == exit_code, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.endswith("\n") and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(start), r.stderr
    return r.stderr


def test_produce_sends_stdin_lines_with_the_key(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic(partitions=3)
    r = cli("produce", broker.endpoint, t, "--key", "sensor-1", stdin=b"one\ntwo\r\nthree")
    assert r.returncode == 0, r.stderr
    partition = headwater.key_partition(b"sensor-1", 3)
    assert r.stdout == (
        f'produced 3 records (11 bytes) to "{t}"\n  partition {partition}: 3 records, offsets 0-2\n'
    )
    stored = broker.records(t, partition)
    assert [(s.offset, s.key, s.value) for s in stored] == [
        (0, b"sensor-1", b"one"),
        (1, b"sensor-1", b"two"),
        (2, b"sensor-1", b"three"),
    ]


def test_produce_options_reach_the_producer(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    lines = b"".join(b"reading %d\n" % i for i in range(50))
    r = cli("produce", broker.endpoint, t, "--linger-ms", "20", "--compression", "zstd", stdin=lines)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == "  partition 0: 50 records, offsets 0-49"
    stored = broker.records(t, 0)
    assert [s.value for s in stored] == [b"reading %d" % i for i in range(50)]
    assert {s.key for s in stored} == {None}
    assert {s.compression for s in stored} == {"zstd"}
    # -c passes any config key through core's parser.
    r = cli("produce", broker.endpoint, t, "-c", "compression=gzip", "-c", "linger_ms=0", stdin=b"last\n")
    assert r.returncode == 0, r.stderr
    last = broker.records(t, 0, 50)
    assert [(s.value, s.compression) for s in last] == [(b"last", "gzip")]


def test_produce_at_most_once_says_the_offsets_are_unknown(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    r = cli("produce", broker.endpoint, t, "-c", "delivery=at_most_once", stdin=b"fire\nforget\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == "  partition 0: 2 records, offsets unknown (at-most-once delivery)"
    # Nobody waits for the broker's answer under at-most-once: the records arrive a little later.
    wait_until(lambda: len(broker.records(t, 0)) == 2, "the two records")
    assert [s.value for s in broker.records(t, 0)] == [b"fire", b"forget"]


def test_produce_of_nothing_sends_nothing(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    r = cli("produce", broker.endpoint, t)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f'produced 0 records (0 bytes) to "{t}"\n'
    assert broker.records(t, 0) == []


def test_bench_prints_a_rate_and_the_records_are_stored(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic(partitions=2)
    r = cli("bench", broker.endpoint, t, "--count", "2500", "--size", "10", "--compression", "lz4")
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(
        r"2500 records of 10 bytes acknowledged in [0-9.]+ s: ([0-9]+) records/s, [0-9.]+ MB/s\n", r.stdout
    )
    assert m and int(m.group(1)) > 0, r.stdout
    stored = broker.records(t, 0) + broker.records(t, 1)
    assert len(stored) == 2500
    assert {s.value for s in stored} == {b"abcdefghij"}
    assert {s.compression for s in stored} == {"lz4"}


def test_errors_are_one_line_and_a_nonzero_exit(broker: TestBroker, topic: TopicFactory) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unreachable = f"127.0.0.1:{port}"
    short = ("-c", "metadata_timeout_ms=300")
    one_error_line(cli("produce", unreachable, "t", *short, stdin=b"x\n"), 1, "error: [TRANSPORT] ")
    one_error_line(cli("bench", unreachable, "t", *short), 1, "error: [TRANSPORT] ")
    one_error_line(cli("produce", broker.endpoint, "no-such-topic", *short), 1, "error: [UNKNOWN_TOPIC] ")
    err = one_error_line(cli("produce", broker.endpoint, topic(), "--linger-ms", "-1"), 1, "error: [CONFIG] ")
    assert "linger_ms" in err
    err = one_error_line(
        cli("bench", broker.endpoint, topic(), "--compression", "brotli"), 1, "error: [CONFIG] "
    )
    assert "compression" in err
    # Usage errors: one line as well, exit 2.
    one_error_line(cli("produce", broker.endpoint), 2, "error: the following arguments are required: TOPIC")
    err = one_error_line(cli("bench", broker.endpoint, "t", "--count", "0"), 2, "error: argument --count: ")
    assert "must be at least 1, got 0" in err
    one_error_line(
        cli("produce", broker.endpoint, "t", "-c", "linger_ms"), 2, "error: argument -c/--config: "
    )
    one_error_line(cli(), 2, "error: the following arguments are required: COMMAND")


def test_help_shows_examples() -> None:
    for args in ((), ("produce",), ("bench",)):
        r = cli(*args, "--help")
        assert r.returncode == 0, r.stderr
        examples = r.stdout.rstrip("\n").split("\n\n")[-1].splitlines()
        assert examples[0] == "examples:", r.stdout
        assert all(line.startswith("  ") and "python -m headwater " in line for line in examples[1:]), (
            r.stdout
        )
        assert len(examples) > 1
    r = cli("--version")
    assert r.returncode == 0 and r.stdout == f"headwater {headwater.__version__}\n", r
