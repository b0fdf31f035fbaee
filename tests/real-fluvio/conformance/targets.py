"""The two servers the conformance suite compares: the real engine (`RealCluster`, one SPU) and the
embedded broker (`headwater broker --spus 1`). Both are reached the same way: the SC address, and the
SPU address the SC publishes in its SPU metadata (read with a raw List request, like a client would)."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

from cluster import HEADWATER_BIN, RealCluster, _child_setup  # noqa: E402  (tests/real-fluvio on sys.path)

from . import messages as m
from .wire import Conn

START_DEADLINE = 60.0  # s for the embedded broker to print its endpoint
# The real SC holds a Create whose partitions cannot all go Online (replication > SPUs) for
# FLV_TOPIC_WAIT seconds (default 90) before answering TopicNotProvisioned; the suite's own
# cluster waits 8 s, which bounds that case and still leaves a busy machine time to provision
# ordinary topics.
REAL_TOPIC_WAIT = "8"


class Side:
    """One server under test: `name` is "real" or "ours"."""

    def __init__(self, name: str, sc_addr: str) -> None:
        self.name = name
        self.sc_addr = sc_addr
        self.spu_addr = self._spu_address()
        self._wait_system_topic()

    def sc(self) -> Conn:
        return Conn(self.sc_addr)

    def spu(self) -> Conn:
        return Conn(self.spu_addr)

    def _wait_system_topic(self, deadline: float = 60.0) -> None:
        """The real SC creates `consumer-offset` a moment after an SPU comes online; cases that
        list system objects or commit consumer offsets need it in place on both servers."""
        end = time.monotonic() + deadline
        while True:
            with self.sc() as c:
                c.send(m.LIST, m.SC_V, 1, m.list_req("Partition", system=True))
                kind, body = c.recv(20)
            if kind == "frame":
                items = m.list_resp(body[4:], m.SC_V)["items"]
                if any(i["name"] == "consumer-offset-0" and i["status"]["resolution"] == 1
                       for i in items):
                    return
            if time.monotonic() > end:
                raise TimeoutError(f"{self.name}: consumer-offset-0 not online after {deadline}s")
            time.sleep(0.2)

    def _spu_address(self) -> str:
        with self.sc() as c:
            c.send(m.API_VERSIONS, 2, 1, m.api_versions_req())
            kind, _ = c.recv(20)
            assert kind == "frame", f"{self.name}: no ApiVersions answer from the SC ({kind})"
            c.send(m.LIST, m.SC_V, 2, m.list_req("SPU"))
            kind, body = c.recv(20)
            assert kind == "frame", f"{self.name}: no SPU list from the SC ({kind})"
        spus = m.list_resp(body[4:], m.SC_V)["items"]
        assert len(spus) == 1, f"{self.name}: expected one SPU, got {spus}"
        public = spus[0]["spec"]["public"]
        host = public["ingress"][0][0] or public["ingress"][0][1]
        return f"{host}:{public['port']}"


@contextlib.contextmanager
def real_side(base_dir: Path) -> Iterator[Side]:
    saved = os.environ.get("FLV_TOPIC_WAIT")
    os.environ["FLV_TOPIC_WAIT"] = REAL_TOPIC_WAIT  # inherited by the SC process only
    try:
        cluster = RealCluster(1, base_dir=base_dir)
        cluster.start()
    finally:
        if saved is None:
            os.environ.pop("FLV_TOPIC_WAIT", None)
        else:
            os.environ["FLV_TOPIC_WAIT"] = saved
    try:
        yield Side("real", cluster.endpoint)
    finally:
        cluster.stop()


class EmbeddedBroker:
    def __init__(self) -> None:
        fd, self.log_path = tempfile.mkstemp(prefix="headwater-conformance-", suffix=".log")
        os.close(fd)
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> str:
        assert HEADWATER_BIN.exists(), f"{HEADWATER_BIN} not built (make build)"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(HEADWATER_BIN), "broker", "--sc-addr", "127.0.0.1:0", "--spus", "1"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                preexec_fn=_child_setup,
            )
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump() -> None:
            assert self.proc and self.proc.stdout
            for raw in self.proc.stdout:
                lines.put(raw.decode(errors="replace").strip())
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        try:
            first = lines.get(timeout=START_DEADLINE)
        except queue.Empty:
            first = None
        if not first or not first.startswith("HEADWATER_ENDPOINT="):
            self.stop()
            raise RuntimeError(f"headwater broker did not start: {first!r}\n{self.logs()}")
        return first.split("=", 1)[1]

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(timeout=10)
        self.proc = None

    def logs(self) -> str:
        return Path(self.log_path).read_text(errors="replace")[-4000:]


@contextlib.contextmanager
def our_side() -> Iterator[Side]:
    b = EmbeddedBroker()
    endpoint = b.start()
    try:
        yield Side("ours", endpoint)
    finally:
        b.stop()
