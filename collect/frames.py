"""The sensor streaming protocol, host side (version 1; see docs/stream-protocol.md).

Frames are COBS-encoded and end in 0x00, so the parser resynchronises at the
next delimiter after any garbage; a CRC-32 per frame catches corruption. The
parser only turns bytes into frames and counts what it had to throw away;
sequence gaps and duplicates are judged per stream by `SequenceTracker`.
"""

from __future__ import annotations

import struct
import zlib
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
    """Bytes in, frames out. Counts corrupted frames and skipped garbage bytes."""
    corrupted: int = 0
    garbage_bytes: int = 0
    frames: int = 0
    bytes_seen: int = 0
    _pending: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Frame]:
        self.bytes_seen += len(data)
        self._pending += data
        out = []
        while True:
            end = self._pending.find(0)
            if end < 0:
                return out
            chunk = bytes(self._pending[:end])
            del self._pending[:end + 1]
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
        """Garbage glued in front of a good frame: find where the frame starts."""
        for start in range(1, len(chunk) - HEADER.size):
            frame = _decode(chunk[start:])
            if frame is not None:
                self.garbage_bytes += start
                return frame
        return None


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
