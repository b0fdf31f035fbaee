"""TLS against the real engine: every binding and the CLI produce to `fluvio-run` serving TLS.

Two clusters of the upstream engine (SC + 2 SPUs each, `fluvio-run --tls`, certificates from
tests/fixtures/tls): one with server-only TLS, one with mutual TLS (`--enable-client-cert`). The
clients verify the SC as `headwater.test` and each SPU as `custom-spu-<id>.headwater.test` (the
official clients' SNI rule; the fixture certificate carries `*.headwater.test`), and every topic has
a partition led by each SPU, so both SPU names are verified.

* Each language's driver (drivers/README.md) and `headwater produce` send keyed, keyless and
  explicit-partition records over TLS (mutual TLS: with the client certificate); the official Rust
  client (fluvio 0.50, its own rustls TLS) and `headwater consume` read them back over TLS, each at the
  offset its metadata returned. The CLI also connects with nothing but the Fluvio profile file.
* Failures: trusting the wrong CA, plaintext to the TLS port, and (mutual TLS) no client certificate
  fail within FAIL_DEADLINE seconds, as TRANSPORT errors whose message names the TLS problem.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import time
from typing import Dict, Iterator, List

import pytest

from cluster import HEADWATER_BIN, TLS_DIR, RealCluster
from conftest import CLIENT_DEADLINE, INTEROP_BIN, headwater_consume, run
from test_languages import c_driver, driver_cmd, driver_input, parse_verbose  # noqa: F401 - c_driver: fixture

LANGS = ["rust", "python", "node", "java", "c"]
CLIENTS = LANGS + ["cli"]
MODES = ["tls", "mutual"]
SPUS = 2
PARTITIONS = 2  # replication 1 over 2 SPUs: one partition led by each SPU
CODECS = {"rust": "zstd", "python": "gzip", "node": "lz4", "java": "snappy", "c": "none", "cli": "gzip"}
# A TLS mistake must end in an error, not a retry loop: within this (seconds, JVM start included).
FAIL_DEADLINE = 60.0


# ------------------------------------------------------------------------------------------------
# clusters


def _cluster(tmp_path_factory, name: str, mutual: bool) -> Iterator[RealCluster]:
    with RealCluster(SPUS, tls=True, mutual=mutual, base_dir=tmp_path_factory.mktemp(name)) as c:
        c.headwater("topic", "create", "tls-negative", "-p", "1")
        yield c


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory) -> Iterator[RealCluster]:
    yield from _cluster(tmp_path_factory, "tls-cluster", mutual=False)


@pytest.fixture(scope="module")
def mtls_cluster(tmp_path_factory) -> Iterator[RealCluster]:
    yield from _cluster(tmp_path_factory, "mtls-cluster", mutual=True)


def cluster_for(mode: str, request: pytest.FixtureRequest) -> RealCluster:
    return request.getfixturevalue("mtls_cluster" if mode == "mutual" else "tls_cluster")


def new_topic(cluster: RealCluster, rng: random.Random, name: str) -> str:
    topic = f"{name}-{rng.randrange(1 << 30):x}"
    cluster.headwater("topic", "create", topic, "-p", str(PARTITIONS), "-r", "1")
    return topic


# ------------------------------------------------------------------------------------------------
# records and checks


def records(rng: random.Random, tag: str):
    """(explicit partition or None, key or None, value): 16 keyed, 8 keyless, 6 explicit, shuffled."""
    recs = [(None, f"k{i % 4}".encode()) for i in range(16)]
    recs += [(None, None) for _ in range(8)]
    recs += [(i % PARTITIONS, b"x" if i % 3 else None) for i in range(6)]
    rng.shuffle(recs)
    return [(p, k, f"{tag}/{i}/".encode() + b"tls" * rng.randrange(1, 40)) for i, (p, k) in enumerate(recs)]


def official_consume_tls(cluster: RealCluster, topic: str, partition: int, count: int) -> List[dict]:
    """The official Rust client reads `count` records of a partition from offset 0, over TLS."""
    res = run([INTEROP_BIN, "consume", "--endpoint", cluster.endpoint, "--topic", topic,
               "--partition", str(partition), "--count", str(count), *cluster.official_tls_args()],
              cluster=cluster)
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


def check_read_back(cluster: RealCluster, topic: str, sent) -> None:
    """sent: [((partition or None, key, value), partition, offset)] as the producer reported them."""
    by_part: Dict[int, list] = {p: [] for p in range(PARTITIONS)}
    for (p, key, value), part, off in sent:
        if p is not None:
            assert part == p, f"explicit partition {p} but metadata says {part}"
        by_part[part].append((off, None if key is None else key.decode(), value.decode()))
    for part, want in by_part.items():
        want.sort()
        assert want, f"nothing landed in partition {part}: both SPUs must be exercised"
        assert [o for o, _, _ in want] == list(range(len(want))), f"partition {part} offsets"
        got = [(r["offset"], r["key"], r["value"])
               for r in official_consume_tls(cluster, topic, part, len(want))]
        assert got == want, f"the official client read partition {part} differently over TLS"
        got = [(r["offset"], r["key"], r["value"]) for r in headwater_consume(cluster, topic, part)]
        assert got == want, f"headwater consume read partition {part} differently over TLS"
    # Both SPUs hold a partition of the topic, so the clients verified both SPU certificates.
    leaders = {sid for sid in cluster.spu_ids if any((cluster.dir / f"spu-{sid}").rglob(f"{topic}-*"))}
    assert leaders == set(cluster.spu_ids), f"partitions of {topic} only on SPUs {leaders}"


def produce_with_driver(cluster: RealCluster, lang: str, topic: str, recs, config: Dict[str, str],
                        request: pytest.FixtureRequest, **kw) -> subprocess.CompletedProcess:
    extra = [f"{k}={v}" for k, v in config.items()]
    return run([*driver_cmd(lang, request), cluster.endpoint, topic, CODECS[lang], "linger_ms=10",
                *extra], cluster=cluster, input=driver_input(recs), **kw)


def produce_with_cli(cluster: RealCluster, topic: str, recs) -> list:
    """Keyed lines (`key:value`), keyless lines, then the explicit-partition records: one run each."""
    sent = []
    keyed = [r for r in recs if r[0] is None and r[1] is not None]
    res = cluster.headwater("produce", topic, "--key-separator", ":", "--compression", CODECS["cli"],
                            "-v", stdin_lines=[f"{k.decode()}:{v.decode()}" for _, k, v in keyed])
    sent += parse_verbose(keyed, res.stdout)
    keyless = [r for r in recs if r[0] is None and r[1] is None]
    res = cluster.headwater("produce", topic, "-v", stdin_lines=[v.decode() for _, _, v in keyless])
    sent += parse_verbose(keyless, res.stdout)
    for part in range(PARTITIONS):
        # Explicit records get the fixed key "x" here (the CLI's --key applies to a whole run).
        fixed = [(p, b"x", v) for p, _, v in recs if p == part]
        res = cluster.headwater("produce", topic, "-p", str(part), "--key", "x", "-v",
                                stdin_lines=[v.decode() for _, _, v in fixed])
        sent += parse_verbose(fixed, res.stdout)
    return sent


# ------------------------------------------------------------------------------------------------
# producing over TLS


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("client", CLIENTS)
def test_produce_over_tls_and_read_back(client: str, mode: str, seed: int,
                                        request: pytest.FixtureRequest) -> None:
    cluster = cluster_for(mode, request)
    rng = random.Random(f"{seed}/{client}/{mode}")
    topic = new_topic(cluster, rng, f"tls-{mode}-{client}")
    recs = records(rng, f"{client}/{mode}")
    if client == "cli":
        sent = produce_with_cli(cluster, topic, recs)
    else:
        # tls_ca_file + tls_server_name (+ the client certificate for mutual TLS): cluster.tls_config()
        res = produce_with_driver(cluster, client, topic, recs, cluster.tls_config(), request)
        metas = [tuple(map(int, line.split())) for line in res.stdout.splitlines() if line.strip()]
        assert len(metas) == len(recs), res.stderr
        sent = [(rec, part, off) for rec, (part, off) in zip(recs, metas)]
    check_read_back(cluster, topic, sent)
    cluster.headwater("topic", "delete", topic)


@pytest.mark.parametrize("mode", MODES)
def test_cli_connects_with_the_fluvio_profile_alone(mode: str, seed: int,
                                                    request: pytest.FixtureRequest) -> None:
    """No --endpoint, no --tls-* flag: the profile's verified TLS (domain, CA, client certificate)."""
    cluster = cluster_for(mode, request)
    rng = random.Random(f"{seed}/profile/{mode}")
    topic = new_topic(cluster, rng, f"tls-{mode}-profile")
    recs = [(None, f"k{i % 3}".encode(), f"profile/{mode}/{i}".encode()) for i in range(12)]
    env = cluster.client_env()  # FLV_PROFILE_PATH: the cluster's profile (cluster.py _write_profile)
    env.pop("HEADWATER_ENDPOINT", None)
    res = subprocess.run([str(HEADWATER_BIN), "produce", topic, "--key-separator", ":", "-v"],
                         input="".join(f"{k.decode()}:{v.decode()}\n" for _, k, v in recs),
                         capture_output=True, text=True, env=env, timeout=CLIENT_DEADLINE)
    assert res.returncode == 0, f"{res.stderr}\n{cluster.logs()}"
    sent = parse_verbose(recs, res.stdout)
    for part in range(PARTITIONS):
        want = sorted((o, k.decode(), v.decode()) for (_, k, v), p, o in sent if p == part)
        got = [(r["offset"], r["key"], r["value"])
               for r in official_consume_tls(cluster, topic, part, len(want))]
        assert got == want
    cluster.headwater("topic", "delete", topic)


