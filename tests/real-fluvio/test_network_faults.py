"""Network faults between the producer and the real engine's SPU, under the producer's defaults.

A 1-SPU cluster of the upstream engine runs with its SPU behind a `FaultProxy` (the SPU's registered
public address is the proxy's port, so every client reaches the SPU through it; the SC is direct).
Each scenario streams keyless records through the Python binding (`drivers/stream.py`, every result
collected) to a 1-partition topic, applies one fault at the proxy at a seeded moment for a seeded,
bounded time, heals it, lets the stream run on, and then checks:
  * every send ends with a result and none fails (faults are far shorter than delivery_timeout_ms);
  * every acknowledged record is stored at the offset its metadata gave, as read back from offset 0
    by `headwater consume` (the official Rust consumer skips records at ~1 MB fetch boundaries
    against the real SPU, see test_faults.py, so it is only a cross-check: every record it returns
    must match); nothing is stored that was never sent; duplicates are counted (at-least-once);
  * from the proxy's connection records: a dead connection is detected (the producer opens a new
    one) within a bound — at once for reset and half-close, within timeout_ms + 10 s (the request
    timeout slack) + backoff for stall and blackhole — never for a mere delay; and the producer
    gets answers again within a bound after the heal;
  * last: every connection the producer gave up on was closed by it (the proxy sees its EOF) by
    the time it opened the next one.
Every scenario prints one JSON line, shown even without `-s` (acked, stored, duplicates, failures
by kind, detect/outage/recover times, the abandoned connections). Seeded (`HEADWATER_SEED`), never
skips, ~2-3 minutes in all.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from cluster import ROOT, RealCluster
from conftest import headwater_consume, official_read_all
from faultproxy import FaultProxy

STREAM = ROOT / "tests/real-fluvio/drivers/stream.py"
PY = ROOT / "bindings-python/.venv/bin/python"
RATE = 5_000  # records/s
TAIL = 4.0  # s the stream goes on after the heal
DRIVER_DEADLINE = 180.0  # s: the stream, its flush and every wait, on a busy machine

# The producer's defaults these bounds come from (core/src/producer/config.rs, mod.rs).
TIMEOUT_MS = 1.5  # timeout_ms: the server-side wait of a produce request
REQUEST_TIMEOUT_SLACK = 10.0  # a produce request unanswered for timeout_ms + this is abandoned
METADATA_TIMEOUT = 10.0  # metadata_timeout_ms: also the connect (and ApiVersions) timeout
BACKOFF_MAX = 5.0  # retry_backoff_max_ms


def busy_slack() -> float:
    """Seconds of slack the upper time bounds carry: 3 s, more on a loaded machine (1.5 s per unit
    of load per core, from the 1-minute load average). The lower bound of detection takes none:
    timers fire late on a busy machine, never early."""
    return max(3.0, 1.5 * os.getloadavg()[0] / (os.cpu_count() or 1))


# Fault durations (s, seeded within the range). Stall and blackhole outlast the request timeout
# (timeout_ms + 10 s) so the producer has to detect the dead connection while the fault lasts; the
# connection it opens then is stalled too (and resumes at the heal) or blackholed too (dead for
# good, so only the connect timeout frees the producer from it).
DURATIONS = {
    "delay": (4.0, 7.0),
    "stall": (13.5, 15.0),
    "reset": (3.0, 6.0),
    "half_close": (3.0, 6.0),
    "blackhole": (12.0, 14.0),
}
DETECT_WITHIN = {  # s from the fault to the producer's first new connection, before the slack
    "reset": 1.0,
    "half_close": 1.0,
    "stall": TIMEOUT_MS + REQUEST_TIMEOUT_SLACK + 0.1,
    "blackhole": TIMEOUT_MS + REQUEST_TIMEOUT_SLACK + 0.1,
}
# No dead connection is presumed before its request had its full time (minus the time the request
# may have been in flight before the fault began).
DETECT_NOT_BEFORE = TIMEOUT_MS + REQUEST_TIMEOUT_SLACK - 2.0
# A connection the producer gave up on is closed (its socket, not only marked closed) by the time it
# opens the next one: the proxy sees the client's EOF at most this long after the new connection.
CLOSE_WITHIN = 0.5


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> Iterator[Tuple[RealCluster, Dict[int, FaultProxy]]]:
    """SC + 1 SPU; the SPU registered with its proxy's port as public address."""
    proxies: Dict[int, FaultProxy] = {}
    cluster = RealCluster(1, base_dir=tmp_path_factory.mktemp("netfaults"),
                          advertise=lambda sid, port: proxies[sid].port)
    try:
        for sid in cluster.spu_ids:
            proxies[sid] = FaultProxy(cluster.spu_ports[sid][0], name=f"spu-{sid}")
        cluster.start()
        yield cluster, proxies
    finally:
        cluster.stop()
        for p in proxies.values():
            p.stop()


