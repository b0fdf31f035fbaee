"""Fixtures of the real-engine suite: clusters of the upstream Fluvio engine and the programs that
talk to them. Nothing here skips: a cluster that cannot be built or started fails the suite."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vectors"))

from cluster import HEADWATER_BIN, ROOT, RealCluster  # noqa: E402

INTEROP_BIN = Path(os.environ.get("FLUVIO_INTEROP_BIN", ROOT / "target/interop/debug/fluvio-interop"))
CLIENT_DEADLINE = 180.0  # s per client process: bounds a hang on a busy machine, not speed


@pytest.fixture(scope="session")
def cluster3(tmp_path_factory) -> Iterator[RealCluster]:
    """SC + 3 SPUs, shared by the tests that only create their own topics."""
    with RealCluster(3, base_dir=tmp_path_factory.mktemp("cluster3")) as c:
        yield c


@pytest.fixture
def seed() -> int:
    s = int(os.environ.get("HEADWATER_SEED", random.randrange(1 << 32)))
    print(f"seed={s} (HEADWATER_SEED={s} repeats this run)")
    return s


def run(cmd: List[str], *, cluster: Optional[RealCluster] = None, input: Optional[str] = None,
        timeout: float = CLIENT_DEADLINE, check: bool = True) -> subprocess.CompletedProcess:
    env = cluster.client_env() if cluster else dict(os.environ)
    res = subprocess.run([str(c) for c in cmd], input=input, capture_output=True, text=True,
                         timeout=timeout, env=env)
    if check and res.returncode != 0:
        logs = cluster.logs() if cluster else ""
        raise AssertionError(
            f"{cmd[0]} exited {res.returncode}\nstdout: {res.stdout[-3000:]}\nstderr: {res.stderr[-3000:]}\n{logs}"
        )
    return res


def official_consume(cluster: RealCluster, topic: str, partition: int, count: int) -> List[dict]:
    """Reads a partition from offset 0 with the official Rust client (fluvio 0.50): exactly `count`
    records as {offset, key (None = no key), value}."""
    res = run([INTEROP_BIN, "consume", "--endpoint", cluster.endpoint, "--topic", topic,
               "--partition", str(partition), "--count", str(count)], cluster=cluster)
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


def official_read_all(cluster: RealCluster, topic: str, partition: int = 0) -> List[dict]:
    """The whole partition as the official Rust client reads it (up to the end, no count). Its socket
    wait is raised to 30 s and a failed attempt is repeated (twice at most): on a loaded machine the
    SC can take more than its default 10 s to answer, and this reader is a cross-check only."""
    cmd = [str(INTEROP_BIN), "consume", "--endpoint", cluster.endpoint, "--topic", topic,
           "--partition", str(partition)]
    env = {**cluster.client_env(), "FLV_SOCKET_WAIT": "30"}
    for _ in range(3):
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=CLIENT_DEADLINE, env=env)
        if res.returncode == 0:
            return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    raise AssertionError(f"the official consumer failed 3 times; last: exit {res.returncode}\n"
                         f"{res.stderr[-3000:]}\n{cluster.logs()}")


def headwater_consume(cluster: RealCluster, topic: str, partition: int) -> List[dict]:
    res = cluster.headwater("consume", topic, "-p", str(partition), "-B", "-d", "-O", "json",
                            timeout=CLIENT_DEADLINE)
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


assert HEADWATER_BIN  # imported for the tests
