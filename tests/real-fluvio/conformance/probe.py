"""Runs one conformance case against one server and records what it observes.

A case talks to a `Probe`; every request it sends through `call` (and every extra frame it reads
through `read`) adds one observation to the probe's transcript: the decoded response, or the
string "closed" (the server dropped the connection without answering) or "silence" (nothing arrived
within the wait). Setup steps (`create_topic`, `produce`) are asserted, not recorded, so that a case's
transcript holds only what the case is about. Two transcripts — real engine and embedded broker —
are then compared with `==`.
"""

from __future__ import annotations

import struct
import time
from typing import Callable, List, Optional, Sequence, Tuple

from . import messages as m
from .targets import Side
from .wire import Conn, DecodeError

# How long to wait for a response that should come (bounds a hang; the real SC answers a Create
# only once the partitions are online, and a replication > SPUs create after its 3 s wait).
RESPONSE_WAIT = 15.0
# How long "nothing arrives" is watched for when silence is the expected outcome.
SILENCE_WAIT = 1.0
# See `Probe.delete_topic`.
REAL_DELETE_SETTLE = 4.0

Decoder = Callable[[bytes, int], object]


class Probe:
    def __init__(self, side: Side, prefix: str) -> None:
        self.side = side
        self.prefix = prefix
        self.transcript: List[Tuple[str, object]] = []
        self._conns: List[Conn] = []
        self._corr = 0

    # ------------------------------------------------------------------ connections

    def sc(self) -> Conn:
        c = self.side.sc()
        self._conns.append(c)
        return c

    def spu(self) -> Conn:
        c = self.side.spu()
        self._conns.append(c)
        return c

    def close(self) -> None:
        for c in self._conns:
            c.close()

    def topic(self, suffix: str = "") -> str:
        return self.prefix + suffix

    def next_corr(self) -> int:
        self._corr += 1
        return self._corr

    # ------------------------------------------------------------------ recorded traffic

    def note(self, label: str, value: object) -> None:
        self.transcript.append((label, value))

    def call(self, conn: Conn, key: int, version: int, body: bytes, decode: Decoder, label: str,
             *, wait: float = RESPONSE_WAIT, mask: Optional[Callable] = None,
             client_id: str = "conformance"):
        corr = self.next_corr()
        try:
            conn.send(key, version, corr, body, client_id)
        except OSError:  # the server already dropped the connection
            self.note(label, "closed")
            return "closed"
        return self.read(conn, decode, version, label, corr, wait=wait, mask=mask)

    def read(self, conn: Conn, decode: Decoder, version: int, label: str, corr: int, *,
             wait: float = RESPONSE_WAIT, mask: Optional[Callable] = None):
        kind, body = conn.recv(wait)
        if kind != "frame":
            self.note(label, kind)
            return kind
        got = struct.unpack(">i", body[:4])[0]
        try:
            value = decode(body[4:], version)
        except DecodeError as e:
            value = {"undecodable": str(e), "hex": body[4:].hex()}
        if mask is not None:
            value = mask(value)
        if got != corr:
            value = {"correlation_id": got, "expected": corr, "body": value}
        self.note(label, value)
        return value

    def ack_and_read(self, conn: Conn, updates, ack_label: str, stream_corr: int,
                     push_label: str, *, wait: float = RESPONSE_WAIT) -> None:
        """Sends UpdateOffsets and reads both its answer and the stream response it releases.
        The two frames race on the wire (the stream may push before the update is answered), so
        they are told apart by correlation id and recorded in a fixed order."""
        corr = self.next_corr()
        conn.send(m.UPDATE_OFFSETS, 0, corr, m.update_offsets_req(updates))
        got = {}
        for _ in range(2):
            kind, body = conn.recv(wait)
            if kind != "frame":
                break
            got[struct.unpack(">i", body[:4])[0]] = body[4:]
        for c, label, decode, version in [(corr, ack_label, m.update_offsets_resp, 0),
                                          (stream_corr, push_label, m.stream_fetch_resp, m.SPU_V)]:
            if c in got:
                try:
                    self.note(label, decode(got.pop(c), version))
                except DecodeError as e:
                    self.note(label, {"undecodable": str(e)})
            else:
                self.note(label, "silence")
        for c, body in got.items():
            self.note("unexpected frame", {"correlation_id": c, "hex": body.hex()})

    def expect_silence(self, conn: Conn, label: str, wait: float = SILENCE_WAIT) -> None:
        kind, body = conn.recv(wait)
        self.note(label, kind if kind != "frame" else {"unexpected frame": body.hex()})

    # ------------------------------------------------------------------ setup (asserted)

    def create_topic(self, name: str, partitions: int = 1, **spec) -> None:
        with self.side.sc() as c:
            c.send(m.CREATE, m.SC_V, 1, m.create_req(name, m.topic_spec(partitions, **spec)))
            kind, body = c.recv(RESPONSE_WAIT)
        assert kind == "frame", f"{self.side.name}: create {name}: {kind}"
        status = m.status_resp(body[4:], m.SC_V)
        if status["error_code"] == 2005:
            # Not online within the SC's wait (a busy machine): the topic exists; wait for it.
            self.wait_until(lambda: self._online(name, partitions), f"{name} online", 30.0)
            return
        assert status["error_code"] == 0, f"{self.side.name}: create {name}: {status}"

    def _online(self, topic: str, partitions: int) -> bool:
        with self.side.sc() as c:
            c.send(m.LIST, m.SC_V, 1, m.list_req("Partition"))
            kind, body = c.recv(RESPONSE_WAIT)
        items = m.list_resp(body[4:], m.SC_V)["items"] if kind == "frame" else []
        online = [i for i in items if i["name"].rsplit("-", 1)[0] == topic
                  and i["status"]["resolution"] == 1]
        return len(online) == partitions

    def delete_topic(self, name: str) -> None:
        """Deletes a topic that held records. The real engine needs a moment after that: a topic
        created within about a second never comes online (its partition stays Offline), so the
        real side pauses before the next case creates anything."""
        with self.side.sc() as c:
            c.send(m.DELETE, m.SC_V, 1, m.delete_req(name))
            kind, body = c.recv(RESPONSE_WAIT)
        assert kind == "frame", f"{self.side.name}: delete {name}: {kind}"
        if self.side.name == "real":
            time.sleep(REAL_DELETE_SETTLE)

    def produce(self, topic: str, batches: Sequence[bytes], partition: int = 0) -> List[int]:
        """Writes each batch as its own partition entry; returns their base offsets."""
        with self.side.spu() as c:
            body = m.produce_req([(topic, [(partition, b) for b in batches])])
            c.send(m.PRODUCE, m.SPU_V, 1, body)
            kind, frame = c.recv(RESPONSE_WAIT)
        assert kind == "frame", f"{self.side.name}: produce: {kind}"
        resp = m.produce_resp(frame[4:], m.SPU_V)
        parts = resp["responses"][0]["partitions"]
        assert all(p["error_code"] == 0 for p in parts), f"{self.side.name}: produce: {resp}"
        return [p["base_offset"] for p in parts]

    def wait_until(self, cond: Callable[[], bool], what: str, deadline: float = 10.0) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if cond():
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.side.name}: {what} not reached in {deadline}s")
