"""Every language's binding (and the CLI) produces to the real engine; the official client reads back.

Each language's driver (drivers/README.md) sends the same records — keyed, keyless, explicit-partition
and empty-key — with every codec to its own 3-partition topic on a real SC + 3 SPUs. Then the official
Rust client (fluvio 0.50) and `headwater consume` read every partition from offset 0, and the test
checks: each record is stored at the offset its metadata returned, keyed records sit in Fluvio's
partition for their key (SipHash rule, computed here independently), per-key order holds, keyless
records are spread over every partition, and a null key stays null while an empty key stays empty.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from cluster import ROOT, RealCluster
from conftest import headwater_consume, official_consume, run
from fluvio_partition import partition_for  # tests/vectors: written from the spec

HERE = Path(__file__).resolve().parent
DRIVERS = HERE / "drivers"
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PARTITIONS = 3

Rec = Tuple[Optional[int], Optional[bytes], bytes]  # (explicit partition, key, value)


def record_set(rng: random.Random, lang: str, codec: str) -> List[Rec]:
    """40 keyed (5 keys), 15 keyless, 9 explicit-partition, 6 empty-key records, shuffled."""
    recs: List[Rec] = []
    recs += [(None, f"k{i % 5}".encode(), b"") for i in range(40)]
    recs += [(None, None, b"") for _ in range(15)]
    recs += [(i % PARTITIONS, (b"x" if i % 2 else None), b"") for i in range(9)]
    recs += [(None, b"", b"") for _ in range(6)]
    rng.shuffle(recs)
    # Values say who sent what, and carry some bulk so every codec has something to compress.
    return [
        (p, k, f"{lang}/{codec}/{i}/".encode() + b"abc" * rng.randrange(1, 60))
        for i, (p, k, _) in enumerate(recs)
    ]


def driver_input(records: List[Rec]) -> str:
    lines = []
    for p, k, v in records:
        part = "-" if p is None else str(p)
        key = "-" if k is None else "=" + k.hex()
        lines.append(f"{part} {key} {v.hex()}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def c_driver(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("c-driver") / "produce"
    lib = ROOT / "target/debug/libheadwater.a"
    assert lib.exists(), f"{lib} missing: build the C binding first (make -C bindings-c build)"
    subprocess.run(
        [shutil.which("cc") or "gcc", "-std=c11", "-Wall", "-Werror", "-I", str(ROOT / "include"),
         str(DRIVERS / "produce.c"), str(lib), "-o", str(out),
         "-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"],
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def go_driver(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("go-driver") / "produce"
    subprocess.run(["bash", str(DRIVERS / "go/build.sh"), str(out)], check=True)
    return out


def java_jar() -> Path:
    jars = sorted((ROOT / "bindings-java/target").glob("headwater-*.jar"))
    jars = [j for j in jars if not j.name.endswith(("-sources.jar", "-javadoc.jar"))]
    assert jars, "bindings-java/target/headwater-*.jar missing: build the Java binding first"
    return jars[0]


def driver_cmd(lang: str, request: pytest.FixtureRequest) -> List[str]:
    if lang == "rust":
        return [str(ROOT / "target/debug/examples/produce_driver")]
    if lang == "python":
        return [str(ROOT / "bindings-python/.venv/bin/python"), str(DRIVERS / "produce.py")]
    if lang == "node":
        return ["node", str(DRIVERS / "produce.js")]
    if lang == "java":
        return ["java", "-cp", str(java_jar()), str(DRIVERS / "Produce.java")]
    if lang == "c":
        return [str(request.getfixturevalue("c_driver"))]
    if lang == "go":
        return [str(request.getfixturevalue("go_driver"))]
    raise ValueError(lang)


def parse_verbose(records: List[Rec], stdout: str) -> List[Tuple[Rec, int, int]]:
    """`headwater produce -v` prints `[topic] partition P offset O` per record, in input order."""
    metas = []
    for line in stdout.splitlines():
        words = line.split()
        if len(words) == 5 and words[1] == "partition" and words[3] == "offset":
            metas.append((int(words[2]), int(words[4])))
    assert len(metas) == len(records), stdout
    return [(rec, part, off) for rec, (part, off) in zip(records, metas)]


def check_topic(cluster: RealCluster, topic: str, sent: List[Tuple[Rec, int, int]]) -> None:
    """sent: (record, partition, offset) as the producer reported them."""
    by_part: Dict[int, List[Tuple[Rec, int]]] = {}
    for rec, part, off in sent:
        p, key, _ = rec
        if p is not None:
            assert part == p, f"explicit partition {p} but metadata says {part}"
        elif key is not None:
            assert part == partition_for(key, PARTITIONS), f"key {key!r} landed in {part}"
        by_part.setdefault(part, []).append((rec, off))
    keyless = {part for (p, k, _), part, _ in sent if p is None and k is None}
    assert keyless == set(range(PARTITIONS)), f"keyless records only reached partitions {keyless}"

    for part in range(PARTITIONS):
        expected = sorted(by_part.get(part, []), key=lambda ro: ro[1])
        # Offsets are unique and contiguous from 0 (each topic is fresh).
        assert [o for _, o in expected] == list(range(len(expected))), f"partition {part} offsets"
        want = [(o, None if k is None else k.decode(), v.decode()) for (_, k, v), o in expected]
        official = official_consume(cluster, topic, part, len(expected))
        got = [(r["offset"], r["key"], r["value"]) for r in official]
        assert got == want, f"official client read partition {part} differently"
        ours = headwater_consume(cluster, topic, part)
        got = [(r["offset"], r["key"], r["value"]) for r in ours]
        assert got == want, f"headwater consume read partition {part} differently"

    # Per-key order: a key's records were stored in the order they were sent.
    order: Dict[bytes, List[int]] = {}
    for (p, key, v), part, off in sent:
        if p is None and key is not None:
            order.setdefault(key, []).append(off)
    for key, offs in order.items():
        assert offs == sorted(offs), f"key {key!r} reordered: {offs}"


@pytest.mark.parametrize("lang", ["rust", "python", "node", "java", "c", "go"])
def test_language_produces_to_real_cluster(cluster3: RealCluster, lang: str, seed: int,
                                          request: pytest.FixtureRequest) -> None:
    rng = random.Random(seed)
    topic = f"lang-{lang}-{rng.randrange(1 << 30):x}"
    cluster3.headwater("topic", "create", topic, "-p", str(PARTITIONS), "-r", "1")
    sent: List[Tuple[Rec, int, int]] = []
    for codec in CODECS:
        records = record_set(rng, lang, codec)
        res = run([*driver_cmd(lang, request), cluster3.endpoint, topic, codec, "linger_ms=20"],
                  cluster=cluster3, input=driver_input(records))
        metas = [tuple(map(int, line.split())) for line in res.stdout.splitlines() if line.strip()]
        assert len(metas) == len(records), res.stderr
        sent += [(rec, part, off) for rec, (part, off) in zip(records, metas)]
    check_topic(cluster3, topic, sent)
    cluster3.headwater("topic", "delete", topic)


def test_cli_produces_to_real_cluster(cluster3: RealCluster, seed: int) -> None:
    """`headwater produce` (keyed lines, a fixed key, an explicit partition) with every codec."""
    rng = random.Random(seed)
    topic = f"lang-cli-{rng.randrange(1 << 30):x}"
    cluster3.headwater("topic", "create", topic, "-p", str(PARTITIONS))
    sent: List[Tuple[Rec, int, int]] = []
    for codec in CODECS:
        keyed: List[Rec] = [(None, f"k{i % 5}".encode(), f"cli/{codec}/{i}".encode()) for i in range(20)]
        res = cluster3.headwater(
            "produce", topic, "--key-separator", ":", "--compression", codec, "-v",
            stdin_lines=[f"{k.decode()}:{v.decode()}" for _, k, v in keyed])
        sent += parse_verbose(keyed, res.stdout)
        part = rng.randrange(PARTITIONS)
        explicit: List[Rec] = [(part, b"fixed", f"cli/{codec}/p{i}".encode()) for i in range(5)]
        res = cluster3.headwater(
            "produce", topic, "-p", str(part), "--key", "fixed", "--compression", codec, "-v",
            stdin_lines=[v.decode() for _, _, v in explicit])
        sent += parse_verbose(explicit, res.stdout)
    # The CLI has no keyless records here (a line without separator is keyless): add some.
    keyless: List[Rec] = [(None, None, f"cli/keyless/{i}".encode()) for i in range(12)]
    res = cluster3.headwater("produce", topic, "-v", "--linger", "50ms",
                             stdin_lines=[v.decode() for _, _, v in keyless])
    sent += parse_verbose(keyless, res.stdout)
    check_topic(cluster3, topic, sent)
