"""Recording from a streaming device: handshake, start, collect exactly N samples, stop.

Works on any pyserial-like port (read/write/close): a board over USB, QEMU's
emulated UART over socket://, or a test transport that injects faults.
Nothing is lost silently: every gap in a stream's sequence numbers, every
corrupted frame and every duplicate is counted and goes into the manifest.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from tinyml.collect import frames as fr
from tinyml.errors import TinymlError, expected


class LinkLost(TinymlError):
    """The device stopped answering or the port went away."""


MAX_RATE_HZ = 1_000_000
MAX_SCALE = 1e30
_NAME = re.compile(r"[A-Za-z0-9_]{1,32}")  # stream names and axes (the axes become CSV column names)
_CHECK_FIRMWARE = "Check that tinyml's streaming firmware (tinyml collect --firmware) is running on this port."


@dataclass
class StreamInfo:
    id: int
    name: str
    rate_hz: int
    channels: int
    frame_samples: int
    axes: list[str]
    units: list[str]
    scale: list[float]


@dataclass
class Capture:
    """One recording: samples 0..wanted-1 of a stream, with what went missing."""
    stream: StreamInfo
    values: np.ndarray  # int16 [wanted, channels]; zeros where samples are missing
    present: np.ndarray  # bool [wanted]
    timestamps_us: np.ndarray  # int64 [wanted], device clock
    frames: int = 0
    lost: int = 0
    corrupted: int = 0
    duplicated: int = 0

    @property
    def samples_missing(self) -> int:
        return int(np.count_nonzero(~self.present))

    @property
    def lossless(self) -> bool:
        return self.lost == 0 and self.corrupted == 0 and self.samples_missing == 0

    def quality(self) -> dict:
        return {"frames": self.frames, "frames_lost": self.lost, "frames_corrupted": self.corrupted,
                "frames_duplicated": self.duplicated, "samples_missing": self.samples_missing}


def _shown(value, limit: int = 60) -> str:
    """A value from the device, quoted on one line and cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _printable(value, limit: int = 60) -> str | None:
    """Text from the device, safe to print on one line."""
    if value is None:
        return None
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer of hundreds of digits
        return False


def _hello_error(field: str, value) -> Exception:
    return expected(f"a hello from the device with {field} (docs/stream-protocol.md)", _shown(value), _CHECK_FIRMWARE)


def _integer(entry: dict, key: str, low: int, high: int) -> int:
    value = entry.get(key)
    if type(value) is not int or not low <= value <= high:  # JSON true/false are not numbers here
        raise _hello_error(f"each stream's {key} an integer in {low}..{high}", value)
    return value


