"""Primitive Fluvio wire encoding for the conformance suite, written from scratch so that the suite
does not share a single line of codec with the code it checks (the Rust core).

Encoding rules (all integers big-endian):
  * strings: u16 byte length + UTF-8 bytes; vectors: u32 element count + elements;
  * Option<T>: one presence byte (0 / 1) followed by T when present;
  * a frame: i32 size of what follows, then the bytes;
  * request header: api_key u16, api_version i16, correlation_id i32, client_id string;
  * response header: correlation_id i32 only.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from typing import Callable, List, Optional, Tuple


class Writer:
    def __init__(self) -> None:
        self.buf = bytearray()

    def raw(self, b: bytes) -> "Writer":
        self.buf += b
        return self

    def i8(self, v: int) -> "Writer":
        return self.raw(struct.pack(">b", v))

    def u8(self, v: int) -> "Writer":
        return self.raw(struct.pack(">B", v))

    def boolean(self, v: bool) -> "Writer":
        return self.u8(1 if v else 0)

    def i16(self, v: int) -> "Writer":
        return self.raw(struct.pack(">h", v))

    def u16(self, v: int) -> "Writer":
        return self.raw(struct.pack(">H", v))

    def i32(self, v: int) -> "Writer":
        return self.raw(struct.pack(">i", v))

    def u32(self, v: int) -> "Writer":
        return self.raw(struct.pack(">I", v))

    def i64(self, v: int) -> "Writer":
        return self.raw(struct.pack(">q", v))

    def u64(self, v: int) -> "Writer":
        return self.raw(struct.pack(">Q", v))

    def string(self, s: str) -> "Writer":
        b = s.encode()
        return self.u16(len(b)).raw(b)

    def opt(self, v, put: Callable[["Writer", object], object]) -> "Writer":
        if v is None:
            return self.u8(0)
        self.u8(1)
        put(self, v)
        return self

    def opt_string(self, v: Optional[str]) -> "Writer":
        return self.opt(v, lambda w, s: w.string(s))

    def vec(self, items, put: Callable[["Writer", object], object]) -> "Writer":
        self.u32(len(items))
        for it in items:
            put(self, it)
        return self

    def byte_vec(self, b: bytes) -> "Writer":
        return self.u32(len(b)).raw(b)

    def bytes(self) -> bytes:
        return bytes(self.buf)


class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError(f"need {n} bytes at {self.pos}, have {self.remaining()}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _unpack(self, fmt: str, n: int) -> int:
        return struct.unpack(fmt, self.take(n))[0]

    def i8(self) -> int:
        return self._unpack(">b", 1)

    def u8(self) -> int:
        return self._unpack(">B", 1)

    def boolean(self) -> bool:
        v = self.u8()
        if v not in (0, 1):
            raise DecodeError(f"bad bool {v}")
        return v == 1

    def i16(self) -> int:
        return self._unpack(">h", 2)

    def u16(self) -> int:
        return self._unpack(">H", 2)

    def i32(self) -> int:
        return self._unpack(">i", 4)

    def u32(self) -> int:
        return self._unpack(">I", 4)

    def i64(self) -> int:
        return self._unpack(">q", 8)

    def u64(self) -> int:
        return self._unpack(">Q", 8)

    def string(self) -> str:
        n = self.i16()
        if n <= 0:
            return ""
        return self.take(n).decode()

    def opt(self, get: Callable[["Reader"], object]):
        return get(self) if self.boolean() else None

    def vec(self, get: Callable[["Reader"], object]) -> list:
        n = self.i32()
        return [get(self) for _ in range(max(n, 0))]

    def byte_vec(self) -> bytes:
        n = self.i32()
        return self.take(max(n, 0))

    def end(self) -> None:
        if self.remaining():
            raise DecodeError(f"{self.remaining()} bytes left over at {self.pos}")


# ---------------------------------------------------------------------------------------- varint / CRC

def varint(n: int) -> bytes:
    """ZigZag + base-128, least significant group first (only small values are ever needed)."""
    z = (n << 1) ^ (n >> 63)
    z &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(r: Reader) -> int:
    shift = 0
    z = 0
    for _ in range(10):
        b = r.u8()
        z |= (b & 0x7F) << shift
        if not b & 0x80:
            return (z >> 1) ^ -(z & 1)
        shift += 7
    raise DecodeError("varint too long")


def _crc32c_table() -> List[int]:
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---------------------------------------------------------------------------------------- frames

class Conn:
    """One TCP connection speaking size-prefixed frames."""

    def __init__(self, addr: str, timeout: float = 10.0) -> None:
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed = False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def send(self, api_key: int, version: int, corr: int, body: bytes,
             client_id: str = "conformance") -> None:
        self.send_raw(request_frame(api_key, version, corr, body, client_id))

    def _fill(self, deadline: float) -> bool:
        """Reads more bytes; False on timeout. Sets `closed` on EOF or reset."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([self.sock], [], [], left)
        if not ready:
            return False
        try:
            chunk = self.sock.recv(1 << 20)
        except (ConnectionResetError, OSError):
            chunk = b""
        if not chunk:
            self.closed = True
            return True
        self.buf += chunk
        return True

    def recv(self, timeout: float) -> Tuple[str, Optional[bytes]]:
        """("frame", body) | ("closed", None) | ("silence", None) within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">i", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return "frame", body
            if self.closed:
                return "closed", None
            if not self._fill(deadline):
                return "silence", None


def request_frame(api_key: int, version: int, corr: int, body: bytes,
                  client_id: str = "conformance") -> bytes:
    head = Writer().u16(api_key).i16(version).i32(corr).string(client_id).bytes()
    payload = head + body
    return struct.pack(">i", len(payload)) + payload
