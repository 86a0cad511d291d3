"""Recording from a streaming device: handshake, start, collect exactly N samples, stop.

Works on any pyserial-like port (read/write/close): a board over USB, QEMU's
emulated UART over socket://, or a test transport that injects faults.
Nothing is lost silently: every gap in a stream's sequence numbers, every
corrupted frame and every duplicate is counted and goes into the manifest.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from tinyml.collect import frames as fr
from tinyml.errors import TinymlError, expected


class LinkLost(TinymlError):
    """The device stopped answering or the port went away."""


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


@dataclass
class Streamer:
    port: object
    timeout_s: float = 5.0
    parser: fr.FrameParser = field(default_factory=fr.FrameParser)
    info: dict = field(default_factory=dict)
    _queue: list = field(default_factory=list)

    def _frames(self, deadline: float):
        while True:
            if self._queue:
                yield self._queue.pop(0)
                continue
            if time.monotonic() > deadline:
                raise LinkLost(f"Expected frames from the device within {self.timeout_s:g} s. Received: nothing. "
                               "Check that the streaming firmware is running on this port.")
            try:
                data = self.port.read(4096)
            except Exception as exc:  # pyserial raises SerialException or OSError when the board goes away
                raise LinkLost(f"The serial link dropped: {exc}") from None
            if not data:
                if getattr(self.port, "is_open", True) is False:
                    raise LinkLost("The serial link closed.")
                continue
            self._queue.extend(self.parser.feed(data))
            if self._queue:
                deadline = time.monotonic() + self.timeout_s

    def _send(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except Exception as exc:
            raise LinkLost(f"The serial link dropped: {exc}") from None

    def hello(self) -> dict[str, StreamInfo]:
        self._send(fr.command(fr.CMD_HELLO))
        for frame in self._frames(time.monotonic() + self.timeout_s):
            if frame.type == fr.HELLO:
                self.info = json.loads(frame.payload.decode())
                return {s["name"]: StreamInfo(s["id"], s["name"], int(s["rate_hz"]), int(s["channels"]),
                                              int(s["frame_samples"]), list(s["axes"]), list(s["units"]),
                                              [float(v) for v in s["scale"]]) for s in self.info["streams"]}

    def quiesce(self, streams) -> None:
        """Stop every stream (a previous session may have left one running) and drop what was in flight."""
        pending = {s.id for s in streams}
        for sid in pending:
            self._send(fr.command(fr.CMD_STOP, sid))
        try:
            for frame in self._frames(time.monotonic() + self.timeout_s):
                if frame.type == fr.STOPPED:
                    pending.discard(frame.stream)
                if not pending:
                    break
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
        corrupted0 = self.parser.corrupted
        capture = Capture(stream, values, present, stamps)
        self._send(fr.command(fr.CMD_START, stream.id))
        stopping, stop_deadline = False, None
        started = time.monotonic()
        step = 1_000_000 / stream.rate_hz
        last_ts, wraps = None, 0
        for frame in self._frames(time.monotonic() + self.timeout_s):
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                raise LinkLost(f"Expected the device to confirm the stop within {self.timeout_s:g} s. "
                               "Received: more data but no end marker; is the firmware tinyml's streamer?")
            if frame.type == fr.ERROR:
                raise TinymlError(f"The device refused: {frame.payload.decode(errors='replace')}")
            if frame.stream != stream.id:
                continue
            if frame.type == fr.STOPPED:
                sent_frames = frame.sequence
                if sent_frames > tracker.expected:  # frames lost at the very end
                    tracker.lost += sent_frames - tracker.expected
                break
            if frame.type != fr.DATA or not tracker.accept(frame.sequence):
                continue
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
                         f"corrupted {self.parser.corrupted - corrupted0}")
            if received_until >= wanted and not stopping:
                self._send(fr.command(fr.CMD_STOP, stream.id))
                stopping, stop_deadline = True, time.monotonic() + self.timeout_s
        capture.lost, capture.duplicated = tracker.lost, tracker.duplicated
        capture.corrupted = self.parser.corrupted - corrupted0
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
