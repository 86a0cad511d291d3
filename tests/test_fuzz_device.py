"""The device's parsers on hostile input, compiled for the host with AddressSanitizer and UBSan
(tests/fuzz/: one harness per parser, stub transport on stdin/stdout): the stream protocol's frame
reader and the emulated streamer's commands, the model firmware's line protocol and the KWS app's.

First the defects review found, each with the input that showed it; then seeded fuzz campaigns of
a few seconds per parser (random, torn, oversized, truncated and bit-flipped input, then well-formed
commands that must be answered). benchmarks/fuzz_device.py runs the same campaigns, larger.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading

import pytest

from conftest import need, tool
from fuzz import campaign as fz
from tinyml.collect import frames as fr
from tinyml.protocol import parse_line

SEED = 20240601
INPUTS = 300  # per parser and test run: about two seconds each
COUNTS: dict[str, dict] = {}  # per parser: inputs tried and failures, as the campaigns report them


class Harnesses:
    """parser name -> its harness, compiled with the sanitizers on first use."""

    def __init__(self, gcc: str, root):
        self.gcc, self.root, self.built = gcc, root, {}

    def __call__(self, parser: str):
        if parser not in self.built:
            self.built[parser] = fz.build(parser, self.gcc, self.root)
        return self.built[parser]


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    gcc = tool("gcc")
    root = tmp_path_factory.mktemp("fuzz")
    probe = root / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    linked = subprocess.run([gcc, *fz.SANITIZE, str(probe), "-o", str(root / "probe")], capture_output=True, text=True)
    need(linked.returncode == 0, f"gcc cannot link AddressSanitizer and UBSan here: {linked.stderr.strip()[-200:]}")
    yield Harnesses(gcc, root)
    if COUNTS:
        print("\nfuzz inputs per parser (sanitizers on):", COUNTS)


def session(exe, data: bytes) -> bytes:
    """One session on `data`; it must end cleanly, with nothing from a sanitizer."""
    proc = subprocess.run([str(exe)], input=data, capture_output=True, timeout=20, env={**os.environ,
                                                                                      **fz.SANITIZER_ENV})
    assert proc.returncode == 0 and not proc.stderr, proc.stderr.decode(errors="replace")[-3000:]
    return proc.stdout


def events(out: bytes) -> list[dict]:
    got = [parse_line(line + b"\n") for line in out.split(b"\n")[:-1]]
    assert None not in got, out
    return got


class Conversation:
    """A harness driven line by line, as a host drives the device: an answer must come before
    the host sends anything more."""

    def __init__(self, exe):
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env={**os.environ, **fz.SANITIZER_ENV})
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def event(self, timeout: float = 5.0) -> dict:
        try:
            return parse_line(self.lines.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"no answer within {timeout} s") from None

    def close(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=10) == 0
        assert not self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:  # a failed test: the harness still waits for the host
            self.proc.kill()
            self.proc.wait()


# ---- the stream protocol: a command frame longer than the caller's buffer ----

@pytest.mark.parametrize("payload_bytes", [fz.COMMAND_PAYLOAD + 1, fz.RAW_PAYLOAD, fz.RAW_PAYLOAD + 1, 300])
def test_a_command_longer_than_the_streamers_buffer_is_refused_and_the_next_is_answered(harness, payload_bytes):
    """Before: tm_read_frame copied any payload its raw buffer held (71 bytes) into the caller's
    64, and AddressSanitizer reported a global-buffer-overflow in streamer_main.c's feed()."""
    too_long = fr.encode(fr.Frame(fr.CMD_START, fr.CONTROL, fr.FORMAT_NONE, 0, 0, 0, 0,
                                  bytes([fr.IMU]) + bytes(i % 255 + 1 for i in range(payload_bytes - 1))))
    got = fr.FrameParser().feed(session(harness("streamer"), too_long + fr.command(fr.CMD_HELLO)))
    assert [f.type for f in got] == [fr.HELLO]  # no data: the start was refused, not half-taken


