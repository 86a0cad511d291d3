"""Progress and status output for long-running work.

Library code reports through a `Reporter`; only the command line decides where
it goes. On a terminal progress redraws in place (Keras Progbar style); in logs
and CI each step is a plain line.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator, TextIO


class Reporter:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._open_line = False

    def info(self, message: str) -> None:
        if self.quiet:
            return
        self._close_line()
        print(message, file=self.stream, flush=True)

    def progress(self, label: str, done: int, total: int, extra: str = "", every: bool = False) -> None:
        """Report `done` of `total`. A terminal redraws one line; elsewhere a line is
        printed at the end, or at every call when `every` is set (slow steps such as epochs)."""
        if self.quiet:
            return
        width = 24
        filled = int(width * done / max(total, 1))
        bar = "=" * filled + "." * (width - filled)
        text = f"{label} {done}/{total} [{bar}] {extra}".rstrip()
        if self._tty:
            print("\r" + text, end="", file=self.stream, flush=True)
            self._open_line = done < total
            if done >= total:
                print(file=self.stream, flush=True)
        elif every or done >= total:
            print(text, file=self.stream, flush=True)

    def _close_line(self) -> None:
        if self._open_line:
            print(file=self.stream, flush=True)
            self._open_line = False


class Stopwatch:
    def __init__(self):
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start


SILENT = Reporter(quiet=True)


@contextmanager
def captured_fd2() -> Iterator[list[str]]:
    """Send what native code writes to file descriptor 2 into a list (filled on exit).

    TensorFlow's converter and the TFLM interpreter print from C++ straight to
    fd 2; Python's sys.stderr never sees it.
    """
    captured: list[str] = []
    with tempfile.TemporaryFile() as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            captured.append(log.read().decode(errors="replace"))
