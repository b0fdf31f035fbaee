"""Interop tests: the OFFICIAL Fluvio clients against Headwater's broker.

* official Rust client (crate ``fluvio`` 0.50) through ``fluvio-interop`` (this folder's crate)
* official Python client (PyPI ``fluvio==0.21.0``) through ``official_py.py`` run by the
  ``.venv-interop`` interpreter
* our own CLI (``headwater produce`` / ``headwater consume``)

Every client runs as a subprocess with a hard timeout and low ``FLV_METADATA_TIMEOUT`` /
``FLV_SOCKET_WAIT``; every client that runs after a broker restart is a fresh process.

Paths (environment overrides): ``HEADWATER_BIN`` (default ``target/debug/headwater``),
``FLUVIO_INTEROP_BIN`` (default ``target/interop/debug/fluvio-interop``), ``INTEROP_VENV``
(default ``.venv-interop``). Prepare with ``tests/interop/setup.sh``.
"""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _path_from_env(var, default):
    p = Path(os.environ.get(var, default))
    return p if p.is_absolute() else ROOT / p


HEADWATER_BIN = _path_from_env("HEADWATER_BIN", "target/debug/headwater")
INTEROP_VENV = _path_from_env("INTEROP_VENV", ".venv-interop")
VENV_PY = INTEROP_VENV / "bin" / "python"
OFFICIAL_PY = HERE / "official_py.py"


def _interop_bin():
    if "FLUVIO_INTEROP_BIN" in os.environ:
        return _path_from_env("FLUVIO_INTEROP_BIN", "")
    # target/interop comes from tests/interop/.cargo/config.toml (cargo run from this folder);
    # tests/interop/target is where `cargo build --manifest-path ...` from elsewhere puts it.
    for cand in (
        ROOT / "target/interop/debug/fluvio-interop",
        HERE / "target/debug/fluvio-interop",
    ):
        if cand.exists():
            return cand
    return ROOT / "target/interop/debug/fluvio-interop"


INTEROP_BIN = _interop_bin()

# Deadlines: generous (a noisy 2-core machine, debug builds); they bound hangs, not speed.
BROKER_START_TIMEOUT = 60
CLIENT_TIMEOUT = 90
SCENARIO_TIMEOUT = 240

CLIENT_ENV = {
    "FLV_METADATA_TIMEOUT": "5000",  # ms; default 60 s
    "FLV_SOCKET_WAIT": "10",  # s; default 60 s
}

ENDPOINT_RE = re.compile(r"^HEADWATER_ENDPOINT=(\S+:\d+)\s*$")

pytestmark = [
    pytest.mark.skipif(
        not INTEROP_BIN.exists(),
        reason=f"official Rust client driver not built ({INTEROP_BIN}); run tests/interop/setup.sh",
    ),
    pytest.mark.skipif(
        not VENV_PY.exists(),
        reason=f"interop venv missing ({VENV_PY}); run tests/interop/setup.sh",
    ),
]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------------------------------------
# broker process


