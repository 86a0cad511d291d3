"""SVOX Pico (PyPI ttspico) in a process of its own.

Pico's C library crashes the process it runs in now and then when that process has other threads at work
(a segfault inside ttspico's speak, seen while other threads of the built-in data's pool started flite;
two threads speaking at once crash it every time). So it speaks in a worker: one long-lived
`python -m tinyml.collect.pico` that reads one request line (JSON: voice, rate, volume, text) and answers
with the 16 kHz int16 samples, a fresh engine per word (an engine's output depends on what it spoke
before). Requests go one at a time. A worker that dies is started again and the word asked again, which
gives the same samples: the worker keeps no state between words.
"""

from __future__ import annotations

import atexit
import json
import struct
import subprocess
import sys
import threading

from tinyml.errors import TinymlError

ATTEMPTS = 3  # a word is asked of this many fresh workers before it counts as failed
_FAILED = 0xFFFFFFFF  # the length that announces an error message instead of samples


class _Worker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen([sys.executable, "-m", "tinyml.collect.pico"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return self._proc

    def speak(self, voice: str, rate: int, volume: int, text: str) -> bytes:
        request = (json.dumps({"voice": voice, "rate": rate, "volume": volume, "text": text}) + "\n").encode()
        with self._lock:
            for _ in range(ATTEMPTS):
                proc = self._start()
                try:
                    proc.stdin.write(request)
                    proc.stdin.flush()
                    head = proc.stdout.read(4)
                except (BrokenPipeError, OSError):
                    head = b""
                if len(head) == 4:
                    (n,) = struct.unpack("<I", head)
                    if n == _FAILED:
                        raise TinymlError(proc.stdout.readline().decode(errors="replace").strip())
                    data = proc.stdout.read(n)
                    if len(data) == n:
                        return data
                self.close()  # it died mid-word: a fresh one is asked the same word
        raise TinymlError(f"Expected SVOX Pico to speak {text!r} in voice {voice}. Received: its worker process "
                          f"died {ATTEMPTS} times on it. Run `make setup` to reinstall ttspico.")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()


_WORKER = _Worker()
atexit.register(_WORKER.close)


def speak(voice: str, rate: int, volume: int, text: str) -> bytes:
    """Pico's int16 little-endian samples at 16 kHz for `text` (rate and volume in Pico's percent)."""
    return _WORKER.speak(voice, rate, volume, text)


def _serve() -> None:
    import ttspico

    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            engine = ttspico.TtsEngine(request["voice"])
            engine.rate = request["rate"]
            engine.volume = request["volume"]
            data = engine.speak(request["text"]) or b""
            del engine
        except (RuntimeError, ValueError) as exc:
            out.write(struct.pack("<I", _FAILED) + f"Expected SVOX Pico's {request['voice']} voice to speak "
                      f"{request['text']!r}. Received: {exc}. Run `make setup`.\n".encode())
        else:
            out.write(struct.pack("<I", len(data)) + data)
        out.flush()


if __name__ == "__main__":
    _serve()
