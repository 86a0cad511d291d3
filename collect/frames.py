"""The sensor streaming protocol, host side (version 1; see docs/stream-protocol.md).

Frames are COBS-encoded and end in 0x00, so the parser resynchronises at the
next delimiter after any garbage; a CRC-32 per frame catches corruption. The
parser only turns bytes into frames and counts what it had to throw away;
sequence gaps and duplicates are judged per stream by `SequenceTracker`.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from dataclasses import dataclass, field

import numpy as np

VERSION = 1
HEADER = struct.Struct("<BBBBIIHBB")  # version, type, stream, format, sequence, timestamp_us, samples, channels, 0
CRC = struct.Struct("<I")

HELLO, DATA, STOPPED, ERROR = 1, 2, 3, 4
CMD_HELLO, CMD_START, CMD_STOP = 16, 17, 18
CONTROL, IMU, MIC, MAG = 0, 1, 2, 3
FORMAT_NONE, FORMAT_INT16, FORMAT_TEXT = 0, 1, 2
STREAM_IDS = {"imu": IMU, "mic": MIC, "mag": MAG}
FRAME_TYPES = (HELLO, DATA, STOPPED, ERROR, CMD_HELLO, CMD_START, CMD_STOP)
FORMATS = (FORMAT_NONE, FORMAT_INT16, FORMAT_TEXT)
# The largest frame the host takes (header, payload and CRC; the firmware sends at most 16 + 1024 + 4),
# and its COBS encoding without the delimiter.
MAX_FRAME_BYTES = 65536
MAX_ENCODED_BYTES = MAX_FRAME_BYTES + MAX_FRAME_BYTES // 254 + 1


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(255)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes | None:
    """The decoded bytes, or None when `data` is not valid COBS."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0 or i + code > n:
            return None
        out += data[i + 1:i + code]
        i += code
        if code < 255 and i < n:
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    type: int
    stream: int
    format: int
    sequence: int
    timestamp_us: int
    samples: int
    channels: int
    payload: bytes = b""

    def values(self) -> np.ndarray:
        """int16 samples as [samples, channels]."""
        return np.frombuffer(self.payload, dtype="<i2").reshape(self.samples, self.channels)


def encode(frame: Frame) -> bytes:
    body = HEADER.pack(VERSION, frame.type, frame.stream, frame.format, frame.sequence & 0xFFFFFFFF,
                       frame.timestamp_us & 0xFFFFFFFF, frame.samples, frame.channels, 0) + frame.payload
    return cobs_encode(body + CRC.pack(zlib.crc32(body))) + b"\x00"


def _decode(chunk: bytes) -> Frame | None:
    raw = cobs_decode(chunk)
    if raw is None or len(raw) < HEADER.size + CRC.size:
        return None
    body, (crc,) = raw[:-CRC.size], CRC.unpack(raw[-CRC.size:])
    if zlib.crc32(body) != crc:
        return None
    version, ftype, stream, fmt, seq, ts, samples, channels, _ = HEADER.unpack(body[:HEADER.size])
    payload = body[HEADER.size:]
    if version != VERSION:
        return None
    if fmt == FORMAT_INT16 and len(payload) != 2 * samples * channels:
        return None
    return Frame(ftype, stream, fmt, seq, ts, samples, channels, payload)


