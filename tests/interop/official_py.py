#!/usr/bin/env python3
"""Drive the OFFICIAL Fluvio Python client (PyPI ``fluvio==0.21.0``) against a
Fluvio-protocol endpoint -- in our tests, Headwater's embedded broker.

Subcommands mirror the Rust driver (``fluvio-interop``) and print the same JSON
lines on stdout (compact, fields in the same order):

  scenario --endpoint E --topic T
  produce  --endpoint E --topic T --count N [--compression C] [--key-prefix K]
  consume  --endpoint E --topic T --partition P [--count N]

Instead of ``--endpoint E``: ``--profile`` (the current profile of ``~/.fluvio/config``, TLS
included, via ``Fluvio.connect()`` / ``FluvioAdmin.connect()``), or ``--endpoint E`` plus
``--tls-domain D --tls-ca F --tls-cert F --tls-key F`` (``FluvioConfig.set_tls_file_paths``).

Known limits of this client, which the scenario works around:

* It cannot send a null key: ``TopicProducer.send`` takes a byte list, and its
  "keyless" sends (``send_string``/``send([], v)``) carry an EMPTY key
  (``Some(b"")``).  An empty key is a real key: it hashes to one fixed
  partition instead of going round-robin.  The scenario therefore sends keyed
  records plus empty-key records, and ``produce`` without ``--key-prefix``
  sends empty keys (printed as ``"key":""``).
* ``Record.key()`` returns the literal bytes ``b"No key"`` for a record that
  has no key, so a null key cannot be told apart from a real key "No key".
  ``consume`` prints ``null`` for it; never use "No key" as a test key.

Connection: ``FluvioConfig.new(endpoint)`` (plain TCP, no TLS, no profile
file; verified TLS with the --tls-* options) + ``Fluvio.connect_with_config`` /
``FluvioAdmin.connect_with_config``; or, with ``--profile``, ``Fluvio.connect()`` /
``FluvioAdmin.connect()`` (the client reads ``$HOME/.fluvio/config`` itself).
Native calls block while holding the GIL, so the hard deadline is
``faulthandler.dump_traceback_later(..., exit=True)`` (a C watchdog thread):
on expiry it prints the Python stack to stderr and exits non-zero.
"""

import argparse
import faulthandler
import json
import sys
import time
from importlib.metadata import version

