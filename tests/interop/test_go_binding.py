"""Records produced from Go (bindings-go) are read back intact by the OFFICIAL Python client.

The Go binding's produce driver (tests/real-fluvio/drivers/go, built by its build.sh: the binding
and libheadwater.a first, then the driver) sends keyed, keyless, explicit-partition and empty-key
records with every codec to a 3-partition topic on `headwater broker`. Then the official Python
client (fluvio 0.21.0, `official_py.py consume`) reads each partition from offset 0, and the test
checks: every record at the offset its metadata returned (contiguous from 0), keys intact (no key
stays null, the empty key stays ""), explicit partitions honoured, keyed records in Fluvio's
partition for their key (SipHash rule of tests/vectors/fluvio_partition.py, computed here
independently), per-key order, keyless records spread over every partition, timestamps set.
"""

import subprocess
import sys

import pytest

from test_official_clients import (
    ROOT,
    Broker,
    assert_contiguous,
    headwater,
    py_consume,
    run,
    unique,
)
from test_official_clients import pytestmark  # noqa: F401 - same skips (driver / venv missing)

sys.path.insert(0, str(ROOT / "tests" / "vectors"))
from fluvio_partition import partition_for  # noqa: E402 - written from the spec

GO_DRIVER = ROOT / "tests" / "real-fluvio" / "drivers" / "go"
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PARTITIONS = 3


@pytest.fixture(scope="module")
def go_produce(tmp_path_factory):
    out = tmp_path_factory.mktemp("go-driver") / "produce"
    subprocess.run(["bash", str(GO_DRIVER / "build.sh"), str(out)], check=True, timeout=1800)
    return out


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Broker(log_dir=tmp_path_factory.mktemp("broker-logs")).start()
    yield b
    b.stop()


def records(codec):
    """(explicit partition, key, value): 20 keyed over 5 keys, 8 keyless, 6 explicit, 4 empty-key."""
    recs = [(None, f"k{i % 5}".encode()) for i in range(20)]
    recs += [(None, None)] * 8
    recs += [(i % PARTITIONS, b"x" if i % 2 else None) for i in range(6)]
    recs += [(None, b"")] * 4
    # Interleaved so that keys, partitions and kinds mix within a batch.
    recs = recs[::2] + recs[1::2]
    return [(p, k, f"go/{codec}/{i}".encode()) for i, (p, k) in enumerate(recs)]


def driver_input(recs):
    lines = []
    for p, k, v in recs:
        part = "-" if p is None else str(p)
        key = "-" if k is None else "=" + k.hex()
        lines.append(f"{part} {key} {v.hex()}")
    return "\n".join(lines) + "\n"


def test_go_produced_read_by_official_python(broker, go_produce):
    topic = unique("go")
    headwater(broker, "topic", "create", topic, "-p", str(PARTITIONS))
    sent = []  # (record, partition, offset) as the Go producer reported them
    for codec in CODECS:
        recs = records(codec)
        res = run([go_produce, broker.endpoint, topic, codec, "linger_ms=20"],
                  input=driver_input(recs), broker=broker)
        metas = [tuple(map(int, line.split())) for line in res.stdout.splitlines() if line.strip()]
        assert len(metas) == len(recs), res.stderr
        sent += [(rec, part, off) for rec, (part, off) in zip(recs, metas)]

    for (p, key, v), part, _ in sent:
        if p is not None:
            assert part == p, f"{v}: explicit partition {p} but metadata says {part}"
        elif key is not None:
            assert part == partition_for(key, PARTITIONS), f"{v}: key {key!r} landed in {part}"
    keyless = {part for (p, k, _), part, _ in sent if p is None and k is None}
    assert keyless == set(range(PARTITIONS)), f"keyless records only reached partitions {keyless}"

    for part in range(PARTITIONS):
        want = sorted(((off, None if k is None else k.decode(), v.decode())
                       for (_, k, v), pt, off in sent if pt == part))
        got = py_consume(broker, topic, part)
        assert_contiguous(got, f"official Python read of {topic}-{part}")
        assert [(r["offset"], r["key"], r["value"]) for r in got] == want, \
            f"official Python client read partition {part} differently"
        assert all(r["timestamp"] > 0 for r in got), got

    # Per-key order: a key's records were stored in the order they were sent.
    order = {}
    for (p, key, _), _, off in sent:
        if p is None and key is not None:
            order.setdefault(key, []).append(off)
    for key, offs in order.items():
        assert offs == sorted(offs), f"key {key!r} reordered: {offs}"
