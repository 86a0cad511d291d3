"""`--format lines`: numbers as text, one sample per line (Edge Impulse data-forwarder style).

Values may be separated by commas, tabs or spaces. Lines that are not all
numbers (headers, log lines) are skipped and counted. The sample rate is
measured from arrival times over a window, unless given.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from tinyml.errors import expected

_SPLIT = re.compile(r"[,\t ]+")


def parse(line: bytes) -> list[float] | None:
    """The numbers on a line, or None when it is not a data line."""
    text = line.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        return [float(v) for v in _SPLIT.split(text)]
    except ValueError:
        return None


@dataclass
class LinesCapture:
    values: np.ndarray  # float64 [samples, channels]
    rate_hz: int
    skipped_lines: int


class LineReader:
    def __init__(self, port, timeout_s: float = 5.0):
        self.port = port
        self.timeout_s = timeout_s
        self._pending = b""
        self.skipped = 0

    def next_values(self) -> list[float]:
        deadline = time.monotonic() + self.timeout_s
        while True:
            cut = self._pending.find(b"\n")
            if cut >= 0:
                line, self._pending = self._pending[:cut], self._pending[cut + 1:]
                values = parse(line)
                if values is None:
                    self.skipped += 1
                    continue
                return values
            if time.monotonic() > deadline:
                from tinyml.collect.stream import LinkLost

                raise LinkLost(f"Expected a line of numbers within {self.timeout_s:g} s. Received: nothing.")
            try:
                data = self.port.read(4096)
            except Exception as exc:
                from tinyml.collect.stream import LinkLost

                raise LinkLost(f"The serial link dropped: {exc}") from None
            self._pending += data

    def measure_rate(self, window_s: float = 2.0) -> tuple[float, list[list[float]]]:
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