class Broker:
    """`headwater broker` as a subprocess; endpoint read from its first stdout line.

    tls=(cert, key) or (cert, key, client_ca): serve TLS (client certificates required with a CA).
    """

    def __init__(self, data_dir=None, spus=None, log_dir=None, tls=None):
        self.data_dir = data_dir
        self.spus = spus
        self.tls = tls
        self.proc = None
        self.endpoint = None
        fd, self.log_path = tempfile.mkstemp(
            prefix="headwater-broker-", suffix=".log", dir=log_dir
        )
        os.close(fd)
        self._stdout_lines = []

    def start(self):
        if not HEADWATER_BIN.exists():
            pytest.fail(
                f"broker binary {HEADWATER_BIN} not found (build it, or set HEADWATER_BIN)"
            )
        cmd = [str(HEADWATER_BIN), "broker", "--sc-addr", "127.0.0.1:0"]
        if self.data_dir is not None:
            cmd += ["--data-dir", str(self.data_dir)]
        if self.spus is not None:
            cmd += ["--spus", str(self.spus)]
        if self.tls is not None:
            cert, key, *client_ca = self.tls
            cmd += ["--tls-cert", str(cert), "--tls-key", str(key)]
            if client_ca:
                cmd += ["--tls-client-ca", str(client_ca[0])]
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=ROOT,
            )
        lines = queue.Queue()

        def pump(stream):
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self._stdout_lines.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        try:
            first = lines.get(timeout=BROKER_START_TIMEOUT)
        except queue.Empty:
            self.kill()
            pytest.fail(
                f"broker printed no endpoint line within {BROKER_START_TIMEOUT}s\n{self.logs()}"
            )
        if first is None:
            code = self.proc.wait(timeout=10)
            pytest.fail(
                f"broker exited ({code}) before printing its endpoint\n{self.logs()}"
            )
        m = ENDPOINT_RE.match(first)
        if not m:
            self.kill()
            pytest.fail(
                f"broker's first stdout line is not HEADWATER_ENDPOINT=HOST:PORT: {first!r}\n{self.logs()}"
            )
        self.endpoint = m.group(1)
        return self

    def logs(self, tail=60):
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError:
            text = ""
        err = "\n".join(text.splitlines()[-tail:])
        out = "\n".join(self._stdout_lines[-tail:])
        return f"--- broker stdout (tail) ---\n{out}\n--- broker stderr (tail, {self.log_path}) ---\n{err}"

    def kill(self):
        """SIGKILL: no shutdown code runs (crash simulation)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self):
        """SIGTERM, then SIGKILL if it does not exit within 15 s; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Broker(log_dir=tmp_path_factory.mktemp("broker-logs")).start()
    yield b
    b.stop()


# ------------------------------------------------------------------------------------------------
# running clients


