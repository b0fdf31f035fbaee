"""A TCP fault proxy for the real-engine suite: put one in front of an SPU's public port (see
`RealCluster(advertise=...)`) and switch its behaviour while a client talks through it.

    with FaultProxy(upstream_port) as p:      # listens on 127.0.0.1:p.port
        p.delay(300)      # every chunk, either way, is delivered 300 ms after it was read
        p.stall()         # silent peer: nothing is forwarded either way, connections stay open
        p.reset()         # every connection is closed with a RST (SO_LINGER 0), new ones too
        p.half_close()    # write side toward the client shut (it reads EOF); its bytes still go up
        p.blackhole()     # connections go into the void: never forwarded, never answered
        p.heal()          # pass-through again

Modes, precisely (each applies to the connections open when it is set AND to the ones accepted
while it lasts; `heal()` returns to pass-through for new connections):
  * pass-through: bytes are forwarded as read.
  * `delay(ms)`: each chunk read is delivered `ms` later (a latency, order kept; not a throughput
    cap). Chunks already queued keep their delivery time when the mode changes.
  * `stall()`: nothing is delivered either way and nothing is read from the server; what the client
    writes is read and held (up to 4 MiB per connection, then it is not read either), so that the
    proxy sees when the client gives up and closes (`client_eof_at`). `heal()` resumes a stalled
    connection: its held bytes (and the client's close) are delivered to the server then.
  * `reset()`: every connection is reset (RST to the client, the server side closed); connections
    accepted while the mode lasts are reset at once.
  * `half_close()`: `shutdown(SHUT_WR)` toward the client (it reads EOF); what the server sends is
    read and dropped, what the client sends is still forwarded (so the server may act on requests
    whose answers the client never sees). A half-closed connection stays so after `heal()`.
  * `blackhole()`: the server side of every connection is closed and the client side never gets a
    byte or a close again: what the client writes is read and dropped; new connections are accepted
    and never connected upstream. A blackholed connection stays dead after `heal()`: only its
    client closing it (EOF, recorded as `client_eof_at`; the proxy then closes it) or `stop()`
    ends it.

Bounded: one daemon thread runs a select loop (every socket is touched by that thread only, so a
RST never races a read); it stops on `stop()` (the context manager, a test fixture) or by itself
after `max_lifetime` seconds. Binds 127.0.0.1 only. Counts connections and bytes, and keeps a small
record per connection (times on `time.monotonic()`, the clock of every process on the machine) so a
test can tell when a client reconnected and when it got answers again.
"""

from __future__ import annotations

import collections
import select
import socket
import struct
import threading
import time
from typing import Deque, Dict, List, Optional, Tuple

HOLD_CAP = 4 << 20  # bytes held per connection and direction before reading stops (back-pressure)
CHUNK = 256 * 1024
MODES = ("pass", "delay", "stall", "reset", "half_close", "blackhole")


class Conn:
    """One client connection and its upstream; touched only by the proxy's loop thread (read the
    snapshots `FaultProxy.connections()` returns)."""

    def __init__(self, cid: int, client: socket.socket, now: float) -> None:
        self.id = cid
        self.client: Optional[socket.socket] = client
        self.upstream: Optional[socket.socket] = None
        self.accepted_at = now
        self.to_up: Deque[Tuple[float, bytes]] = collections.deque()
        self.to_client: Deque[Tuple[float, bytes]] = collections.deque()
        self.up_held = 0
        self.client_held = 0
        self.frozen = False
        self.blackholed = False
        self.half_closed = False
        self.client_eof = False
        self.client_eof_at: Optional[float] = None
        self.upstream_eof = False
        self.up_shut = False
        self.client_shut = False
        self.closed_at: Optional[float] = None
        self.close_reason = ""
        self.faults: List[str] = []  # every fault this connection went through, in order
        self.bytes_up = 0  # delivered to the server
        self.bytes_down = 0  # delivered to the client
        self.downs: List[Tuple[float, int]] = []  # (time, bytes) of deliveries to the client

    def snapshot(self) -> Dict:
        return {
            "id": self.id, "accepted_at": self.accepted_at, "client_eof_at": self.client_eof_at,
            "closed_at": self.closed_at, "close_reason": self.close_reason,
            "faults": list(self.faults), "bytes_up": self.bytes_up, "bytes_down": self.bytes_down,
            "downs": list(self.downs),
        }