@dataclass
class FrameParser:
    """Bytes in, frames out. Counts corrupted frames and skipped garbage bytes.

    Memory is bounded: at most `MAX_ENCODED_BYTES` wait for a delimiter; older bytes of a longer run
    cannot belong to a frame and are dropped as garbage. Resynchronising costs time linear in the
    garbage (`scanned` counts the bytes it examined)."""
    corrupted: int = 0
    garbage_bytes: int = 0
    frames: int = 0
    bytes_seen: int = 0
    scanned: int = 0
    _pending: bytearray = field(default_factory=bytearray)

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the next delimiter."""
        return len(self._pending)

    def feed(self, data: bytes) -> list[Frame]:
        data = bytes(data)  # the same object when it already is bytes
        self.bytes_seen += len(data)
        out = []
        start = 0
        while True:
            end = data.find(0, start)
            if end < 0:
                self._pending += data[start:]
                excess = len(self._pending) - MAX_ENCODED_BYTES
                if excess > 0:  # these bytes can no longer be part of a frame
                    del self._pending[:excess]
                    self.garbage_bytes += excess
                return out
            chunk = data[start:end]
            start = end + 1
            if self._pending:
                chunk = bytes(self._pending) + chunk
                self._pending.clear()
            if len(chunk) > MAX_ENCODED_BYTES:
                self.garbage_bytes += len(chunk) - MAX_ENCODED_BYTES
                chunk = chunk[-MAX_ENCODED_BYTES:]
            if not chunk:
                continue
            frame = _decode(chunk)
            if frame is None:
                frame = self._after_garbage(chunk)
            if frame is None:
                self.corrupted += 1
            else:
                self.frames += 1
                out.append(frame)

    def _after_garbage(self, chunk: bytes) -> Frame | None:
        """Garbage glued in front of a good frame: find where the frame starts, in linear time.

        A frame's COBS code bytes chain from its first byte to the chunk's end, so one pass from the
        end finds every start whose chain lands there (and the length it would decode to). Only those
        whose header could be a frame's are decoded and CRC-checked, the shortest first (the frame is
        the chunk's tail), within a budget of a few passes over the chunk."""
        n = len(chunk)
        reach = bytearray(n + 1)  # 1: the chain of code bytes from here ends exactly at n
        reach[n] = 1
        decoded = array("I", bytes(4 * (n + 1)))  # bytes the chain from here decodes to
        for i in range(n - 1, 0, -1):
            code = chunk[i]
            nxt = i + code
            if nxt <= n and reach[nxt]:
                reach[i] = 1
                decoded[i] = code - 1 + (code < 255 and nxt < n) + decoded[nxt]
        self.scanned += 2 * n  # this pass, and the next one's look at each start's first two bytes
        budget = 4 * n
        least = HEADER.size + CRC.size
        for start in range(n - 1, 0, -1):
            if not reach[start] or not least <= decoded[start] <= MAX_FRAME_BYTES:
                continue
            if chunk[start] < 2 or chunk[start + 1] != VERSION:  # the first decoded byte is not the version
                continue
            head = _peek(chunk, start, HEADER.size)
            self.scanned += HEADER.size
            version, ftype, _, fmt, _, _, samples, channels, reserved = HEADER.unpack(head)
            if version != VERSION or ftype not in FRAME_TYPES or fmt not in FORMATS or reserved != 0:
                continue
            if fmt == FORMAT_INT16 and decoded[start] != least + 2 * samples * channels:
                continue
            if budget < n - start:
                return None  # crafted bytes full of would-be headers: give up (the chunk counts as corrupted)
            budget -= n - start
            self.scanned += n - start
            frame = _decode(chunk[start:])
            if frame is not None:
                self.garbage_bytes += start
                return frame
        return None


def _peek(chunk: bytes, start: int, count: int) -> bytes:
    """The first `count` decoded bytes of the COBS chain starting at `start` (which reaches the end)."""
    out = bytearray()
    i, n = start, len(chunk)
    while len(out) < count and i < n:
        code = chunk[i]
        out += chunk[i + 1:i + code]
        i += code
        if code < 255 and i < n:
            out.append(0)
    return bytes(out[:count])


@dataclass
class SequenceTracker:
    """Per-stream sequence numbers: counts frames lost (gaps) and duplicated (repeats)."""
    expected: int = 0
    lost: int = 0
    duplicated: int = 0

    def accept(self, sequence: int) -> bool:
        """True when the frame is new (in order or after a gap); False for a repeat."""
        if sequence < self.expected:
            self.duplicated += 1
            return False
        self.lost += sequence - self.expected
        self.expected = sequence + 1
        return True


def command(kind: int, stream: int = CONTROL) -> bytes:
    payload = bytes([stream]) if kind in (CMD_START, CMD_STOP) else b""
    return encode(Frame(kind, CONTROL, FORMAT_NONE, 0, 0, 0, 0, payload))