def _is_name(value) -> bool:
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def _is_unit(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 32 and value.isprintable()


def _is_scale(value) -> bool:
    """A finite number small enough that int16 x scale stays a finite float32."""
    return type(value) in (int, float) and _finite(value) and abs(value) <= MAX_SCALE


def _per_channel(entry: dict, key: str, count: int, ok, what: str) -> list:
    value = entry.get(key)
    if not isinstance(value, list) or len(value) != count or not all(ok(v) for v in value):
        raise _hello_error(f"each stream's {key} a list of {count} {what} (one per channel)", value)
    return list(value)


def parse_hello(payload: bytes) -> tuple[dict, dict[str, StreamInfo]]:
    """The device's hello: what it says about itself (firmware, board, imu; printable) and its
    streams by name. Anything but the documented JSON is refused in one line (BadInput)."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise _hello_error("UTF-8 JSON", payload[:20]) from None
    except (ValueError, RecursionError):  # not JSON, an integer of thousands of digits, nesting too deep
        raise _hello_error("a JSON object", payload[:20]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("streams"), list) or not doc["streams"]:
        raise _hello_error("a list of streams", doc.get("streams") if isinstance(doc, dict) else doc)
    streams: dict[str, StreamInfo] = {}
    ids: set[int] = set()
    for entry in doc["streams"]:
        if not isinstance(entry, dict):
            raise _hello_error("each stream an object", entry)
        name = entry.get("name")
        if not _is_name(name) or name in streams:
            raise _hello_error("each stream's name a distinct name of letters, digits or '_'", name)
        sid = _integer(entry, "id", 1, 255)
        if sid in ids:
            raise _hello_error("distinct stream ids", sid)
        ids.add(sid)
        rate_hz = _integer(entry, "rate_hz", 1, MAX_RATE_HZ)
        channels = _integer(entry, "channels", 1, 255)
        frame_samples = _integer(entry, "frame_samples", 1, 0xFFFF)
        if fr.HEADER.size + 2 * frame_samples * channels + fr.CRC.size > fr.MAX_FRAME_BYTES:
            raise _hello_error(f"data frames of at most {fr.MAX_FRAME_BYTES} bytes",
                               f"{frame_samples} samples x {channels} channels")
        axes = _per_channel(entry, "axes", channels, _is_name, "names of letters, digits or '_'")
        units = _per_channel(entry, "units", channels, _is_unit, "short texts")
        scale = _per_channel(entry, "scale", channels, _is_scale, f"finite numbers up to {MAX_SCALE:g}")
        streams[name] = StreamInfo(sid, name, rate_hz, channels, frame_samples, axes, units, [float(v) for v in scale])
    info = dict(doc)
    for key in ("firmware", "board", "imu"):
        info[key] = _printable(doc.get(key))
    return info, streams


def _device_message(payload: bytes) -> str:
    """An error frame's message (JSON {"message": ...}, or any text), on one line."""
    text = payload.decode("utf-8", errors="replace")
    try:
        doc = json.loads(text)
        if isinstance(doc, dict) and "message" in doc:
            text = str(doc["message"])
    except (ValueError, RecursionError):
        pass
    return _printable(text, 200) or "(no message)"


@dataclass
class Streamer:
    port: object
    timeout_s: float = 5.0
    parser: fr.FrameParser = field(default_factory=fr.FrameParser)
    info: dict = field(default_factory=dict)
    _queue: deque = field(default_factory=deque)

    def _next(self, deadline: float, waiting: str, others: int = 0) -> fr.Frame:
        """The next frame; LinkLost once `deadline` passes without one (`others`: frames that came but
        were not what the caller waits for)."""
        while not self._queue:
            if time.monotonic() > deadline:
                got = f"{others} other frame(s)" if others else "nothing"
                raise LinkLost(f"Expected {waiting} within {self.timeout_s:g} s. Received: {got}. "
                               "Check that the streaming firmware is running on this port.")
            try:
                data = self.port.read(4096)
            except Exception as exc:  # pyserial raises SerialException or OSError when the board goes away
                raise LinkLost(f"The serial link dropped: {_printable(exc, 200)}") from None
            if not data:
                if getattr(self.port, "is_open", True) is False:
                    raise LinkLost("The serial link closed.")
                continue
            self._queue.extend(self.parser.feed(data))
        return self._queue.popleft()

    def _send(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except Exception as exc:
            raise LinkLost(f"The serial link dropped: {_printable(exc, 200)}") from None

    def hello(self) -> dict[str, StreamInfo]:
        """Ask the device what it streams. Only its hello counts: other frames do not extend the wait."""
        self._send(fr.command(fr.CMD_HELLO))
        deadline, others = time.monotonic() + self.timeout_s, 0
        while True:
            frame = self._next(deadline, "the device's hello", others)
            if frame.type == fr.HELLO:
                self.info, streams = parse_hello(frame.payload)
                return streams
            others += 1

    def quiesce(self, streams) -> None:
        """Stop every stream (a previous session may have left one running) and drop what was in flight."""
        pending = {s.id for s in streams}
        for sid in pending:
            self._send(fr.command(fr.CMD_STOP, sid))
        deadline, others = time.monotonic() + self.timeout_s, 0
        try:
            while pending:
                frame = self._next(deadline, f"the end marker of stream(s) {sorted(pending)}", others)
                if frame.type == fr.STOPPED:
                    pending.discard(frame.stream)
                else:
                    others += 1
        finally:
            self._queue.clear()

    def stop(self, stream: StreamInfo) -> None:
        """Best effort, for an interrupted recording: tell the device to stop streaming."""
        try:
            self._send(fr.command(fr.CMD_STOP, stream.id))
        except LinkLost:
            pass

    def record(self, stream: StreamInfo, wanted: int, progress=None) -> Capture:
        """Start the stream, keep samples 0..wanted-1, stop it and wait for its end marker."""
        values = np.zeros((wanted, stream.channels), dtype=np.int16)
        present = np.zeros(wanted, dtype=bool)
        stamps = np.zeros(wanted, dtype=np.int64)
        tracker = fr.SequenceTracker()
        corrupted0, malformed = self.parser.corrupted, 0
        capture = Capture(stream, values, present, stamps)
        self._send(fr.command(fr.CMD_START, stream.id))
        stopping, stop_deadline = False, None
        started = time.monotonic()
        deadline, others = started + self.timeout_s, 0  # extended by each new sample frame, nothing else
        step = 1_000_000 / stream.rate_hz
        last_ts, wraps = None, 0
        while True:
            frame = self._next(deadline, f"new data frames of stream '{stream.name}'", others)
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                raise LinkLost(f"Expected the device to confirm the stop within {self.timeout_s:g} s. "
                               "Received: more data but no end marker; is the firmware tinyml's streamer?")
            if frame.type == fr.ERROR:
                raise TinymlError(f"The device refused: {_device_message(frame.payload)}")
            if frame.stream != stream.id:
                others += 1
                continue
            if frame.type == fr.STOPPED:
                sent_frames = frame.sequence
                if sent_frames > tracker.expected:  # frames lost at the very end
                    tracker.lost += sent_frames - tracker.expected
                break
            if frame.type != fr.DATA:
                others += 1
                continue
            if (frame.format != fr.FORMAT_INT16 or frame.channels != stream.channels
                    or frame.samples > stream.frame_samples):
                malformed += 1  # not the samples the hello announced: counted as corrupted (and so lost)
                continue
            if not tracker.accept(frame.sequence):
                others += 1
                continue
            deadline = time.monotonic() + self.timeout_s
            capture.frames += 1
            if last_ts is not None and frame.timestamp_us < last_ts - (1 << 31):
                wraps += 1  # the device's 32-bit microsecond clock wrapped (every 71.6 minutes)
            last_ts = frame.timestamp_us
            start = frame.sequence * stream.frame_samples
            if start < wanted:
                n = min(frame.samples, wanted - start)
                values[start:start + n] = frame.values()[:n]
                present[start:start + n] = True
                stamps[start:start + n] = (frame.timestamp_us + (wraps << 32)
                                           + (np.arange(n) * step).astype(np.int64))
            received_until = start + frame.samples
            if progress and not stopping:
                elapsed = max(time.monotonic() - started, 1e-6)
                progress(min(received_until, wanted), wanted,
                         f"{min(received_until, wanted) / elapsed:,.0f} samples/s, lost {tracker.lost}, "
                         f"corrupted {self.parser.corrupted - corrupted0 + malformed}")
            if received_until >= wanted and not stopping:
                self._send(fr.command(fr.CMD_STOP, stream.id))
                stopping, stop_deadline = True, time.monotonic() + self.timeout_s
        capture.lost, capture.duplicated = tracker.lost, tracker.duplicated
        capture.corrupted = self.parser.corrupted - corrupted0 + malformed
        if not present.any():
            raise LinkLost(f"Expected samples of stream '{stream.name}'. Received: none of the {wanted} "
                           f"({capture.lost} frame(s) lost); nothing was written.")
        # Samples never seen because their frame was lost mid-way count as missing (present is False).
        _fill_timestamps(capture, step)
        return capture


def _fill_timestamps(capture: Capture, step: float) -> None:
    """Give missing samples the timestamps their position implies (for the record only)."""
    stamps, present = capture.timestamps_us, capture.present
    if present.any() and not present.all():
        first = int(np.argmax(present))
        base = stamps[first] - int(first * step)
        missing = np.where(~present)[0]
        stamps[missing] = base + (missing * step).astype(np.int64)


def stream_for(streams: dict[str, StreamInfo], sensor: str) -> StreamInfo:
    if sensor not in streams:
        raise expected(f"a sensor the device streams ({', '.join(streams)})", repr(sensor))
    return streams[sensor]