from fluvio import (
    Compression,
    ConsumerConfigExtBuilder,
    Fluvio,
    FluvioAdmin,
    FluvioConfig,
    Offset,
    TopicProducerConfigBuilder,
    TopicSpec,
)

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
COMPRESSION = {
    "none": Compression.None_,
    "gzip": Compression.Gzip,
    "snappy": Compression.Snappy,
    "lz4": Compression.Lz4,
    "zstd": Compression.Zstd,
}
# What fluvio 0.21's Record.key() returns for a record without a key.
PY_NULL_KEY_MARKER = b"No key"


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def emit(obj):
    """One compact JSON line, same bytes as serde_json's compact output."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def config_for(args):
    config = FluvioConfig.new(args.endpoint)
    if args.tls_domain:
        # Verified TLS: the SC is checked against the domain, each SPU against <spu-name>.<domain>.
        config.set_tls_file_paths(args.tls_domain, args.tls_key, args.tls_cert, args.tls_ca)
    return config


def connect(args):
    if args.profile:
        return Fluvio.connect()  # current profile of ~/.fluvio/config
    return Fluvio.connect_with_config(config_for(args))


def connect_admin(args):
    if args.profile:
        return FluvioAdmin.connect()
    return FluvioAdmin.connect_with_config(config_for(args))


def topic_names(admin):
    # list_topics returns the native MetadataTopicSpec objects (with .name()).
    return [t.name() for t in admin.list_topics([])]


def create_topic(admin, topic, partitions):
    spec = TopicSpec.create().with_partitions(partitions).with_replications(1).build()
    admin.create_topic(topic, spec)


def make_producer(client, topic, codec=None):
    builder = TopicProducerConfigBuilder()
    if codec is not None:
        if codec not in COMPRESSION:
            raise Failure(f"bad compression {codec!r}")
        builder = builder.compression(COMPRESSION[codec])
    return client.topic_producer_with_config(topic, builder.build())


def to_bytes(x):
    return bytes(x) if x is not None else None


def record_key(rec):
    """bytes, or None for a record without a key (see module docstring)."""
    key = to_bytes(rec.key())
    if key is None or key == PY_NULL_KEY_MARKER:
        return None
    return key


def key_text(key):
    return None if key is None else key.decode("utf-8", "replace")


def read_partition(client, topic, partition, count=None):
    """Records of one partition from the beginning.

    count=None: up to the partition's end at request time (disable_continuous);
    count=n: exactly n records from a continuous stream (blocks until they exist).
    """
    builder = ConsumerConfigExtBuilder(topic)
    builder.partition(partition)
    builder.offset_start(Offset.beginning())
    if count is None:
        builder.disable_continuous(True)
    stream = client.consumer_with_config(builder.build())
    out = []
    while count is None or len(out) < count:
        try:
            rec = next(stream)
        except StopIteration:
            break
        out.append(rec)
    if count is not None:
        check(
            len(out) == count,
            f"{topic}-{partition}: stream ended after {len(out)} of {count} records",
        )
    return out


# ----------------------------------------------------------------------------------------------
# subcommands


def cmd_produce(args):
    client = connect(args)
    if args.create_partitions:
        admin = connect_admin(args)
        if args.topic not in topic_names(admin):
            create_topic(admin, args.topic, args.create_partitions)
    producer = make_producer(client, args.topic, args.compression)
    pending = []
    for i in range(args.count):
        value = f"value-{i}"
        key = f"{args.key_prefix}{i}" if args.key_prefix is not None else ""
        out = producer.send(key.encode(), value.encode())
        pending.append((key, value, out))
    producer.flush()
    for key, value, out in pending:
        md = out.wait()
        check(md is not None, f"no metadata for {value}")
        emit(
            {
                "partition": md.partition_id(),
                "offset": md.offset(),
                "key": key,
                "value": value,
            }
        )


def cmd_consume(args):
    client = connect(args)
    for rec in read_partition(client, args.topic, args.partition, args.count):
        emit(
            {
                "offset": rec.offset(),
                "key": key_text(record_key(rec)),
                "value": to_bytes(rec.value()).decode("utf-8", "replace"),
                "timestamp": rec.timestamp(),
            }
        )


def cmd_bench(args):
    """Keyless-style throughput (empty keys: this client cannot send null keys) or single-record latency."""
    import time

    client = connect(args)
    if args.create_partitions:
        admin = connect_admin(args)
        if args.topic not in topic_names(admin):
            create_topic(admin, args.topic, args.create_partitions)
    builder = TopicProducerConfigBuilder()
    if args.compression:
        builder = builder.compression(COMPRESSION[args.compression])
    builder = builder.linger(0 if args.latency else args.linger_ms)
    if args.batch_size:
        builder = builder.batch_size(args.batch_size)
    producer = client.topic_producer_with_config(args.topic, builder.build())
    payload = bytes(b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36] for i in range(args.size))
    start = time.perf_counter()
    sent = 0
    lat = []
    if args.latency:
        while sent < args.records and time.perf_counter() - start < args.seconds:
            t = time.perf_counter()
            out = producer.send(b"", payload)
            producer.flush()
            out.wait()
            lat.append((time.perf_counter() - t) * 1e6)
            sent += 1
    elif args.send_all:
        outs = []
        chunk = [(b"", payload)] * args.send_all
        while sent < args.records and time.perf_counter() - start < args.seconds:
            outs.extend(producer.send_all(chunk))
            sent += len(chunk)
        producer.flush()
        for o in outs:
            o.wait()
    else:
        outs = []
        while sent < args.records:
            if sent % 4096 == 0 and time.perf_counter() - start >= args.seconds:
                break
            outs.append(producer.send(b"", payload))
            sent += 1
        producer.flush()
        for o in outs:
            o.wait()
    secs = time.perf_counter() - start
    line = {
        "client": "fluvio-python-0.21",
        "records": sent,
        "seconds": secs,
        "records_per_sec": sent / secs,
        "mb_per_sec": sent * args.size / secs / 1e6,
    }
    if lat:
        lat.sort()
        pick = lambda q: lat[min(int(len(lat) * q), len(lat) - 1)]  # noqa: E731
        line.update(p50_us=pick(0.5), p99_us=pick(0.99), p999_us=pick(0.999))
    emit(line)


def cmd_scenario(args):
    partitions = args.partitions
    client = connect(args)
    admin = connect_admin(args)

    # 1. admin: create + list
    create_topic(admin, args.topic, partitions)
    names = topic_names(admin)
    check(args.topic in names, f"topic {args.topic} not listed after create: {names}")

    # 2. every codec: keyed records k0..k4 + empty-key records (this client has no null key)
    sent = []  # dicts: key(bytes), value(str), codec, partition, offset
    for codec in CODECS:
        producer = make_producer(client, args.topic, codec)
        pending = []
        for i in range(args.keyed):
            key = f"k{i % 5}".encode()
            value = f"{codec}-{i}"
            pending.append((key, value, producer.send(key, value.encode())))
        for j in range(args.empty_key):
            value = f"{codec}-emptykey-{j}"
            pending.append((b"", value, producer.send(b"", value.encode())))
        producer.flush()
        for key, value, out in pending:
            md = out.wait()
            check(md is not None, f"{codec}: no metadata for {value}")
            check(
                0 <= md.partition_id() < partitions,
                f"{value}: partition {md.partition_id()} out of range",
            )
            sent.append(
                {
                    "key": key,
                    "value": value,
                    "codec": codec,
                    "partition": md.partition_id(),
                    "offset": md.offset(),
                }
            )

    # 3. acknowledged offsets 0..n-1 per partition; same key => same partition
    per_partition = {}
    for s in sent:
        per_partition.setdefault(s["partition"], []).append(s["offset"])
    for p, offsets in per_partition.items():
        check(
            sorted(offsets) == list(range(len(offsets))),
            f"partition {p}: acknowledged offsets not 0..n-1: {sorted(offsets)}",
        )
    key_partition = {}
    for s in sent:
        p = key_partition.setdefault(s["key"], s["partition"])
        check(
            p == s["partition"],
            f"key {s['key']!r} acknowledged in partitions {p} and {s['partition']}",
        )

    # 4. consume every partition from the beginning and compare
    by_value = {s["value"]: s for s in sent}
    check(len(by_value) == len(sent), "duplicate values sent (bug in scenario)")
    seen = set()
    counts = {}
    for p in range(partitions):
        records = read_partition(client, args.topic, p)
        expected_n = len(per_partition.get(p, []))
        check(
            len(records) == expected_n,
            f"partition {p}: consumed {len(records)} records, {expected_n} were acknowledged",
        )
        for i, rec in enumerate(records):
            value = to_bytes(rec.value()).decode()
            check(
                rec.offset() == i,
                f"partition {p}: record #{i} has offset {rec.offset()} (not contiguous)",
            )
            s = by_value.get(value)
            check(
                s is not None,
                f"partition {p} offset {rec.offset()}: unexpected value {value!r}",
            )
            check(value not in seen, f"value {value!r} consumed twice")
            seen.add(value)
            key = record_key(rec)
            check(key == s["key"], f"{value}: key {key!r} read back, {s['key']!r} sent")
            check(
                (s["partition"], s["offset"]) == (p, rec.offset()),
                f"{value}: read at {p}/{rec.offset()} but acknowledged at {s['partition']}/{s['offset']}",
            )
            check(rec.timestamp() > 0, f"{value}: timestamp {rec.timestamp()} not set")
        counts[str(p)] = len(records)
    check(
        len(seen) == len(sent),
        f"consumed {len(seen)} distinct values, sent {len(sent)}",
    )

    # 5. delete and check it is gone (poll: deletion may be asynchronous)
    admin.delete_topic(args.topic)
    deadline = time.monotonic() + args.timeout_secs
    while args.topic in topic_names(admin):
        check(
            time.monotonic() < deadline,
            f"topic {args.topic} still listed {args.timeout_secs}s after delete",
        )
        time.sleep(0.1)

    emit(
        {
            "ok": True,
            "client": "fluvio-python-" + version("fluvio"),
            "topic": args.topic,
            "partitions": partitions,
            "codecs": {c: sum(1 for s in sent if s["codec"] == c) for c in CODECS},
            "records": len(sent),
            "empty_key_records": sum(1 for s in sent if s["key"] == b""),
            "per_partition": counts,
            "keys": len(key_partition),
            "deleted": True,
        }
    )


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="official_py.py", description=__doc__.split("\n\n")[0]
    )
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--endpoint")
        where.add_argument(
            "--profile",
            action="store_true",
            help="connect with the current profile of ~/.fluvio/config (TLS included)",
        )
        tls = p.add_argument_group("verified TLS with --endpoint (all four together)")
        tls.add_argument("--tls-domain", help="SC verified as DOMAIN, SPUs as <spu-name>.DOMAIN")
        tls.add_argument("--tls-ca")
        tls.add_argument("--tls-cert")
        tls.add_argument("--tls-key")
        p.add_argument("--topic", required=True)
        p.add_argument(
            "--timeout-secs",
            type=float,
            default=60.0,
            help="hard deadline for the whole command",
        )

    p = sub.add_parser("scenario")
    common(p)
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--keyed", type=int, default=20)
    p.add_argument("--empty-key", type=int, default=5)

    p = sub.add_parser("produce")
    common(p)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--compression", choices=CODECS)
    p.add_argument("--key-prefix")
    p.add_argument(
        "--null-key",
        action="store_true",
        help="not supported by this client (exits with an error)",
    )
    p.add_argument("--create-partitions", type=int)

    p = sub.add_parser("consume")
    common(p)
    p.add_argument("--partition", type=int, required=True)
    p.add_argument(
        "--count",
        type=int,
        help="records to read (waits for them); default: up to the partition's end (disable_continuous)",
    )

    p = sub.add_parser("bench")
    common(p)
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--compression", choices=CODECS)
    p.add_argument("--linger-ms", type=int, default=100)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--create-partitions", type=int)
    p.add_argument("--latency", action="store_true")
    p.add_argument("--send-all", type=int, default=0, help="send lists of this many records")

    args = ap.parse_args(argv)
    tls_opts = [args.tls_domain, args.tls_ca, args.tls_cert, args.tls_key]
    if any(tls_opts) and not all(tls_opts):
        ap.error("--tls-domain, --tls-ca, --tls-cert and --tls-key go together")
    if any(tls_opts) and args.profile:
        ap.error("--tls-* options go with --endpoint; a profile carries its own TLS settings")
    faulthandler.dump_traceback_later(args.timeout_secs, exit=True)
    try:
        if args.cmd == "produce" and args.null_key:
            raise Failure(
                "the official Python client cannot send a null key (keyless sends carry an empty key)"
            )
        {"scenario": cmd_scenario, "produce": cmd_produce, "consume": cmd_consume, "bench": cmd_bench}[
            args.cmd
        ](args)
    except Exception as err:  # noqa: BLE001 - report any client error as a failure line
        print(
            f"official_py {args.cmd} FAILED: {type(err).__name__}: {err}",
            file=sys.stderr,
        )
        return 1
    finally:
        faulthandler.cancel_dump_traceback_later()
    return 0


if __name__ == "__main__":
    sys.exit(main())
