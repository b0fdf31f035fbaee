"""A real Fluvio cluster (SC + N SPUs, upstream `fluvio-run`) on loopback, for tests.

`RealCluster(n_spus).start()` picks free ports, writes a client profile, starts the SC, registers
each SPU with `headwater cluster spu register` (the Fluvio CLI's command, so the Fluvio CLI need not
be built), starts the SPUs and waits until the SC reports every one Online. Every process runs in its
own process group with a parent-death signal, is tracked in a module registry and is killed by
`stop()`, at interpreter exit, on SIGTERM/SIGINT, and by the kernel if the test process dies (no
orphans). Logs are kept in the cluster's folder and their tails are printed when something fails.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
HEADWATER_BIN = Path(os.environ.get("HEADWATER_BIN", ROOT / "target/debug/headwater"))
TLS_DIR = ROOT / "tests/fixtures/tls"

START_DEADLINE = 120.0  # s: SC up, SPUs Online (a busy 2-core machine; bounds hangs, not speed)
ADMIN_DEADLINE = 60.0

_live: Dict[int, subprocess.Popen] = {}
_live_lock = threading.Lock()


def _kill_all() -> None:
    with _live_lock:
        procs = list(_live.values())
        _live.clear()
    for p in procs:
        _kill_group(p)


def _kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _on_signal(signum, frame):  # pragma: no cover - only on interruption
    _kill_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


atexit.register(_kill_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_sig) in (signal.SIG_DFL, None):
        signal.signal(_sig, _on_signal)

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup() -> None:
    # Own process group (killpg takes the SPU's helpers too); SIGKILL when the test process dies.
    os.setpgrp()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def fluvio_run_binary() -> Path:
    """Builds (or reuses) the cached `fluvio-run`; a failure here fails the suite, never skips."""
    env_bin = os.environ.get("FLUVIO_RUN_BIN")
    if env_bin:
        return Path(env_bin)
    out = subprocess.run(
        ["bash", str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True, check=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def free_ports(n: int) -> List[int]:
    """n distinct free loopback ports (held open together so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_port(port: int, deadline: float, proc: Optional[subprocess.Popen] = None) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"port {port} not open after {deadline}s")