def test_the_reader_takes_a_payload_up_to_its_capacity_and_counts_what_it_refuses(harness):
    frames = [fr.Frame(fr.CMD_START, fr.CONTROL, fr.FORMAT_NONE, n, 0, 0, 0, bytes(range(1, n + 1)))
              for n in (0, 1, fz.COMMAND_PAYLOAD, fz.COMMAND_PAYLOAD + 1, fz.RAW_PAYLOAD, fz.RAW_PAYLOAD + 1)]
    got = fr.FrameParser().feed(session(harness("frames"), b"".join(fr.encode(f) for f in frames)))
    *echo, tally = got
    assert echo == frames[:3]  # the host's encoder and the device's reader agree, to the byte
    assert (tally.type, tally.stream, tally.sequence) == (fr.STOPPED, 0xFF, 3)


# ---- the model firmware: a bad hex digit ----

@pytest.mark.parametrize("line", [b"I 0a\n", b"I 0\n", b"I\n", b"I 0a0g\n", b"I 0a\r\n", b"I 0a0b0c0d0e0f101112\n",
                                  b"I 0a" + b"0" * 50000 + b"\n"])
def test_a_bad_input_line_costs_no_command_after_it(harness, line):
    """Before: the reader took the byte after a bad high nibble as the low one, so the H after
    "I 0a\\n" was swallowed."""
    got = events(session(harness("runtime"), line + b"H\nQ\n"))
    assert [e["event"] for e in got] == ["hello", "error", "hello", "summary"]
    assert got[1]["message"] == fz.MALFORMED_INPUT


def test_a_bad_input_line_is_answered_before_the_host_sends_more(harness):
    """Before: after "I 0a\\n" the device waited for one more byte, so the host timed out."""
    with Conversation(harness("runtime")) as talk:
        assert talk.event()["event"] == "hello"
        talk.send(b"I 0a\n")
        assert talk.event()["message"] == fz.MALFORMED_INPUT
        talk.send(b"I 0102030405060708\n")
        assert talk.event()["output"] == "0102030405060708"
        talk.close()


# ---- the KWS app: overlong lines, bad hex, partial lines ----


def test_kws_overlong_lines_are_heard_or_refused_and_the_next_command_is_answered(harness):
    samples = 25 * fz.CHUNK + 3  # one audio line far longer than any buffer: heard CHUNK samples at a time
    data = (b"A " + b"0100" * samples + b"\n" + b"F 12 " + b"p" * 10000 + b"\n" + b"F 99999999999999999999 /x\n"
            + b"X" + b"y" * 10000 + b"\nR\nQ\n")
    got = events(session(harness("kws"), data))
    assert [e["event"] for e in got] == ["hello", "error", "error", "error", "reset", "summary"]
    assert [e["message"] for e in got[1:4]] == [fz.MALFORMED_FILE, fz.MALFORMED_FILE, fz.UNKNOWN_KWS]
    assert got[4]["samples"] == samples  # their values: the campaigns check a hash of them


@pytest.mark.parametrize("line", [b"A 01\n", b"A 0100\r\r\n", b"A 01g0\n", b"F\n", b"F 12\n", b"F 2000 /x\n"])
def test_kws_a_bad_line_is_answered_before_the_host_sends_more(harness, line):
    with Conversation(harness("kws")) as talk:
        assert talk.event()["event"] == "hello"
        talk.send(line)
        assert talk.event()["event"] == "error"
        talk.send(b"H\n")
        assert talk.event()["event"] == "hello"
        talk.close()


@pytest.mark.parametrize("partial", [b"A 0100", b"A 01", b"F 12 /data/x", b"H", b"R", b"Xyz", b"\r"])
def test_kws_a_line_cut_by_the_end_of_the_link_ends_the_session_cleanly(harness, partial):
    got = events(session(harness("kws"), b"H\n" + partial))
    assert [e["event"] for e in got] == ["hello", "hello"]


# ---- seeded fuzz campaigns ----

@pytest.mark.parametrize("parser", fz.PARSERS)
def test_fuzz_garbage_then_well_formed_commands(harness, parser):
    outcome = fz.campaign(parser, harness.gcc, SEED, INPUTS, harness.root / parser, exe=harness(parser))
    COUNTS[parser] = outcome.row()
    print(outcome.row())
    assert outcome.inputs == INPUTS
    assert outcome.ok(), (outcome.row(), outcome.failures[:5])
