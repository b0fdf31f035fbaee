"""Topic administration against the real SC, and the same error kinds as the embedded broker.

Every admin call goes through `headwater topic ...` (core's Admin); the official Python client
lists the topics independently, so a create is checked by someone else's reading of the SC.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Iterator, List

import pytest

from cluster import EmbeddedBroker, RealCluster


def official_topics(cluster: RealCluster) -> List[str]:
    """Topic names as the official Python client lists them (it exposes names only)."""
    code = (
        "import json; from fluvio import FluvioAdmin, FluvioConfig\n"
        f"a = FluvioAdmin.connect_with_config(FluvioConfig.new('{cluster.endpoint}'))\n"
        "print(json.dumps([t.name() for t in a.list_topics([])]))\n"
    )
    # This suite runs in the interop venv, which has the official client.
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=cluster.client_env())
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def embedded() -> Iterator[EmbeddedBroker]:
    """The embedded broker (1 SPU), for the same-error-kind checks."""
    b = EmbeddedBroker().start()
    yield b
    b.kill()


def error_kind(stderr: str) -> str:
    """`error: [KIND ...] message` -> KIND and broker code (e.g. `BROKER 2006 TopicInvalidName`)."""
    m = re.match(r"error: \[([^\]]+)\]", stderr.strip())
    assert m, stderr
    return m.group(1)


def test_create_list_delete_with_every_option(cluster3: RealCluster) -> None:
    cluster3.headwater("topic", "create", "adm-full", "-p", "3", "-r", "2",
                       "--compression-type", "lz4", "--retention-time", "1h",
                       "--segment-size", "1000000", "--max-partition-size", "50000000")
    cluster3.headwater("topic", "create", "adm-plain")
    listed = cluster3.headwater("topic", "list").stdout
    rows = {line.split()[0]: line.split()[1:] for line in listed.splitlines()[1:] if line.strip()}
    assert rows["adm-full"] == ["3", "2", "lz4", "Provisioned"], listed
    assert rows["adm-plain"] == ["1", "1", "any", "Provisioned"], listed
    theirs = official_topics(cluster3)
    assert "adm-full" in theirs and "adm-plain" in theirs, theirs

    cluster3.headwater("topic", "delete", "adm-full")
    cluster3.headwater("topic", "delete", "adm-plain")
    listed = cluster3.headwater("topic", "list").stdout
    assert "adm-full" not in listed and "adm-plain" not in listed
    assert "adm-full" not in official_topics(cluster3)


CASES: List[tuple] = [
    # (name, setup commands, failing command, stdin)
    ("duplicate", [["topic", "create", "dup-t"]], ["topic", "create", "dup-t"], ""),
    ("bad name", [], ["topic", "create", "Bad_Name"], ""),
    ("replication above SPUs", [], ["topic", "create", "rf-t", "-r", "5"], ""),
    ("delete unknown", [], ["topic", "delete", "no-such-topic"], ""),
    ("produce to unknown topic", [], ["produce", "no-such-topic"], "v\n"),
    ("codec policy mismatch", [["topic", "create", "gz-t", "--compression-type", "gzip"]],
     ["produce", "gz-t", "--compression", "lz4"], "v\n"),
    ("unknown partition", [["topic", "create", "one-p"]], ["produce", "one-p", "-p", "7"], "v\n"),
]


@pytest.mark.parametrize("name,setup,cmd,stdin", CASES, ids=[c[0] for c in CASES])
def test_same_error_kind_as_embedded_broker(cluster3: RealCluster, embedded: EmbeddedBroker, name: str,
                                            setup: list, cmd: list, stdin: str) -> None:
    kinds = {}
    for where, target in (("real", cluster3), ("embedded", embedded)):
        for s in setup:
            target.headwater(*s)
        res = target.headwater(*cmd, check=False, stdin_lines=stdin.splitlines())
        assert res.returncode != 0, f"{where}: {cmd} succeeded"
        kinds[where] = error_kind(res.stderr)
    assert kinds["real"] == kinds["embedded"], kinds
    for s in setup:  # clean up the topics this case made
        if s[:2] == ["topic", "create"]:
            cluster3.headwater("topic", "delete", s[2])