# ------------------------------------------------------------------------------------------------
# failing fast and clearly

# Every client prints the error kind: `[TRANSPORT] ...` (Rust's Debug form: `kind: Transport`).
TRANSPORT = r"\[TRANSPORT\]|TRANSPORT |kind: Transport"

CA = {"tls_ca_file": str(TLS_DIR / "ca.pem"), "tls_server_name": RealCluster.tls_domain}
WRONG_CA = {"tls_ca_file": str(TLS_DIR / "other-ca.pem"), "tls_server_name": RealCluster.tls_domain}

FAILURES = {
    # case: (cluster mode, client config, what the message must say)
    "wrong-ca": ("tls", WRONG_CA,
                 r"certificate verification failed: the server's certificate is not signed by a trusted CA"),
    "plaintext-to-tls": ("tls", {}, r"if the server expects TLS, set tls=true or tls_ca_file"),
    # TLS 1.3: the server checks the client's certificate after the client's handshake is done, so
    # the refusal meets the client's first read (usually: "requires") or, rarely, its first write
    # (the hint: "may require").
    "no-client-cert": ("mutual", CA,
                       r"requires? a client certificate: set tls_cert_file and tls_key_file"),
}


@pytest.mark.parametrize("case", list(FAILURES))
@pytest.mark.parametrize("client", CLIENTS)
def test_tls_mistakes_fail_fast_and_clearly(client: str, case: str,
                                            request: pytest.FixtureRequest) -> None:
    mode, config, message = FAILURES[case]
    cluster = cluster_for(mode, request)
    start = time.monotonic()
    try:
        if client == "cli":
            flags = [f"--{k.replace('_', '-')}={v}" for k, v in config.items()]
            res = run([HEADWATER_BIN, "produce", "tls-negative", "--endpoint", cluster.endpoint, *flags],
                      cluster=cluster, input="never stored\n", timeout=FAIL_DEADLINE, check=False)
        else:
            res = produce_with_driver(cluster, client, "tls-negative", [(None, None, b"never stored")],
                                      config, request, timeout=FAIL_DEADLINE, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{client} ({case}) still running after {FAIL_DEADLINE}s: a TLS mistake must fail fast")
    elapsed = time.monotonic() - start
    assert elapsed < FAIL_DEADLINE
    out = res.stdout + res.stderr
    assert res.returncode != 0, f"{client} ({case}) succeeded:\n{out}"
    assert not re.search(r"^\d+ \d+$", res.stdout, re.M), f"{client} ({case}) reported a record stored"
    assert re.search(message, out), f"{client} ({case}) failed without naming the TLS problem:\n{out}"
    assert re.search(TRANSPORT, out), f"{client} ({case}): not a TRANSPORT error:\n{out}"
    line = next(l for l in out.splitlines() if re.search(message, l))
    print(f"{client} {case}: failed in {elapsed:.1f}s: {line.strip()[:300]}")