def run(cmd, *, timeout=CLIENT_TIMEOUT, input=None, broker=None, check=True, env=None):
    """env: extra variables for the client; a value of None removes the variable."""
    extra = env or {}
    env = dict(os.environ)
    env.update(CLIENT_ENV)
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    try:
        res = subprocess.run(
            [str(c) for c in cmd],
            input=input,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired as e:
        out = (
            e.stdout.decode(errors="replace")
            if isinstance(e.stdout, bytes)
            else (e.stdout or "")
        )
        err = (
            e.stderr.decode(errors="replace")
            if isinstance(e.stderr, bytes)
            else (e.stderr or "")
        )
        pytest.fail(
            f"timed out after {timeout}s: {' '.join(map(str, cmd))}\nstdout:\n{out[-4000:]}\nstderr:\n{err[-4000:]}"
            + (f"\n{broker.logs()}" if broker else "")
        )
    if check and res.returncode != 0:
        pytest.fail(
            f"exit {res.returncode}: {' '.join(map(str, cmd))}\nstdout:\n{res.stdout[-4000:]}\n"
            f"stderr:\n{res.stderr[-4000:]}" + (f"\n{broker.logs()}" if broker else "")
        )
    return res


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


def rust(broker, *args, **kw):
    return run([INTEROP_BIN, *args, "--endpoint", broker.endpoint], broker=broker, **kw)


def py(broker, *args, **kw):
    return run(
        [VENV_PY, OFFICIAL_PY, *args, "--endpoint", broker.endpoint],
        broker=broker,
        **kw,
    )


def headwater(broker, *args, **kw):
    return run(
        [HEADWATER_BIN, *args, "--endpoint", broker.endpoint], broker=broker, **kw
    )


def rust_produce(
    broker, topic, count, *, key_prefix=None, compression=None, create_partitions=None
):
    args = ["produce", "--topic", topic, "--count", str(count)]
    args += ["--key-prefix", key_prefix] if key_prefix is not None else ["--null-key"]
    if compression:
        args += ["--compression", compression]
    if create_partitions:
        args += ["--create-partitions", str(create_partitions)]
    acked = json_lines(rust(broker, *args).stdout)
    assert len(acked) == count, acked
    return acked


def rust_consume(broker, topic, partition, count=None):
    args = ["consume", "--topic", topic, "--partition", str(partition)]
    if count is not None:
        args += ["--count", str(count)]
    return json_lines(rust(broker, *args).stdout)


def py_consume(broker, topic, partition, count=None):
    args = ["consume", "--topic", topic, "--partition", str(partition)]
    if count is not None:
        args += ["--count", str(count)]
    return json_lines(py(broker, *args).stdout)


def hw_consume(broker, topic, partition):
    res = headwater(
        broker, "consume", topic, "-p", str(partition), "-B", "-d", "-O", "json"
    )
    return json_lines(res.stdout)


def by_partition(acked):
    parts = {}
    for r in acked:
        parts.setdefault(r["partition"], []).append(r)
    for recs in parts.values():
        recs.sort(key=lambda r: r["offset"])
    return parts


def assert_same_records(got, expected, who):
    """got/expected: lists of {offset,key,value,...} for one partition, in offset order."""
    got_t = [(r["offset"], r["key"], r["value"]) for r in got]
    exp_t = [(r["offset"], r["key"], r["value"]) for r in expected]
    assert got_t == exp_t, f"{who}: records differ\n got: {got_t}\n expected: {exp_t}"


def assert_contiguous(records, who):
    offsets = [r["offset"] for r in records]
    assert offsets == list(range(len(offsets))), f"{who}: offsets not 0..n-1: {offsets}"


# ------------------------------------------------------------------------------------------------
# scenarios


def test_official_rust_scenario(broker):
    res = rust(
        broker, "scenario", "--topic", unique("rs-scenario"), timeout=SCENARIO_TIMEOUT
    )
    summary = json_lines(res.stdout)[-1]
    assert summary["ok"] is True
    assert summary["records"] == 5 * 25
    assert summary["null_key_records"] == 5 * 5
    assert sum(summary["per_partition"].values()) == 125
    assert summary["deleted"] is True


def test_official_python_scenario(broker):
    res = py(
        broker, "scenario", "--topic", unique("py-scenario"), timeout=SCENARIO_TIMEOUT
    )
    summary = json_lines(res.stdout)[-1]
    assert summary["ok"] is True
    assert summary["records"] == 5 * 25
    assert summary["empty_key_records"] == 5 * 5
    assert sum(summary["per_partition"].values()) == 125
    assert summary["deleted"] is True


def test_official_rust_scenario_two_spus(tmp_path):
    """Partitions spread over two SPUs: leaders resolved per partition, one socket per SPU."""
    b = Broker(spus=2, log_dir=tmp_path).start()
    try:
        res = rust(
            b,
            "scenario",
            "--topic",
            unique("rs-2spu"),
            "--partitions",
            "4",
            timeout=SCENARIO_TIMEOUT,
        )
        summary = json_lines(res.stdout)[-1]
        assert summary["ok"] is True and summary["records"] == 125
    finally:
        b.stop()


def test_official_clients_on_a_replicated_topic(tmp_path):
    """Three SPUs, replication factor 3: the official clients follow leaders from the metadata."""
    b = Broker(spus=3, log_dir=tmp_path).start()
    try:
        topic = unique("rep3")
        headwater(b, "topic", "create", topic, "-p", "3", "-r", "3")
        acked = rust_produce(b, topic, 60, key_prefix="r", compression="zstd")
        parts = by_partition(acked)
        assert len(parts) == 3, parts.keys()
        for p, expected in parts.items():
            assert_contiguous(expected, f"rep3 partition {p}")
            assert_same_records(py_consume(b, topic, p), expected, f"official Python consume p{p}")
            assert_same_records(hw_consume(b, topic, p), expected, f"headwater consume p{p}")
    finally:
        b.stop()


# ------------------------------------------------------------------------------------------------
# cross reads


def test_rust_produced_read_by_python_and_headwater(broker):
    topic = unique("x-rs")
    acked = rust_produce(
        broker, topic, 30, key_prefix="key-", compression="gzip", create_partitions=2
    )
    acked += rust_produce(
        broker, topic, 10, compression="lz4"
    )  # null keys, round-robin
    parts = by_partition(acked)
    for p in (0, 1):
        expected = parts.get(p, [])
        assert_contiguous(expected, f"acknowledged offsets of partition {p}")

        rs = rust_consume(broker, topic, p)
        assert_same_records(rs, expected, f"official Rust consume p{p}")
        pyr = py_consume(broker, topic, p)
        assert_same_records(pyr, expected, f"official Python consume p{p}")
        hw = hw_consume(broker, topic, p)
        assert all(r["partition"] == p for r in hw), hw
        assert_same_records(hw, expected, f"headwater consume p{p}")

        # all three read the same stored timestamps
        assert [r["timestamp"] for r in pyr] == [r["timestamp"] for r in rs]
        assert [r["timestamp"] for r in hw] == [r["timestamp"] for r in rs]
        assert all(r["timestamp"] > 0 for r in rs)


def test_python_count_mode_reads_exactly_n(broker):
    topic = unique("x-count")
    acked = rust_produce(broker, topic, 6, key_prefix="c", create_partitions=1)
    got = py_consume(broker, topic, 0, count=4)
    assert_same_records(got, acked[:4], "official Python consume --count 4")
    got = rust_consume(broker, topic, 0, count=6)
    assert_same_records(got, acked, "official Rust consume --count 6")


def test_headwater_produced_read_by_python(broker):
    topic = unique("x-hw")
    partitions = 3
    headwater(broker, "topic", "create", topic, "-p", str(partitions))

    n_keyed, n_null = 24, 9
    keyed_lines = "".join(f"key{i}:value-{i}\n" for i in range(n_keyed))
    headwater(broker, "produce", topic, "--key-separator", ":", input=keyed_lines)
    null_lines = "".join(f"nokey-{i}\n" for i in range(n_null))
    headwater(broker, "produce", topic, "--compression", "gzip", input=null_lines)

    expected = {f"value-{i}": f"key{i}" for i in range(n_keyed)}
    expected.update({f"nokey-{i}": None for i in range(n_null)})

    seen = {}
    for p in range(partitions):
        recs = py_consume(broker, topic, p)
        assert_contiguous(recs, f"official Python read of {topic}-{p}")
        for r in recs:
            assert r["value"] not in seen, f"{r['value']} read twice"
            seen[r["value"]] = (p, r["key"])
            assert r["timestamp"] > 0, r
    assert {v: k for v, (_, k) in seen.items()} == expected

    # our partitioner must agree with the official one: the official Rust producer sends the
    # same keys (key<i>) to a topic with the same partition count.
    ref_topic = unique("x-hw-ref")
    ref = rust_produce(
        broker, ref_topic, n_keyed, key_prefix="key", create_partitions=partitions
    )
    ref_partition = {r["key"]: r["partition"] for r in ref}
    ours = {k: seen[v][0] for v, k in expected.items() if k is not None}
    assert ours == ref_partition, (
        "keyed records landed in different partitions than with the official producer"
    )


# ------------------------------------------------------------------------------------------------
# crash recovery


def test_crash_recovery_keeps_acknowledged_records(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    topic = unique("crash")

    b1 = Broker(data_dir=data_dir, log_dir=tmp_path).start()
    try:
        acked = rust_produce(b1, topic, 40, key_prefix="c", create_partitions=2)
        acked += rust_produce(b1, topic, 10, compression="zstd")
    finally:
        b1.kill()  # SIGKILL right after the acknowledgements: no clean shutdown
    assert b1.proc.returncode == -signal.SIGKILL

    b2 = Broker(data_dir=data_dir, log_dir=tmp_path).start()
    try:
        parts = by_partition(acked)
        for p in (0, 1):
            expected = parts.get(p, [])
            assert_contiguous(expected, f"acknowledged offsets of partition {p}")
            # fresh client processes against the restarted broker
            assert_same_records(
                rust_consume(b2, topic, p),
                expected,
                f"official Rust after restart p{p}",
            )
            assert_same_records(
                py_consume(b2, topic, p),
                expected,
                f"official Python after restart p{p}",
            )
            assert_same_records(
                hw_consume(b2, topic, p),
                expected,
                f"headwater consume after restart p{p}",
            )

        # producing continues at the next offset of each partition
        more = rust_produce(b2, topic, 12, key_prefix="d")
        more += rust_produce(b2, topic, 4)
        next_offset = {p: len(parts.get(p, [])) for p in (0, 1)}
        for p, recs in by_partition(more).items():
            offsets = [r["offset"] for r in recs]
            assert offsets == list(range(next_offset[p], next_offset[p] + len(recs))), (
                f"partition {p}: new offsets {offsets} do not continue at {next_offset[p]}"
            )
        everything = by_partition(acked + more)
        for p in (0, 1):
            assert_same_records(
                rust_consume(b2, topic, p),
                everything.get(p, []),
                f"full read after restart p{p}",
            )
    finally:
        b2.stop()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
