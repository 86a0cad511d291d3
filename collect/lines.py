"""`--format lines`: numbers as text, one sample per line (Edge Impulse data-forwarder style).

Values may be separated by commas, tabs or spaces. Lines that are not all
numbers within float32 range (headers, log lines, nan) are skipped and counted,
as are lines longer than `MAX_LINE_BYTES`, which are never held in memory whole.
The sample rate is given to `capture`: `--rate`, or measured once from arrival times over a window
(`measure_rate`, collect/session.py). The skipped count is the reader's running total since it opened.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import numpy as np

from tinyml.errors import expected

_SPLIT = re.compile(r"[,\t ]+")
MAX_LINE_BYTES = 65536
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def parse(line: bytes) -> list[float] | None:
    """The numbers on a line, or None when it is not a data line."""
    text = line.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        values = [float(v) for v in _SPLIT.split(text)]
    except ValueError:
        return None
    # 'nan', 'inf', '1e999' are not samples, nor is what a dataset (float32) cannot hold
    return values if all(math.isfinite(v) and abs(v) <= _FLOAT32_MAX for v in values) else None


@dataclass
class LinesCapture:
    values: np.ndarray  # float64 [samples, channels]
    rate_hz: int
    skipped_lines: int


class LineReader:
    def __init__(self, port, timeout_s: float = 5.0):
        self.port = port
        self.timeout_s = timeout_s
        self._pending = bytearray()
        self._searched = 0  # bytes of _pending known to hold no newline
        self._too_long = False  # dropping the rest of a line longer than MAX_LINE_BYTES
        self.skipped = 0

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the end of a line."""
        return len(self._pending)

    def _line(self) -> bytes | None:
        """The next whole line, or None until more bytes arrive."""
        while True:
            cut = self._pending.find(b"\n", self._searched)
            if cut < 0:
                self._searched = len(self._pending)
                if len(self._pending) > MAX_LINE_BYTES:
                    self._pending.clear()
                    self._searched, self._too_long = 0, True
                return None
            line = bytes(self._pending[:cut])
            del self._pending[:cut + 1]
            self._searched = 0
            if self._too_long:  # the end of an over-long line: skipped, counted once
                self._too_long = False
                self.skipped += 1
                continue
            return line

    def next_values(self) -> list[float]:
        deadline, skipped = time.monotonic() + self.timeout_s, self.skipped
        while True:
            line = self._line()
            if line is not None:
                values = parse(line)
                if values is None:
                    self.skipped += 1
                    continue
                return values
            if time.monotonic() > deadline:
                from tinyml.collect.stream import LinkLost

                got = f"{self.skipped - skipped} line(s) that are not numbers" if self.skipped > skipped else "nothing"
                raise LinkLost(f"Expected a line of numbers within {self.timeout_s:g} s. Received: {got}.")
            try:
                data = self.port.read(4096)
            except Exception as exc:
                from tinyml.collect.stream import LinkLost

                raise LinkLost(f"The serial link dropped: {exc}") from None
            self._pending += data

    def measure_rate(self, window_s: float = 2.0) -> float:
        """Lines per second over `window_s` of arrivals (the lines read meanwhile only measure)."""
        self.next_values()
        start = time.monotonic()
        lines = 0
        while time.monotonic() - start < window_s:
            self.next_values()
            lines += 1
        return lines / (time.monotonic() - start)

    def capture(self, samples: int, rate_hz: int, progress=None) -> LinesCapture:
        """The next `samples` data lines (measure the rate first with `measure_rate`)."""
        rows: list[list[float]] = []
        while len(rows) < samples:
            rows.append(self.next_values())
            if progress:
                progress(len(rows), samples, f"{rate_hz} Hz, skipped {self.skipped} lines")
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise expected("the same number of values on every line", f"lines with {sorted(widths)} values",
                           "Fix the sketch's output format.")
        return LinesCapture(np.asarray(rows, dtype=np.float64), rate_hz, self.skipped)
