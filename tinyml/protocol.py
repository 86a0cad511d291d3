"""The host side of the firmware's line protocol (version 1, see docs/protocol.md).

Transport and protocol are separate: `parse_line` turns bytes into events and
is tested on canned bytes; `Device` drives any pyserial port (a board's
/dev/ttyACM0, QEMU's or Renode's socket://, or loop://) running the model
firmware; `KwsDevice` adds the commands of the keyword-spotting app's emulator
firmware (firmware/emulator/kws_main.c) to the same event reading.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyml.errors import TinymlError

PREFIX = b"TINYML "
VERSION = 1


class DeviceError(TinymlError):
    """The firmware misbehaved: it hung, faulted, or broke the protocol."""


def parse_line(line: bytes) -> dict | None:
    """An event dict for a protocol line; None for a log line. Raises DeviceError on a broken event."""
    line = line.rstrip(b"\r\n")
    if not line.startswith(PREFIX):
        return None
    try:
        event = json.loads(line[len(PREFIX):].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DeviceError(f"Expected a JSON event after 'TINYML '. Received: {line[:120]!r}.") from None
    if not isinstance(event, dict) or "event" not in event:
        raise DeviceError(f"Expected an object with an 'event' key. Received: {line[:120]!r}.")
    if event.get("v") != VERSION:
        raise DeviceError(f"Expected protocol version {VERSION}. Received: {event.get('v')!r}; "
                          "rebuild the firmware with this tinyml.")
    return event


@dataclass
class Device:
    port: object  # an open pyserial port (or anything with write/readline/timeout)
    timeout_s: float = 30.0
    log: list[str] = field(default_factory=list)

    _pending: bytes = field(default=b"", repr=False)  # a line torn across reads, kept for the next call

    def until(self, wanted: str) -> list[dict]:
        """Every event up to and including the first `wanted` one; a fault, or an error event unless
        an error is what is wanted, raises DeviceError. Lines that are not events go to `log`. The
        timeout counts from the last event, so a long stream of inferences may take as long as it needs."""
        events = []
        deadline = time.monotonic() + self.timeout_s
        while True:
            if time.monotonic() > deadline:
                raise DeviceError(f"Expected a '{wanted}' event within {self.timeout_s:g} s of the last event. "
                                  "Received: nothing (the firmware hangs, or the port is not a tinyml firmware).")
            chunk = self.port.readline()
            if not chunk:
                if getattr(self.port, "is_open", True) is False:
                    raise DeviceError(f"Expected a '{wanted}' event. Received: the link closed.")
                continue
            self._pending += chunk
            if not self._pending.endswith(b"\n"):
                continue
            line, self._pending = self._pending, b""
            event = parse_line(line)
            if event is None:
                self.log.append(line.decode(errors="replace").rstrip())
                continue
            if event["event"] == "fault":
                raise DeviceError(f"Expected a '{wanted}' event. Received: a fault at pc {event.get('pc')} "
                                  f"(CFSR {event.get('cfsr')}).")
            if event["event"] == "error" and wanted != "error":
                raise DeviceError(f"The firmware refused a command: {event.get('message')}")
            events.append(event)
            if event["event"] == wanted:
                return events
            deadline = time.monotonic() + self.timeout_s

    def _next(self, wanted: str) -> dict:
        return self.until(wanted)[-1]

    def hello(self, ask: bool = False) -> dict:
        if ask:
            self.port.write(b"H\n")
        return self._next("hello")

    def infer(self, payload: bytes) -> dict:
        self.port.write(b"I " + payload.hex().encode() + b"\n")
        return self._next("result")

    def quit(self) -> dict:
        self.port.write(b"Q\n")
        return self._next("summary")


@dataclass
class KwsDevice(Device):
    """The emulator KWS app: audio in as "A" lines or a file it reads through semihosting, "R" ends a
    stream; hello and quit as the model firmware's."""

    timeout_s: float = 60.0

    def send_audio(self, pcm: np.ndarray, sizes: list[int]) -> None:
        """Stream `pcm` over the UART as "A" lines of these many samples each (they sum to len(pcm))."""
        start = 0
        for n in sizes:
            part = np.asarray(pcm[start:start + n], dtype="<i2")
            self.port.write(b"A " + part.tobytes().hex().encode() + b"\n")
            start += n

    def send_file(self, path: Path, chunk: int) -> list[dict]:
        """Have the firmware read raw int16 samples from `path` (semihosting), `chunk` per push."""
        self.port.write(f"F {chunk} {Path(path).resolve()}\n".encode())
        return self.until("file")

    def end_stream(self) -> list[dict]:
        self.port.write(b"R\n")
        return self.until("reset")