def _rst(s: Optional[socket.socket]) -> None:
    if s is None:
        return
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def _shut_wr(s: Optional[socket.socket]) -> None:
    if s is None:
        return
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class FaultProxy:
    def __init__(self, upstream_port: int, *, port: int = 0, upstream_host: str = "127.0.0.1",
                 name: str = "", max_lifetime: float = 900.0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.name = name or f"proxy->{upstream_port}"
        self.max_lifetime = max_lifetime
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._lock = threading.Lock()
        self._commands: List[Tuple[str, float, threading.Event]] = []
        self._conns: Dict[int, Conn] = {}
        self._all: List[Conn] = []
        self._next_id = 1
        self.mode = "pass"
        self._delay = 0.0
        self.mode_log: List[Tuple[float, str]] = [(time.monotonic(), "pass")]
        self.accepted = 0
        self.resets_sent = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.upstream_connect_failures = 0
        self.error: Optional[BaseException] = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"faultproxy-{self.port}",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ control (any thread)

    def delay(self, ms: float) -> None:
        self._command("delay", ms / 1000.0)

    def stall(self) -> None:
        self._command("stall")

    def reset(self) -> None:
        self._command("reset")

    def half_close(self) -> None:
        self._command("half_close")

    def blackhole(self) -> None:
        self._command("blackhole")

    def heal(self) -> None:
        self._command("pass")

    def set_mode(self, mode: str, ms: float = 0.0) -> None:
        """`mode` by name (MODES; "heal" = "pass"); `ms` for "delay"."""
        mode = "pass" if mode == "heal" else mode
        assert mode in MODES, mode
        self._command(mode, ms / 1000.0)

    def _command(self, mode: str, arg: float = 0.0) -> None:
        done = threading.Event()
        with self._lock:
            if self._stopping or not self._thread.is_alive():
                why = f": {self.error!r}" if self.error else ""
                raise RuntimeError(f"{self.name} is stopped{why}")
            self._commands.append((mode, arg, done))
        self._wake()
        if not done.wait(10):
            raise RuntimeError(f"{self.name}: the loop did not apply `{mode}` within 10 s")

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        self._wake()
        self._thread.join(10)

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ observation (any thread)

    def connections(self) -> List[Dict]:
        """A snapshot of every connection ever accepted, oldest first."""
        with self._lock:
            return [c.snapshot() for c in self._all]

    def open_connections(self) -> int:
        with self._lock:
            return len(self._conns)

    # ------------------------------------------------------------------ the loop (its thread only)

    def _run(self) -> None:
        end = time.monotonic() + self.max_lifetime
        try:
            while True:
                with self._lock:
                    if self._stopping:
                        break
                    commands, self._commands = self._commands, []
                for mode, arg, done in commands:
                    self._apply(mode, arg)
                    done.set()
                now = time.monotonic()
                if now >= end:
                    break
                self._step(now)
        except BaseException as e:  # pragma: no cover - reported through `error` and `_command`
            self.error = e
        finally:
            self._shutdown()

    def _apply(self, mode: str, arg: float) -> None:
        now = time.monotonic()
        with self._lock:
            self.mode = mode
            self._delay = arg if mode == "delay" else 0.0
            self.mode_log.append((now, mode if mode != "delay" else f"delay {arg * 1000:.0f}ms"))
        for c in list(self._conns.values()):
            if mode == "pass" or mode == "delay":
                c.frozen = False
            else:
                self._inflict(c, mode, now)

    def _inflict(self, c: Conn, mode: str, now: float) -> None:
        c.faults.append(mode)
        if mode == "stall":
            c.frozen = True
        elif mode == "reset":
            self.resets_sent += 1
            self._close(c, now, "reset by the proxy", rst=True)
        elif mode == "half_close":
            c.half_closed = True
            c.to_client.clear()
            c.client_held = 0
            if not c.client_shut:
                _shut_wr(c.client)
                c.client_shut = True
        elif mode == "blackhole":
            c.blackholed = True
            c.frozen = False
            c.to_client.clear()
            c.to_up.clear()
            c.client_held = c.up_held = 0
            if c.upstream is not None:
                c.upstream.close()
                c.upstream = None
            if c.client_eof:
                self._close(c, now, "client closed (blackholed)")

    def _accept(self, now: float) -> None:
        while True:
            try:
                s, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                c = Conn(self._next_id, s, now)
                self._next_id += 1
                self.accepted += 1
                self._conns[c.id] = c
                self._all.append(c)
            mode = self.mode
            if mode in ("reset", "blackhole"):
                self._inflict(c, mode, now)
                continue
            try:
                up = socket.create_connection(self.upstream, timeout=2)
            except OSError as e:
                self.upstream_connect_failures += 1
                self._close(c, now, f"upstream connect failed: {e}", rst=True)
                continue
            up.setblocking(False)
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.upstream = up
            if mode in ("stall", "half_close"):
                self._inflict(c, mode, now)

    def _close(self, c: Conn, now: float, reason: str, rst: bool = False) -> None:
        if c.closed_at is not None:
            return
        if rst:
            _rst(c.client)
            _rst(c.upstream)
        else:
            for s in (c.client, c.upstream):
                if s is not None:
                    s.close()
        c.client = c.upstream = None
        c.to_up.clear()
        c.to_client.clear()
        with self._lock:
            c.closed_at = now
            c.close_reason = reason
            self._conns.pop(c.id, None)

    def _step(self, now: float) -> None:
        rl: List = [self._listener, self._wake_r]
        wl: List = []
        owner: Dict[int, Tuple[Conn, str]] = {}
        timeout = 0.2
        for c in self._conns.values():
            if c.client is not None and not c.client_eof and c.up_held < HOLD_CAP:
                rl.append(c.client)
                owner[c.client.fileno()] = (c, "client")
            if c.upstream is not None and not c.upstream_eof and not c.frozen \
                    and c.client_held < HOLD_CAP:
                rl.append(c.upstream)
                owner[c.upstream.fileno()] = (c, "upstream")
            if c.frozen:
                continue
            for q, s, side in ((c.to_client, c.client, "client"),
                               (c.to_up, c.upstream, "upstream")):
                if q and s is not None:
                    due = q[0][0]
                    if due <= now:
                        wl.append(s)
                        owner[s.fileno()] = (c, side)
                    else:
                        timeout = min(timeout, due - now)
        r, w, _ = select.select(rl, wl, [], max(timeout, 0.0))
        now = time.monotonic()
        if self._wake_r in r:
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
        if self._listener in r:
            self._accept(now)
        for s in r:
            if s is self._listener or s is self._wake_r or s.fileno() < 0:
                continue
            c, side = owner[s.fileno()]
            if c.closed_at is None:
                self._read(c, side, now)
        for s in w:
            if s.fileno() < 0:
                continue
            c, side = owner[s.fileno()]
            if c.closed_at is None:
                self._write(c, side, now)
        for c in list(self._conns.values()):
            self._maybe_finish(c, now)

    def _read(self, c: Conn, side: str, now: float) -> None:
        s = c.client if side == "client" else c.upstream
        if s is None:
            return
        try:
            data = s.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if side == "client":
                c.client_eof, c.client_eof_at = True, now
            self._close(c, now, f"{side} error: {e}")
            return
        if side == "client":
            if not data:
                c.client_eof, c.client_eof_at = True, now
                if c.blackholed:
                    self._close(c, now, "client closed (blackholed)")
                return
            if c.blackholed:
                return  # read and dropped
            c.to_up.append((now + self._delay, data))
            c.up_held += len(data)
        else:
            if not data:
                c.upstream_eof = True
                return
            if c.half_closed:
                return  # the client can no longer be written to
            c.to_client.append((now + self._delay, data))
            c.client_held += len(data)

    def _write(self, c: Conn, side: str, now: float) -> None:
        q = c.to_client if side == "client" else c.to_up
        s = c.client if side == "client" else c.upstream
        while q and q[0][0] <= now and s is not None:
            due, data = q[0]
            try:
                n = s.send(data)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._close(c, now, f"{side} error on write: {e}")
                return
            if n < len(data):
                q[0] = (due, data[n:])
            else:
                q.popleft()
            with self._lock:
                if side == "client":
                    c.client_held -= n
                    c.bytes_down += n
                    self.bytes_down += n
                    if len(c.downs) < 100_000:
                        c.downs.append((now, n))
                else:
                    c.up_held -= n
                    c.bytes_up += n
                    self.bytes_up += n
            if n < len(data):
                return

    def _maybe_finish(self, c: Conn, now: float) -> None:
        """Propagates each side's close once what it sent before was delivered; closes the pair
        when both sides are done."""
        if c.closed_at is not None or c.frozen or c.blackholed:
            return
        if c.client_eof and not c.to_up and not c.up_shut:
            _shut_wr(c.upstream)
            c.up_shut = True
        if (c.upstream_eof or c.upstream is None) and not c.to_client and not c.client_shut:
            _shut_wr(c.client)
            c.client_shut = True
        if c.client_eof and c.up_shut and (c.upstream_eof or c.upstream is None) \
                and (not c.to_client or c.half_closed):
            self._close(c, now, "both sides closed")

    def _shutdown(self) -> None:
        now = time.monotonic()
        for c in list(self._conns.values()):
            self._close(c, now, "proxy stopped")
        for s in (self._listener, self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass
        with self._lock:
            self._stopping = True
