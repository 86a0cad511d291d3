"""A fault-injecting transport for the streaming tests: wraps a real port (QEMU's emulated UART)
and, frame by frame, drops or corrupts chosen data frames or cuts the link."""

from __future__ import annotations

import serial

from tinyml.collect import frames as fr


class FaultyPort:
    def __init__(self, port, *, drop=(), corrupt=(), disconnect=None, interrupt=None):
        """drop/corrupt: (recording, sequence) pairs of data frames; disconnect: (recording, sequence)
        at which the link dies. Recordings count from 0, advancing at each STOPPED frame that ends
        one (the session's opening stops of idle streams report 0 frames and do not count)."""
        self.port = port
        self.drop, self.corrupt, self.disconnect, self.interrupt = set(drop), set(corrupt), disconnect, interrupt
        self.recording = 0
        self.injected = {"dropped": 0, "corrupted": 0}
        self._pending = b""
        self._out = b""
        self.is_open = True

    def write(self, data: bytes) -> int:
        if not self.is_open:
            raise serial.SerialException("device disconnected")
        return self.port.write(data)

    def close(self) -> None:
        self.is_open = False

    def read(self, n: int) -> bytes:
        if not self.is_open:
            raise serial.SerialException("device disconnected")
        while not self._out:
            data = self.port.read(4096)
            if not data:
                return b""
            self._pending += data
            while b"\x00" in self._pending:
                chunk, self._pending = self._pending.split(b"\x00", 1)
                self._out += self._filter(chunk)
                if not self.is_open:
                    break
            if not self.is_open and not self._out:
                raise serial.SerialException("device disconnected")
        out, self._out = self._out[:n], self._out[n:]
        return out

    def _filter(self, chunk: bytes) -> bytes:
        frame = fr._decode(chunk) if chunk else None
        if frame is None:
            return chunk + b"\x00"
        key = (self.recording, frame.sequence)
        if frame.type == fr.STOPPED and frame.sequence > 0:  # the end of a recording (not an idle stop)
            self.recording += 1
        elif frame.type == fr.DATA:
            if self.interrupt == key:
                raise KeyboardInterrupt  # the user pressing Ctrl-C while this frame arrives
            if self.disconnect == key:
                self.is_open = False
                return b""
            if key in self.drop:
                self.injected["dropped"] += 1
                return b""
            if key in self.corrupt:
                self.injected["corrupted"] += 1
                raw = bytearray(chunk)
                raw[len(raw) // 2] ^= 0x10 if raw[len(raw) // 2] != 0x10 else 0x01  # never a 0x00
                return bytes(raw) + b"\x00"
        return chunk + b"\x00"
