"""Headwater's Python binding under the cross-language benchmark's workload (see ../../bench/README.md).

    bench.py --endpoint E --topic T --records N --seconds S --size B --compression C --linger-ms L
             [--latency] [--mode send|send_all] [--batch-size BYTES]

Creates the topic (1 partition) if it is missing, then either
  * throughput: keyless ``send`` in a plain loop (or ``send_all`` of lists of 1000 with
    ``--mode send_all``) until N records or S seconds, then ``flush()``; every record must be acked;
  * latency (``--latency``): linger 0, one record in flight (``send(...).wait()``), p50/p99/p999.
Every other producer setting is core's default (``--batch-size`` overrides ``batch_size``; the harness
does not pass it). Prints one JSON line; exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Dict, List, Optional, Tuple, Union

from headwater import Admin, HeadwaterError, Producer

SEND_ALL_CHUNK = 1000
# The clock is read once per this many records in the send loop.
CLOCK_EVERY = 4096


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--compression", default="none")
    ap.add_argument("--linger-ms", type=int, default=0)
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--mode", choices=("send", "send_all"), default="send")
    ap.add_argument("--batch-size", type=int, default=None, help="batch_size (default: core's default)")
    a = ap.parse_args(argv)
    if a.records < 1 or a.seconds <= 0 or a.size < 0 or a.linger_ms < 0:
        ap.error("--records must be >= 1, --seconds > 0, --size and --linger-ms >= 0")
    return a


def ensure_topic(endpoint: str, topic: str) -> None:
    admin = Admin.connect(endpoint)
    if any(t.name == topic for t in admin.list_topics()):
        return
    try:
        admin.create_topic(topic, 1)
    except HeadwaterError:
        # Created concurrently by someone else is fine; anything else is not.
        if not any(t.name == topic for t in admin.list_topics()):
            raise


def throughput_send(p: Producer, value: bytes, records: int, seconds: float) -> Tuple[int, float]:
    send = p.send
    t0 = time.perf_counter()
    deadline = t0 + seconds
    sent = 0
    while sent < records:
        n = min(CLOCK_EVERY, records - sent)
        for _ in range(n):
            send(None, value)
        sent += n
        if time.perf_counter() >= deadline:
            break
    p.flush()
    return sent, time.perf_counter() - t0


def throughput_send_all(p: Producer, value: bytes, records: int, seconds: float) -> Tuple[int, float]:
    send_all = p.send_all
    full = [(None, value)] * SEND_ALL_CHUNK
    t0 = time.perf_counter()
    deadline = t0 + seconds
    sent = 0
    while sent < records:
        n = min(SEND_ALL_CHUNK, records - sent)
        send_all(full if n == SEND_ALL_CHUNK else full[:n])
        sent += n
        if time.perf_counter() >= deadline:  # once per 1000 records
            break
    p.flush()
    return sent, time.perf_counter() - t0


def latency(p: Producer, value: bytes, records: int, seconds: float) -> Tuple[int, float, List[int]]:
    send = p.send
    clock = time.perf_counter_ns
    lat: List[int] = []
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while len(lat) < records and time.perf_counter() < deadline:
        t = clock()
        send(None, value).wait()
        lat.append(clock() - t)
    p.flush()
    return len(lat), time.perf_counter() - t0, lat


def percentile_us(sorted_ns: List[int], q: float) -> float:
    # Same rule as `headwater bench`: the element at floor(len * q), clamped.
    i = min(int(len(sorted_ns) * q), len(sorted_ns) - 1)
    return sorted_ns[i] / 1000.0


def main(argv: Optional[List[str]] = None) -> int:
    a = parse_args(argv)
    ensure_topic(a.endpoint, a.topic)
    linger = 0 if a.latency else a.linger_ms
    value = bytes(ord("a") + i % 26 for i in range(a.size))
    options: Dict[str, Union[str, int]] = {"compression": a.compression, "linger_ms": linger}
    if a.batch_size is not None:
        options["batch_size"] = a.batch_size
    with Producer.connect(a.endpoint, a.topic, options) as p:
        lat: List[int] = []
        if a.latency:
            n, secs, lat = latency(p, value, a.records, a.seconds)
        elif a.mode == "send_all":
            n, secs = throughput_send_all(p, value, a.records, a.seconds)
        else:
            n, secs = throughput_send(p, value, a.records, a.seconds)
        stats = p.stats()
    if stats.records_failed or stats.records_acked != n or stats.records_sent != n:
        print(
            f"bench: sent {n} records but the producer reports sent={stats.records_sent} "
            f"acked={stats.records_acked} failed={stats.records_failed}",
            file=sys.stderr,
        )
        return 1
    out = {
        "client": "headwater-python",
        "records": n,
        "seconds": round(secs, 4),
        "records_per_sec": round(n / secs),
        "mb_per_sec": round(n * a.size / secs / 1e6, 2),
    }
    if a.latency:
        lat.sort()
        out.update(
            p50_us=round(percentile_us(lat, 0.5), 1),
            p99_us=round(percentile_us(lat, 0.99), 1),
            p999_us=round(percentile_us(lat, 0.999), 1),
        )
    if a.mode != "send":
        out["mode"] = a.mode
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HeadwaterError as e:
        print(f"bench: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