class RealCluster:
    """SC + `n_spus` SPUs of the real engine. `tls=True` serves TLS (mutual with `mutual=True`)."""

    def __init__(self, n_spus: int = 1, *, tls: bool = False, mutual: bool = False,
                 base_dir: Optional[Path] = None,
                 advertise: Optional[Callable[[int, int], int]] = None) -> None:
        """`advertise(spu_id, public_port)` gives the port to register as the SPU's public address
        (e.g. a fault proxy's port in front of it); by default the SPU's own port."""
        self.advertise = advertise or (lambda sid, port: port)
        self.n_spus = n_spus
        self.tls = tls
        self.mutual = mutual
        self.dir = Path(base_dir or tempfile.mkdtemp(prefix="hw-real-fluvio-"))
        self.bin = fluvio_run_binary()
        ports = free_ports(2 + 3 * n_spus)
        self.sc_public, self.sc_private = ports[0], ports[1]
        self.spu_ids = [5001 + i for i in range(n_spus)]
        # Per SPU: public (clients), private (SC and other SPUs), and — with TLS — the plaintext
        # public service behind it: with --tls, `fluvio-run` serves TLS on the public address as a
        # proxy forwarding to the plaintext --bind-non-tls-public one (private ports stay plaintext).
        self.spu_ports = {
            sid: (ports[2 + 3 * i], ports[3 + 3 * i], ports[4 + 3 * i])
            for i, sid in enumerate(self.spu_ids)
        }
        self.sc: Optional[subprocess.Popen] = None
        self.spus: Dict[int, subprocess.Popen] = {}
        self.profile = self.dir / "profile.toml"

    # ------------------------------------------------------------------ addresses and environment

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.sc_public}"

    def spu_endpoint(self, sid: int) -> str:
        return f"127.0.0.1:{self.spu_ports[sid][0]}"

    def client_env(self) -> Dict[str, str]:
        """Environment for the official clients and `headwater` (profile file, short timeouts)."""
        env = dict(os.environ)
        env["FLV_PROFILE_PATH"] = str(self.profile)
        env.setdefault("FLV_METADATA_TIMEOUT", "10000")
        env.setdefault("FLV_SOCKET_WAIT", "10")
        return env

    def _write_profile(self) -> None:
        if self.tls:
            # Fluvio's profile format: verified TLS from files, the certificates under `.certs`; the
            # domain is what the SC's certificate is checked against (SPUs: <spu-name>.<domain>).
            # The client certificate is given in both modes (unused unless the cluster asks for it).
            tls = (
                'tls_policy = "verified"\n'
                'tls_source = "files"\n'
                "[cluster.local.tls.certs]\n"
                f'domain = "{self.tls_domain}"\n'
                f'ca_cert = "{TLS_DIR / "ca.pem"}"\n'
                f'cert = "{TLS_DIR / "client.pem"}"\n'
                f'key = "{TLS_DIR / "client.key"}"\n'
            )
        else:
            tls = 'tls_policy = "disabled"\n'
        self.profile.write_text(
            'version = "2.0"\ncurrent_profile = "local"\n[profile.local]\ncluster = "local"\n'
            f'[cluster.local]\nendpoint = "{self.endpoint}"\nuse_spu_local_address = false\n'
            f"[cluster.local.tls]\n{tls}"
        )

    # The TLS domain: tests/fixtures/tls/server.pem is valid for it and for *.<domain>, because
    # clients verify the SC as <domain> and each SPU as <spu-name>.<domain> (custom-spu-5001.<domain>).
    tls_domain = "headwater.test"

    # ------------------------------------------------------------------ processes

    def _spawn(self, name: str, args: List[str]) -> subprocess.Popen:
        log = open(self.dir / f"{name}.log", "ab")
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        p = subprocess.Popen(
            [str(self.bin), *args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_child_setup, env=env, cwd=self.dir,
        )
        log.close()
        with _live_lock:
            _live[p.pid] = p
        return p

    def _reap(self, p: Optional[subprocess.Popen]) -> None:
        if p is None:
            return
        _kill_group(p)
        with _live_lock:
            _live.pop(p.pid, None)

    def _tls_args(self) -> List[str]:
        if not self.tls:
            return []
        args = ["--tls", "--server-cert", str(TLS_DIR / "server.pem"),
                "--server-key", str(TLS_DIR / "server.key")]
        if self.mutual:
            args += ["--enable-client-cert", "--ca-cert", str(TLS_DIR / "ca.pem")]
        return args

    def start_sc(self) -> None:
        args = ["sc", "--local", str(self.dir / "metadata"),
                "--bind-public", self.endpoint, "--bind-private", f"127.0.0.1:{self.sc_private}"]
        if self.tls:
            # TLS on the public port, proxied to the plaintext public service on this one (the SC
            # refuses --tls without it; SPUs talk to the private port, which stays plaintext).
            args += self._tls_args() + ["--bind-non-tls-public", f"127.0.0.1:{self.spare_sc_port}"]
        self.sc = self._spawn("sc", args)
        wait_port(self.sc_public, START_DEADLINE, self.sc)
        wait_port(self.sc_private, START_DEADLINE, self.sc)

    def start_spu(self, sid: int, wait_online: bool = True) -> None:
        public, private, plain = self.spu_ports[sid]
        args = ["spu", "-i", str(sid), "-p", f"127.0.0.1:{public}", "-v", f"127.0.0.1:{private}",
                "--sc-addr", f"127.0.0.1:{self.sc_private}",
                "--log-base-dir", str(self.dir / f"spu-{sid}")]
        if self.tls:
            args += self._tls_args() + ["--bind-non-tls-public", f"127.0.0.1:{plain}"]
        self.spus[sid] = self._spawn(f"spu-{sid}", args)
        wait_port(public, START_DEADLINE, self.spus[sid])
        if wait_online:
            self.wait_spus(lambda online: sid in online)

    def kill_spu(self, sid: int) -> None:
        """kill -9 the SPU process (its data folder stays, as after a crash)."""
        self._reap(self.spus.pop(sid, None))

    def kill_sc(self) -> None:
        self._reap(self.sc)
        self.sc = None

    def headwater(self, *args: str, timeout: float = ADMIN_DEADLINE, check: bool = True,
                  stdin_lines: Optional[List[str]] = None) -> subprocess.CompletedProcess:
        """Runs the `headwater` CLI against this cluster (TLS flags added when it serves TLS)."""
        cmd = [str(HEADWATER_BIN), *args, "--endpoint", self.endpoint, *self.tls_flags()]
        stdin = "".join(line + "\n" for line in stdin_lines) if stdin_lines is not None else None
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             env=self.client_env(), input=stdin,
                             stdin=None if stdin is not None else subprocess.DEVNULL)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr}")
        return res

    def tls_flags(self) -> List[str]:
        """`headwater` CLI flags for this cluster (the drivers take the same keys: `tls_config`)."""
        return [f"--{k.replace('_', '-')}={v}" for k, v in self.tls_config().items()]

    def tls_config(self) -> Dict[str, str]:
        """Producer config keys (snake_case) that reach this cluster; `{}` for plaintext."""
        if not self.tls:
            return {}
        config = {"tls_ca_file": str(TLS_DIR / "ca.pem"), "tls_server_name": self.tls_domain}
        if self.mutual:
            config["tls_cert_file"] = str(TLS_DIR / "client.pem")
            config["tls_key_file"] = str(TLS_DIR / "client.key")
        return config

    def official_tls_args(self) -> List[str]:
        """The official client driver's (`fluvio-interop`) global TLS options; `[]` for plaintext.
        It always presents the client certificate (the cluster ignores it unless mutual)."""
        if not self.tls:
            return []
        return ["--tls-domain", self.tls_domain, "--tls-ca", str(TLS_DIR / "ca.pem"),
                "--tls-cert", str(TLS_DIR / "client.pem"), "--tls-key", str(TLS_DIR / "client.key")]

    def leader(self, topic: str, partition: int = 0) -> int:
        """The SPU leading `topic`-`partition`, as `headwater partition list` reports it."""
        for line in self.headwater("partition", "list").stdout.splitlines()[1:]:
            words = line.split()
            if words[:2] == [topic, str(partition)]:
                return int(words[2])
        raise AssertionError(f"{topic}-{partition} not listed")

    def online_spus(self) -> List[int]:
        res = self.headwater("cluster", "spu", "list", check=False)
        online = []
        for line in res.stdout.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "Online":
                online.append(int(parts[0]))
        return online

    def wait_spus(self, cond, deadline: float = START_DEADLINE) -> List[int]:
        end = time.monotonic() + deadline
        online: List[int] = []
        while time.monotonic() < end:
            online = self.online_spus()
            if cond(online):
                return online
            time.sleep(0.2)
        raise TimeoutError(f"SPUs online after {deadline}s: {online}\n{self.logs()}")

    def start(self) -> "RealCluster":
        self.dir.mkdir(parents=True, exist_ok=True)
        self.spare_sc_port = free_ports(1)[0]
        self._write_profile()
        try:
            self.start_sc()
            for sid in self.spu_ids:
                public, private, _ = self.spu_ports[sid]
                self.headwater("cluster", "spu", "register", "--id", str(sid),
                               "--public-server", f"127.0.0.1:{self.advertise(sid, public)}",
                               "--private-server", f"127.0.0.1:{private}")
            for sid in self.spu_ids:
                self.start_spu(sid, wait_online=False)
            self.wait_spus(lambda online: sorted(online) == self.spu_ids)
        except BaseException:
            sys.stderr.write(self.logs())
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for sid in list(self.spus):
            self.kill_spu(sid)
        self.kill_sc()
        if os.environ.get("HEADWATER_KEEP_CLUSTER_DIR") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self, tail: int = 40) -> str:
        out = []
        for f in sorted(self.dir.glob("*.log")):
            lines = f.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"---- {f.name} (last {len(lines)} lines)\n" + "\n".join(lines))
        return "\n".join(out) + "\n"

    def __enter__(self) -> "RealCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class EmbeddedBroker:
    """`headwater broker` (1 SPU) on fixed ports, optionally with a data folder: the embedded broker,
    restartable in place. Offers what the tests use of a RealCluster (endpoint, headwater, client_env)."""

    def __init__(self, data_dir: Optional[Path] = None) -> None:
        self.data_dir = data_dir
        self.sc_port, self.spu_port = free_ports(2)
        self.endpoint = f"127.0.0.1:{self.sc_port}"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "EmbeddedBroker":
        args = [str(HEADWATER_BIN), "broker", "--sc-addr", self.endpoint,
                "--spu-ports", str(self.spu_port)]
        if self.data_dir is not None:
            args += ["--data-dir", str(self.data_dir)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, text=True, preexec_fn=_child_setup)
        with _live_lock:
            _live[self.proc.pid] = self.proc
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("HEADWATER_ENDPOINT="), line
        return self

    def kill(self) -> None:
        """SIGKILL (the data folder stays, as after a crash)."""
        if self.proc is not None:
            _kill_group(self.proc)
            with _live_lock:
                _live.pop(self.proc.pid, None)
            self.proc = None

    def client_env(self) -> Dict[str, str]:
        return dict(os.environ)

    def headwater(self, *args: str, timeout: float = ADMIN_DEADLINE, check: bool = True,
                  stdin_lines: Optional[List[str]] = None) -> subprocess.CompletedProcess:
        stdin = "".join(line + "\n" for line in stdin_lines) if stdin_lines is not None else None
        res = subprocess.run([str(HEADWATER_BIN), *args, "--endpoint", self.endpoint],
                             capture_output=True, text=True, timeout=timeout, input=stdin,
                             stdin=None if stdin is not None else subprocess.DEVNULL)
        if check and res.returncode != 0:
            raise RuntimeError(f"headwater {' '.join(args)} exited {res.returncode}: {res.stderr}")
        return res

    def logs(self) -> str:
        return ""
