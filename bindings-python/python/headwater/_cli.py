"""``python -m headwater``: produce lines from stdin, or measure throughput, with only the wheel installed.

Every record goes through the public :class:`~headwater.Producer` API; core validates the options.
Errors are one line on stderr: ``error: [CODE] what happened`` (exit 1), or a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import IO, Callable, Deque, Dict, List, NoReturn, Optional, Sequence, Tuple

from . import ConfigValue, HeadwaterError, ProduceOutput, Producer, RecordMetadata, __version__

PROG = "python -m headwater"

# Outputs older than this many records are waited for while reading, so memory stays bounded on
# endless input (by then they are normally done: waiting costs nothing).
MAX_PENDING = 100_000
BENCH_CHUNK = 1000

EXAMPLES = f"""examples:
  printf 'hello\\nworld\\n' | {PROG} produce 127.0.0.1:9003 events
  {PROG} produce 127.0.0.1:9003 events --key sensor-1 --compression zstd < readings.txt
  {PROG} bench 127.0.0.1:9003 events --count 100000 --size 100
"""

PRODUCE_EXAMPLES = f"""examples:
  printf 'hello\\nworld\\n' | {PROG} produce 127.0.0.1:9003 events
  {PROG} produce 127.0.0.1:9003 events --key sensor-1 --linger-ms 5 --compression lz4 < readings.txt
  {PROG} produce broker.example:9003 events -c tls_ca_file=ca.pem < readings.txt
"""

BENCH_EXAMPLES = f"""examples:
  {PROG} bench 127.0.0.1:9003 events --count 100000 --size 100
  {PROG} bench 127.0.0.1:9003 events --count 1000000 --size 1024 --compression zstd --linger-ms 10
"""


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line too (the details are in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _at_least(minimum: int) -> Callable[[str], int]:
    def integer(text: str) -> int:  # argparse's message for a non-number names the function
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return integer


def _config_item(text: str) -> Tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _add_producer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("endpoint", metavar="ENDPOINT", help="SC endpoint of the cluster, host:port")
    p.add_argument("topic", metavar="TOPIC", help="topic to produce to (it must exist)")
    p.add_argument("--linger-ms", type=int, metavar="MS", help="linger_ms (default: core's)")
    p.add_argument("--compression", metavar="CODEC", help="none, gzip, snappy, lz4 or zstd")
    p.add_argument(
        "-c",
        "--config",
        type=_config_item,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any producer config key (repeatable), e.g. -c batch_size=65536 -c tls=true",
    )


def _parser() -> _Parser:
    raw = argparse.RawDescriptionHelpFormatter
    top = _Parser(
        prog=PROG,
        description="Produce to a Fluvio-protocol cluster with the headwater package (no Rust CLI needed).",
        epilog=EXAMPLES,
        formatter_class=raw,
    )
    top.add_argument("--version", action="version", version=f"headwater {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    produce = commands.add_parser(
        "produce",
        help="send stdin's lines as records",
        description="Sends each line of stdin (without its line ending) as one record, then prints "
        "how many records went to which partition and offsets.",
        epilog=PRODUCE_EXAMPLES,
        formatter_class=raw,
    )
    _add_producer_options(produce)
    produce.add_argument("--key", help="key of every record (default: none, round-robin)")
    bench = commands.add_parser(
        "bench",
        help="measure producer throughput",
        description="Sends COUNT records of SIZE bytes as fast as the producer takes them, waits for "
        "every acknowledgement, and prints records/s and MB/s.",
        epilog=BENCH_EXAMPLES,
        formatter_class=raw,
    )
    _add_producer_options(bench)
    bench.add_argument(
        "--count", type=_at_least(1), default=100_000, metavar="N", help="records (default 100000)"
    )
    bench.add_argument(
        "--size", type=_at_least(0), default=100, metavar="B", help="value bytes (default 100)"
    )
    return top


def _options(args: argparse.Namespace) -> Dict[str, ConfigValue]:
    options: Dict[str, ConfigValue] = dict(args.config)
    if args.linger_ms is not None:
        options["linger_ms"] = args.linger_ms
    if args.compression is not None:
        options["compression"] = args.compression
    return options


@dataclass
class _Landed:
    """The records one partition got: how many, and the first and last offset."""

    records: int
    first: Optional[int]
    last: Optional[int]


class _Summary:
    """How many records landed in each partition, and at which offsets."""

    def __init__(self) -> None:
        self.records = 0
        self.bytes = 0
        self.partitions: Dict[int, _Landed] = {}

    def add(self, meta: RecordMetadata) -> None:
        landed = self.partitions.setdefault(meta.partition, _Landed(0, meta.offset, meta.offset))
        landed.records += 1
        landed.last = meta.offset

    def lines(self, topic: str) -> List[str]:
        out = [f'produced {self.records} records ({self.bytes} bytes) to "{topic}"']
        for partition, landed in sorted(self.partitions.items()):
            if landed.first is None or landed.last is None:
                where = "offsets unknown (at-most-once delivery)"
            elif landed.first == landed.last:
                where = f"offset {landed.first}"
            else:
                where = f"offsets {landed.first}-{landed.last}"
            out.append(f"  partition {partition}: {landed.records} records, {where}")
        return out


def produce(args: argparse.Namespace, stdin: IO[bytes]) -> int:
    key: Optional[str] = args.key
    summary = _Summary()
    pending: Deque[ProduceOutput] = deque()
    with Producer.connect(args.endpoint, args.topic, _options(args)) as p:
        for line in stdin:
            # A line's ending is not part of the record (\n or \r\n), as in the Rust CLI.
            value = line[:-1] if line.endswith(b"\n") else line
            if value.endswith(b"\r"):
                value = value[:-1]
            pending.append(p.send(key, value))
            summary.records += 1
            summary.bytes += len(value)
            if len(pending) > MAX_PENDING:
                summary.add(pending.popleft().wait())
        p.flush()
        while pending:
            summary.add(pending.popleft().wait())
    print("\n".join(summary.lines(args.topic)))
    return 0


def bench(args: argparse.Namespace) -> int:
    count: int = args.count
    size: int = args.size
    value = bytes(ord("a") + i % 26 for i in range(size))
    full = [(None, value)] * BENCH_CHUNK
    with Producer.connect(args.endpoint, args.topic, _options(args)) as p:
        started = time.perf_counter()
        sent = 0
        while sent < count:
            n = min(BENCH_CHUNK, count - sent)
            p.send_all(full if n == BENCH_CHUNK else full[:n])
            sent += n
        p.flush()  # raises the first failure, if any record failed
        seconds = time.perf_counter() - started
    print(
        f"{count} records of {size} bytes acknowledged in {seconds:.3f} s: "
        f"{count / seconds:.0f} records/s, {count * size / seconds / 1e6:.2f} MB/s"
    )
    return 0


def main(argv: Optional[Sequence[str]] = None, stdin: Optional[IO[bytes]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "produce":
            return produce(args, stdin if stdin is not None else sys.stdin.buffer)
        return bench(args)
    except HeadwaterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