class Driver:
    """`drivers/stream.py` in the binding's venv; its stdout lines collected by a thread."""

    def __init__(self, cluster: RealCluster, topic: str, seconds: float, out: Path,
                 err: Path) -> None:
        self.out = out
        self.err_path = err
        self.lines: List[str] = []
        self.started = threading.Event()
        self._err = open(err, "w")
        self.proc = subprocess.Popen(
            [str(PY), str(STREAM), cluster.endpoint, topic, str(RATE), f"{seconds:.2f}", str(out)],
            stdout=subprocess.PIPE, stderr=self._err, stdin=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.strip())
            if line.strip() == "STARTED":
                self.started.set()

    def wait_started(self, deadline: float = 120.0) -> None:
        end = time.monotonic() + deadline
        while not self.started.wait(0.2):
            if self.proc.poll() is not None:
                raise AssertionError(f"the stream driver exited {self.proc.returncode} before "
                                     f"starting: {self.lines} {self.stderr()}")
            if time.monotonic() > end:
                raise AssertionError(f"the stream driver did not start within {deadline}s: "
                                     f"{self.lines} {self.stderr()}")

    def finish(self) -> Dict:
        try:
            rc = self.proc.wait(timeout=DRIVER_DEADLINE)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the stream driver did not finish within {DRIVER_DEADLINE}s "
                                 f"(a send or wait without a result?): {self.lines[-5:]}")
        self._reader.join(10)
        assert rc == 0, f"stream driver exited {rc}: {self.stderr()}"
        return json.loads(self.out.read_text())

    def stderr(self) -> str:
        self._err.flush()
        return self.err_path.read_text()[-3000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._err.close()


def apply_fault(proxy: FaultProxy, fault: str, delay_ms: Optional[float]) -> None:
    if fault == "delay":
        proxy.delay(delay_ms)
    else:
        proxy.set_mode(fault)


def timeline(conns: List[Dict], t_fault: float, t_heal: float) -> Dict:
    """Detection and recovery, from the proxy's records of this scenario's connections."""
    fresh = [c for c in conns if c["accepted_at"] >= t_fault]
    detect = fresh[0]["accepted_at"] - t_fault if fresh else None
    # The producer is answered again: the first bytes delivered to it on a connection opened after
    # the fault began (every fault here keeps the server's bytes from reaching the client on the
    # connections it touches, until the heal at least).
    answered = min((t for c in fresh for t, _ in c["downs"] if t >= t_fault), default=None)
    # Each connection the producer replaced, and when its client side closed it (None: not seen).
    abandoned = []
    for prev, nxt in zip(conns, conns[1:]):
        if "reset" in prev["faults"]:
            continue  # the proxy closed it itself
        abandoned.append({
            "conn": prev["id"], "faults": prev["faults"],
            "replaced_after_s": round(nxt["accepted_at"] - t_fault, 2),
            "client_closed_after_s": (round(prev["client_eof_at"] - t_fault, 2)
                                      if prev["client_eof_at"] is not None else None),
        })
    return {
        "connections": len(conns),
        "new_connections_after_fault": len(fresh),
        "detect_s": round(detect, 2) if detect is not None else None,
        "outage_s": round(answered - t_fault, 2) if answered is not None else None,
        "recover_after_heal_s": round(answered - t_heal, 2) if answered is not None else None,
        "abandoned": abandoned,
    }


def account(cluster: RealCluster, topic: str, results: Dict) -> Dict:
    acked = {int(i): off for i, off in results["acked"].items()}
    failed = results["failed"]
    kinds: Dict[str, int] = {}
    for kind, _ in failed.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    ours = {r["offset"]: r["value"] for r in headwater_consume(cluster, topic, 0)}
    misplaced = [(i, o, ours.get(o)) for i, o in acked.items() if ours.get(o) != str(i)]
    values = list(ours.values())
    strangers = [v for v in set(values) if not (v.isdigit() and int(v) < results["sent"])]
    official = official_read_all(cluster, topic)
    disagree = [r["offset"] for r in official if ours.get(r["offset"]) != r["value"]]
    return {
        "sent": results["sent"], "acked": len(acked), "failed": len(failed),
        "failed_by_kind": kinds, "first_failure": next(iter(failed.values()), None),
        "stored": len(ours), "stored_offsets_contiguous": sorted(ours) == list(range(len(ours))),
        "duplicates": len(values) - len(set(values)),
        "acked_not_stored_at_offset": len(misplaced), "misplaced_sample": misplaced[:5],
        "stored_never_sent": len(strangers), "official_read": len(official),
        "official_disagrees": len(disagree), "retries": results["stats"]["retries"],
        "driver_seconds": round(results["seconds"], 1),
    }


@pytest.mark.parametrize("fault", list(DURATIONS))
def test_network_fault(net, tmp_path: Path, seed: int, fault: str, capsys) -> None:
    cluster, proxies = net
    rng = random.Random(seed)
    fault_at = rng.uniform(2.0, 4.0)
    duration = rng.uniform(*DURATIONS[fault])
    delay_ms = rng.uniform(200, 800) if fault == "delay" else None
    topic = f"net-{fault.replace('_', '-')}"
    cluster.headwater("topic", "create", topic, "-p", "1")
    proxy = proxies[cluster.leader(topic)]
    assert proxy.mode == "pass" and proxy.error is None
    t_begin = time.monotonic()
    driver = Driver(cluster, topic, fault_at + duration + TAIL, tmp_path / "results.json",
                    tmp_path / "driver.err")
    try:
        driver.wait_started()
        time.sleep(fault_at)
        apply_fault(proxy, fault, delay_ms)
        t_fault = time.monotonic()
        time.sleep(duration)
        proxy.heal()
        t_heal = time.monotonic()
        results = driver.finish()
    finally:
        if proxy.mode != "pass" and proxy.error is None:
            proxy.heal()
        driver.kill()
    assert proxy.error is None, f"the proxy failed: {proxy.error!r}"
    conns = [c for c in proxy.connections() if c["accepted_at"] >= t_begin]
    times = timeline(conns, t_fault, t_heal)
    slack = busy_slack()
    summary = {
        "fault": fault, "seed": seed, "fault_at_s": round(fault_at, 2),
        "duration_s": round(duration, 2), "slack_s": round(slack, 1),
        **({"delay_ms": round(delay_ms)} if delay_ms is not None else {}),
        **account(cluster, topic, results), **times,
    }
    with capsys.disabled():
        print(f"\n{json.dumps(summary)}")

    # Every send ended with a result, and none failed: each fault is far shorter than
    # delivery_timeout_ms (120 s), so retries must carry every record through.
    assert results["sent"] == summary["acked"] + summary["failed"]
    assert not summary["failed"], (
        f"{summary['failed']} sends failed {summary['failed_by_kind']}; "
        f"first: {summary['first_failure']}")
    # Nothing acknowledged is lost or misplaced; nothing foreign is stored.
    assert summary["stored_offsets_contiguous"], "headwater consume skipped offsets"
    assert not summary["acked_not_stored_at_offset"], (
        f"acknowledged but not stored at their offsets: {summary['misplaced_sample']}")
    assert not summary["stored_never_sent"]
    assert not summary["official_disagrees"], "the official client reads other values"
    assert summary["stored"] >= summary["acked"]

    # The producer used the proxy, and its connections tell the timeline.
    assert conns and conns[0]["accepted_at"] < t_fault, "no connection before the fault"
    if fault == "delay":
        # A latency well under timeout_ms + 10 s: the connection is kept, nothing is re-sent.
        assert times["new_connections_after_fault"] == 0, times
        assert summary["retries"] == 0 and summary["duplicates"] == 0
        return
    # The producer saw the failure (its retry counter) and reconnected (the proxy's records).
    assert summary["retries"] >= 1, "no batch was retried: the fault went unnoticed"
    assert times["detect_s"] is not None, f"the producer never reconnected: {times}"
    assert times["detect_s"] <= DETECT_WITHIN[fault] + slack, (
        f"dead connection detected after {times['detect_s']}s "
        f"(bound {DETECT_WITHIN[fault] + slack:.1f}s)")
    if fault in ("stall", "blackhole"):
        assert times["detect_s"] >= DETECT_NOT_BEFORE, (
            f"connection abandoned after {times['detect_s']}s, before timeout_ms + 10 s")
    assert times["outage_s"] is not None, f"never answered on a new connection: {times}"
    if fault == "stall":
        # The connection opened during the stall resumes at the heal (its handshake is still
        # within the connect timeout), so the producer is answered at once.
        bound = slack
    elif fault == "blackhole":
        # The connection opened during the blackhole is dead for good: its handshake times out
        # (metadata_timeout_ms) before the next one.
        bound = max(0.0, times["detect_s"] + METADATA_TIMEOUT - duration) + 0.1 + slack
    else:
        # Reconnecting failed while the fault lasted; the retry backoff has grown by the heal.
        bound = BACKOFF_MAX + slack
    assert times["recover_after_heal_s"] <= bound, (
        f"answered {times['recover_after_heal_s']}s after the heal (bound {bound:.1f}s): {times}")
    # Last, so that everything above is known to hold when only this fails: each connection the
    # producer replaced was closed by it, not left open (fd, tasks, a server-side connection, and a
    # write side through which a late request can still arrive) until a replacement handshake
    # succeeds.
    lingering = [a for a in times["abandoned"] if a["client_closed_after_s"] is None
                 or a["client_closed_after_s"] > a["replaced_after_s"] + CLOSE_WITHIN]
    assert not lingering, (
        f"producer bug: connections given up on were not closed when the producer moved to a new "
        f"one (times in s from the fault): {lingering}")
