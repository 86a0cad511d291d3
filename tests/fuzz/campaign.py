"""Seeded fuzz campaigns against the device's parsers, built for the host under AddressSanitizer
and UBSan (`gcc -fsanitize=address,undefined -fno-sanitize-recover=all`).

One harness per parser (the C files beside this one; driver.c runs each case in a fresh process):

    frames    the stream protocol's frame reader, tm_read_frame (firmware/stream/tinyml_stream.c)
    streamer  the emulator's streamer: reader, command dispatch, data (firmware/emulator/streamer_main.c)
    runtime   the model firmware's line protocol, tm_runtime_serve (firmware/runtime/tinyml_runtime.c)
    kws       the KWS emulator app's line protocol, kws_serve (firmware/emulator/kws_main.c)

A case is garbage from `random.Random(seed)`: random bytes, and well-formed messages whole, torn,
truncated, bit-flipped, duplicated and oversized, glued in any order; then a well-formed command
sequence. A case fails when the harness exits non-zero, a sanitizer writes to stderr, or the
answers are not the protocol's: frames, runtime and kws are checked against an exact model of
their protocol here (every answer, in order), the streamer on its answers to the final commands
and on invariants of what it sends. tests/test_fuzz_device.py runs small campaigns, and
benchmarks/fuzz_device.py large ones.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from tinyml.collect import frames as fr
from tinyml.protocol import DeviceError, parse_line

HERE = Path(__file__).resolve().parent
FIRMWARE = HERE.parent.parent / "firmware"
PARSERS = ("frames", "streamer", "runtime", "kws")
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-fno-omit-frame-pointer"]
CFLAGS = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", *SANITIZE]
# harness source, firmware sources linked beside it, include folders
SOURCES = {
    "frames": ("fuzz_frames.c", ["stream/tinyml_stream.c"], ["stream"]),
    "streamer": ("fuzz_streamer.c", ["stream/tinyml_stream.c"], ["stream", "emulator"]),
    "runtime": ("fuzz_runtime.c", ["runtime/tinyml_runtime.c", "runtime/tinyml_protocol.c"], ["runtime"]),
    "kws": ("fuzz_kws.c", ["runtime/tinyml_protocol.c"], ["runtime", "emulator"]),
}
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:symbolize=1",
                 "UBSAN_OPTIONS": "print_stacktrace=1"}



def _define(source: str, name: str) -> int:
    return int(re.search(rf"#define {name} (\d+)", (FIRMWARE / source).read_text()).group(1))


COMMAND_PAYLOAD = _define("stream/tinyml_stream.h", "TM_COMMAND_PAYLOAD")  # what the device's callers hold
RAW_SLACK = int(re.search(r"raw\[TM_HEADER_BYTES \+ TM_COMMAND_PAYLOAD \+ 4 \+ (\d+)\]",
                          (FIRMWARE / "stream" / "tinyml_stream.h").read_text()).group(1))
RAW_PAYLOAD = COMMAND_PAYLOAD + RAW_SLACK - 1  # the longest payload whose COBS bytes (one more) fit the raw buffer
CHUNK, MAX_PATH = _define("emulator/kws_main.c", "CHUNK"), _define("emulator/kws_main.c", "MAX_PATH")
RUNTIME_INPUT = 8  # fuzz_runtime.c: inputs of 3 and 5 bytes
HEX = frozenset(b"0123456789abcdefABCDEF")
MALFORMED_INPUT = "malformed input line: expected I followed by the hex of every input byte"
UNKNOWN_RUNTIME = "unknown command: expected I, H or Q"
MALFORMED_AUDIO = "malformed audio line: expected A followed by 4 hex digits per int16 sample (little-endian)"
MALFORMED_FILE = "malformed file line: expected F <samples per push, 1..1024> <path>"
CANNOT_OPEN = "cannot open the audio file on the host (semihosting SYS_OPEN)"
UNKNOWN_KWS = "unknown command: expected A, F, R, H or Q"


def build(parser: str, gcc: str, out_dir: Path, firmware: Path = FIRMWARE) -> Path:
    """The parser's harness, compiled with the sanitizers; `firmware` may be another tree (an old copy)."""
    harness, sources, includes = SOURCES[parser]
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    exe = Path(out_dir) / f"fuzz_{parser}"
    cmd = [gcc, *CFLAGS, "-I", str(HERE), *[f"-I{firmware / d}" for d in includes],
           str(HERE / "driver.c"), str(HERE / harness), *[str(firmware / s) for s in sources], "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"compiling the {parser} harness failed:\n{proc.stderr[-3000:]}")
    return exe


@dataclass
class Case:
    data: bytes
    expect: object  # what the parser's check needs: the exact answers, or the final command's
    final: int = 0  # answers owed to the final, well-formed commands (the last ones of `expect`)


@dataclass
class Outcome:
    parser: str
    inputs: int = 0
    sanitizer_reports: int = 0
    crashes: int = 0  # non-zero exit or a signal without a sanitizer report (a harness check, a hang)
    unanswered: int = 0  # the well-formed commands after the garbage not answered as they should be
    wrong: int = 0  # other answers that differ from the protocol's
    failures: list[tuple[int, str]] = field(default_factory=list)  # (case, what), its input kept in failures/

    def ok(self) -> bool:
        return not (self.sanitizer_reports or self.crashes or self.unanswered or self.wrong)

    def row(self) -> dict:
        return {"parser": self.parser, "inputs": self.inputs, "sanitizer_reports": self.sanitizer_reports,
                "crashes": self.crashes, "unanswered_commands": self.unanswered, "wrong_answers": self.wrong}


def run(exe: Path, parser: str, cases: list[Case], workdir: Path, first: int = 0) -> Outcome:
    """Cases through one harness (a fresh child process each), judged one by one; a failing case's
    input is kept as workdir/../failures/<parser>-<first + k>.in (replay: `exe < that file`)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for k, case in enumerate(cases):
        (workdir / f"{k}.in").write_bytes(case.data)
    env = {**os.environ, **SANITIZER_ENV}
    proc = subprocess.run([str(exe), str(workdir), str(len(cases))], capture_output=True, text=True, env=env,
                          timeout=60 + 12 * len(cases))
    if proc.returncode != 0:
        raise RuntimeError(f"the fuzz driver failed: {proc.stderr[-2000:]}")
    statuses = dict(tuple(map(int, line.split())) for line in proc.stdout.splitlines())
    outcome = Outcome(parser, inputs=len(cases))
    check = CHECKS[parser]
    for k, case in enumerate(cases):
        status = statuses.get(k, -1)
        err = (workdir / f"{k}.err").read_text(errors="replace")
        out = (workdir / f"{k}.out").read_bytes()
        verdict = None
        if "Sanitizer" in err or "runtime error" in err:
            outcome.sanitizer_reports += 1
            verdict = _first_report_line(err)
        elif status != 0 or err:
            outcome.crashes += 1
            verdict = f"exit status {status}{' (a hang)' if status == 128 + 14 else ''} {err[:200]}".strip()
        else:
            judged = check(out, case)
            if judged:
                kind, verdict = judged
                if kind == "unanswered":
                    outcome.unanswered += 1
                else:
                    outcome.wrong += 1
        if verdict:
            kept = workdir.parent / "failures" / f"{parser}-{first + k}.in"
            kept.parent.mkdir(exist_ok=True)
            kept.write_bytes(case.data)
            outcome.failures.append((first + k, verdict))
    return outcome


def _first_report_line(err: str) -> str:
    for line in err.splitlines():
        if "ERROR: " in line or "runtime error" in line:
            return line.strip()
    return err.strip().splitlines()[0] if err.strip() else "sanitizer"


def campaign(parser: str, gcc: str, seed: int, n: int, workdir: Path, exe: Path | None = None,
             batch: int = 500) -> Outcome:
    """n cases from random.Random(f"{parser}:{seed}"), run `batch` at a time (the same cases for any batch)."""
    rng = random.Random(f"{parser}:{seed}")
    workdir = Path(workdir)
    exe = exe or build(parser, gcc, workdir)
    total = Outcome(parser)
    for first in range(0, n, batch):
        cases = [GENERATORS[parser](rng) for _ in range(min(batch, n - first))]
        shutil.rmtree(workdir / "cases", ignore_errors=True)
        part = run(exe, parser, cases, workdir / "cases", first)
        total.inputs += part.inputs
        total.sanitizer_reports += part.sanitizer_reports
        total.crashes += part.crashes
        total.unanswered += part.unanswered
        total.wrong += part.wrong
        total.failures += part.failures
    shutil.rmtree(workdir / "cases", ignore_errors=True)
    return total


def _compare(got: list, want: list, final: int):
    """None when equal; else whether the final commands' answers are among what differs."""
    if got == want:
        return None
    kind = "unanswered" if got[len(got) - final:] != want[len(want) - final:] or len(got) < final else "wrong"
    first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
    return kind, (f"{len(got)} answers, expected {len(want)}; first difference at {first}: "
                  f"got {got[first:first + 1]}, expected {want[first:first + 1]}")


# ---- garbage: pieces glued together ----


def _flip(rng: random.Random, data: bytes, flips: int | None = None) -> bytes:
    raw = bytearray(data)
    for _ in range(flips or rng.randint(1, 3)):
        if raw:
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    return bytes(raw)


def _random_bytes(rng: random.Random, zeros: bool) -> bytes:
    n = rng.choice((rng.randint(0, 16), rng.randint(0, 300), rng.randint(300, 3000)))
    data = bytes(rng.randrange(256) for _ in range(n))
    return data if zeros else data.replace(b"\x00", b"\x01")


# ---- frames: the reader alone, every accepted frame echoed ----


def _random_frame(rng: random.Random, payload_bytes: int) -> fr.Frame:
    payload = bytes(rng.randrange(256) for _ in range(payload_bytes))
    fmt = rng.choice((fr.FORMAT_NONE, fr.FORMAT_TEXT, fr.FORMAT_INT16))
    samples, channels = rng.randrange(1 << 16), rng.randrange(256)
    if fmt == fr.FORMAT_INT16:  # the host refuses int16 frames whose length disagrees with their shape
        if payload_bytes % 2:
            fmt = fr.FORMAT_NONE
        else:
            samples, channels = payload_bytes // 2, 1
    kind = rng.choice((fr.CMD_HELLO, fr.CMD_START, fr.CMD_STOP, rng.randrange(256)))
    return fr.Frame(kind, rng.randrange(256), fmt, rng.randrange(1 << 32), rng.randrange(1 << 32), samples, channels,
                    payload)


def _payload_size(rng: random.Random) -> int:
    return rng.choice((0, 1, rng.randint(0, COMMAND_PAYLOAD), COMMAND_PAYLOAD, COMMAND_PAYLOAD + 1,
                       rng.randint(COMMAND_PAYLOAD + 1, RAW_PAYLOAD), RAW_PAYLOAD + 1, rng.randint(72, 1100)))


def _frame_garbage(rng: random.Random, frame_of) -> bytes:
    """Pieces glued together: random bytes, and frames whole, truncated, torn, flipped, duplicated."""
    out = bytearray()
    for _ in range(rng.randint(1, 10)):
        wire = fr.encode(frame_of(rng))
        kind = rng.randrange(9)
        if kind == 0:
            out += _random_bytes(rng, zeros=rng.random() < 0.5)
        elif kind == 1:  # truncated: the rest never comes, the next piece is glued on
            out += wire[:rng.randrange(len(wire))]
        elif kind == 2:
            out += _flip(rng, wire[:-1]) + b"\x00"
        elif kind == 3:  # torn from the middle of a frame
            a = rng.randrange(len(wire))
            out += wire[a:rng.randint(a, len(wire))]
        elif kind == 4:  # duplicated
            out += wire + wire
        elif kind == 5:  # bad COBS: a code pointing past the end, or 255-blocks
            out += rng.choice((bytes([rng.randint(30, 255)]) + wire[1:8], b"\xff" * rng.randint(1, 600)))
            out += b"\x00" if rng.random() < 0.5 else b""
        elif kind == 6:  # zeros: empty frames
            out += b"\x00" * rng.randint(1, 4)
        else:
            out += wire
    return bytes(out)


def reader_oracle(stream: bytes, capacity: int = COMMAND_PAYLOAD) -> tuple[list[fr.Frame], int]:
    """What tm_read_frame must make of `stream`, by the protocol (docs/stream-protocol.md) and the
    host's own COBS and CRC: the frames it accepts, and how many non-empty frames it refuses.
    Bytes after the last 0x00 are a frame still arriving."""
    accepted, refused = [], 0
    for chunk in stream.split(b"\x00")[:-1]:
        if not chunk:
            continue
        raw = fr.cobs_decode(chunk)
        if (raw is None or len(raw) < fr.HEADER.size + fr.CRC.size or raw[0] != fr.VERSION
                or zlib.crc32(raw[:-fr.CRC.size]) != fr.CRC.unpack(raw[-fr.CRC.size:])[0]
                or len(raw) - fr.HEADER.size - fr.CRC.size > capacity):
            refused += 1
            continue
        _, kind, stream_id, fmt, seq, ts, samples, channels, _ = fr.HEADER.unpack(raw[:fr.HEADER.size])
        accepted.append(fr.Frame(kind, stream_id, fmt, seq, ts, samples, channels, raw[fr.HEADER.size:-fr.CRC.size]))
    return accepted, refused


def frames_case(rng: random.Random) -> Case:
    final = fr.command(rng.choice((fr.CMD_HELLO, fr.CMD_START, fr.CMD_STOP)), rng.choice((fr.IMU, fr.MIC, fr.MAG)))
    data = _frame_garbage(rng, lambda r: _random_frame(r, _payload_size(r))) + b"\x00" + final
    accepted, refused = reader_oracle(data)
    return Case(data, {"echo": accepted, "refused": refused}, final=1)


def check_frames(out: bytes, case: Case):
    parser = fr.FrameParser()
    got = parser.feed(out)
    if parser.corrupted or not got or (got[-1].type, got[-1].stream) != (fr.STOPPED, 0xFF):
        return "wrong", f"the harness's answer does not parse: {parser.corrupted} corrupted, {len(got)} frames"
    verdict = _compare(got[:-1], case.expect["echo"], case.final)
    if verdict:
        return verdict
    if got[-1].sequence != case.expect["refused"]:
        return "wrong", f"refused {got[-1].sequence} frames, expected {case.expect['refused']}"
    return None


# ---- streamer: the emulator's command dispatch ----


def _command_frame(rng: random.Random) -> fr.Frame:
    kind = rng.choice((fr.CMD_HELLO, fr.CMD_START, fr.CMD_START, fr.CMD_STOP, rng.randrange(256)))
    size = rng.choice((0, 1, 1, 1, _payload_size(rng)))
    payload = bytes([rng.choice((fr.IMU, fr.MIC, fr.MAG, 0, 4, rng.randrange(256)))]) if size else b""
    payload += bytes(rng.randrange(256) for _ in range(size - 1))
    return fr.Frame(kind, fr.CONTROL, fr.FORMAT_NONE, 0, 0, 0, 0, payload)


FRAME_SAMPLES = {fr.IMU: 8, fr.MIC: 256, fr.MAG: 4}  # streamer_main.c


def streamer_case(rng: random.Random) -> Case:
    data = _frame_garbage(rng, _command_frame)
    final = b"\x00" + fr.command(fr.CMD_HELLO) + b"".join(fr.command(fr.CMD_STOP, s) for s in FRAME_SAMPLES)
    return Case(data + final, None, final=4)


def check_streamer(out: bytes, case: Case):
    parser = fr.FrameParser()
    got = parser.feed(out)
    if parser.corrupted or parser.garbage_bytes or not out.endswith(b"\x00"):
        return "wrong", f"the streamer sent {parser.corrupted} corrupted frames, or bytes after its last frame"
    control = [i for i, f in enumerate(got) if f.type != fr.DATA]
    tail = [got[i] for i in control[-4:]]
    shape = [(f.type, f.stream) for f in tail]
    if shape != [(fr.HELLO, fr.CONTROL)] + [(fr.STOPPED, s) for s in FRAME_SAMPLES]:
        return "unanswered", f"the final hello and stops were answered with {shape}"
    try:
        hello = json.loads(tail[0].payload)
        assert [s["id"] for s in hello["streams"]] == list(FRAME_SAMPLES)
    except (ValueError, KeyError, TypeError, AssertionError):
        return "unanswered", f"hello's JSON is wrong: {tail[0].payload[:80]!r}"
    last = {}
    for f in got:
        if f.type == fr.DATA:
            if f.samples != FRAME_SAMPLES.get(f.stream) or f.sequence not in (0, last.get(f.stream, -1) + 1):
                return "wrong", f"data frame {f.stream}/{f.sequence} after {last.get(f.stream)}"
            last[f.stream] = f.sequence
        elif f.type == fr.STOPPED:
            total = int.from_bytes(f.payload, "little")
            if len(f.payload) != 4 or total != f.sequence * FRAME_SAMPLES[f.stream]:
                return "wrong", f"stopped {f.stream}: {f.sequence} frames but {total} samples"
    for i in control[-3:]:
        late = [f for f in got[i:] if f.type == fr.DATA and f.stream == got[i].stream]
        if late:
            return "unanswered", f"{len(late)} data frames of stream {got[i].stream} after its final stop"
    return None


# ---- line protocols ----


def _line_pieces(rng: random.Random, good_line, bad_line) -> bytes:
    out = bytearray()
    for _ in range(rng.randint(1, 12)):
        kind = rng.randrange(10)
        line = good_line(rng)
        if kind <= 2:
            out += line
        elif kind == 3:
            out += bad_line(rng)
        elif kind == 4:  # truncated: no newline, the next piece is glued on
            out += line[:rng.randrange(len(line))]
        elif kind == 5:
            out += _flip(rng, line)
        elif kind == 6:
            out += _random_bytes(rng, zeros=True)
        elif kind == 7:  # oversized: a line far longer than any buffer
            fill = rng.choice((b"0", b"a5", b"Z", b" ", bytes([rng.randrange(256)])))
            out += line[:2] + fill * rng.randint(1000, 12000) + b"\n"
        elif kind == 8:
            out += rng.choice((b"\n", b"\r\n", b"\r", b"  \n", b" \r \r\n", b"\x00\n"))
        else:  # duplicated
            out += line + line
    return bytes(out).replace(b"Q", b"q")  # Q ends the session: the final commands send it


def _hex(rng: random.Random, n: int) -> bytes:
    text = bytes(rng.randrange(256) for _ in range(n)).hex()
    return (text.upper() if rng.random() < 0.2 else text).encode()


def _events(out: bytes) -> list[dict] | str:
    events = []
    for line in out.split(b"\n")[:-1] if out.endswith(b"\n") else out.split(b"\n"):
        try:
            event = parse_line(line + b"\n")
        except DeviceError as e:
            return f"a broken line: {e} {line[:80]!r}"
        if event is None:
            return f"a line that is not an event: {line[:80]!r}"
        events.append(event)
    return events


def _lines(data: bytes):
    """The complete lines, with the spaces and carriage returns before a command skipped (a device
    reads them between commands); a last line without its newline is never answered."""
    for line in data.split(b"\n")[:-1]:
        line = line.lstrip(b" \r")
        if line:
            yield line


# ---- runtime: the model firmware's I/H/Q ----


def _runtime_good(rng: random.Random) -> bytes:
    return rng.choice((b"I " + _hex(rng, RUNTIME_INPUT) + rng.choice((b"\n", b"\r\n")),
                       b"I" + _hex(rng, RUNTIME_INPUT) + b"\n", b"H\n", b"  H\r\n"))


def _runtime_bad(rng: random.Random) -> bytes:
    n = rng.choice((0, 1, RUNTIME_INPUT - 1, RUNTIME_INPUT + 1, rng.randint(0, 40)))
    text = bytearray(_hex(rng, n))
    if text and rng.random() < 0.5:
        text = text[:-1] if rng.random() < 0.5 else text  # an odd number of digits
        if text:
            text[rng.randrange(len(text))] = rng.choice(b"gxZ \r\x00\xff")
    return rng.choice((b"I ", b"I", b"X", b"h", b"i ")) + bytes(text) + rng.choice((b"\n", b"\r\n", b"\r\r\n"))


def runtime_oracle(data: bytes) -> list[tuple]:
    events, index = [("hello",)], 0
    for line in _lines(data):
        c, rest = line[:1], line[1:]
        if c == b"I":
            rest = rest.lstrip(b" ")
            body, tail = rest[:2 * RUNTIME_INPUT], rest[2 * RUNTIME_INPUT:]
            if len(body) == 2 * RUNTIME_INPUT and all(b in HEX for b in body) and tail in (b"", b"\r"):
                events.append(("result", index, body.decode().lower()))
                index += 1
            else:
                events.append(("error", MALFORMED_INPUT))
        elif c == b"H":
            events.append(("hello",))
        elif c == b"Q":
            events.append(("summary", index))
            return events
        else:
            events.append(("error", UNKNOWN_RUNTIME))
    return events


def runtime_case(rng: random.Random) -> Case:
    data = _line_pieces(rng, _runtime_good, _runtime_bad)
    data += b"\nI " + _hex(rng, RUNTIME_INPUT) + b"\nH\nQ\n"
    return Case(data, runtime_oracle(data), final=3)


def _runtime_tuple(e: dict) -> tuple:
    name = e["event"]
    if name == "result":
        return ("result", e["index"], e["output"])
    if name == "error":
        return ("error", e["message"])
    if name == "summary":
        return ("summary", e["inferences"])
    return (name,)


def check_runtime(out: bytes, case: Case):
    events = _events(out)
    if isinstance(events, str):
        return "wrong", events
    return _compare([_runtime_tuple(e) for e in events], case.expect, case.final)


# ---- kws: the KWS app's A/F/R/H/Q ----

FNV_OFFSET, FNV_PRIME = 2166136261, 16777619


def fake_file(path: bytes, chunk: int) -> list[int]:
    """The samples fuzz_kws.c's fake host file gives an F command."""
    n = len(path)
    size = n * 37 % 1500 * 2 + (n & 1)
    content = bytes(((pos // 2 * 7 + n) & 0xFFFF) >> (8 * (pos & 1)) & 0xFF for pos in range(size))
    heard, pos, reads = [], 0, 0
    while True:
        reads += 1
        if b"broken" in path and reads == 2:
            break
        got = min(2 * chunk, size - pos)
        if got <= 0:
            break
        heard += [int.from_bytes(content[pos + i:pos + i + 2], "little") for i in range(0, got - 1, 2)]
        pos += got
        if got < 2 * chunk:
            break
    return heard


def _kws_good(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    if kind <= 1:
        n = rng.choice((0, 1, rng.randint(1, 40), rng.randint(CHUNK - 2, CHUNK + 3)))
        return b"A " + _hex(rng, 2 * n) + rng.choice((b"\n", b"\r\n"))
    if kind == 2:
        path = rng.choice((b"/data/a.raw", b"/data/broken.raw", b"/no/such", b"x" * rng.randint(1, MAX_PATH)))
        return b"F %d %s\n" % (rng.choice((1, 7, rng.randint(1, CHUNK), CHUNK)), path)
    return rng.choice((b"R\n", b"H\n", b"R trailing\n"))


def _kws_bad(rng: random.Random) -> bytes:
    return rng.choice((
        b"A " + _hex(rng, rng.randint(0, 20))[:-1] + b"\n",
        b"A 01" + bytes([rng.choice(b"g \r\x00\xff")]) + b"0\n",
        b"F %d /data/x\n" % rng.choice((0, CHUNK + 1, 99999999999999)),
        b"F 12\n", b"F\n", b"F 12 " + b"p" * rng.randint(MAX_PATH - 1, MAX_PATH + 2) + b"\n",
        b"F 12 " + bytes(rng.randrange(1, 256) for _ in range(rng.randint(1, 40))).replace(b"\n", b"") + b"\n",
        b"X\n", b"a 0000\n", b"f 1 /x\n",
    ))


def _parse_file(rest: bytes):
    """F's line after the F, as kws_main.c reads it: (chunk, path) or None when malformed."""
    j, size = 0, 0
    while j < len(rest) and rest[j] == 0x20:
        j += 1
    while j < len(rest) and 0x30 <= rest[j] <= 0x39 and size <= CHUNK:
        size = size * 10 + rest[j] - 0x30
        j += 1
    while j < len(rest) and rest[j] == 0x20:
        j += 1
    path = bytearray()
    while j < len(rest) and rest[j] != 0x0D and len(path) < MAX_PATH:
        path.append(rest[j])
        j += 1
    if not 1 <= size <= CHUNK or not path or (j < len(rest) and rest[j] != 0x0D):
        return None
    return size, bytes(path)


def kws_oracle(data: bytes) -> list[tuple]:
    events = [("hello",)]
    state = {"stream": 0, "samples": 0, "hash": FNV_OFFSET, "total": 0}

    def hear(values):
        for v in values:
            state["hash"] = ((state["hash"] ^ v) * FNV_PRIME) & 0xFFFFFFFF
        state["samples"] += len(values)
        state["total"] += len(values)

    def tally(name):
        return (name, state["stream"], state["samples"], state["hash"], state["total"])

    for line in _lines(data):
        c, rest = line[:1], line[1:]
        if c == b"A":
            rest, i, values, ok = rest.lstrip(b" "), 0, [], True
            while True:
                if i < len(rest) and rest[i] == 0x0D:
                    i += 1
                if i == len(rest):
                    break
                quad = rest[i:i + 4]
                if len(quad) < 4 or not all(b in HEX for b in quad):
                    ok = False
                    break
                values.append(int.from_bytes(bytes.fromhex(quad.decode()), "little"))
                i += 4
            hear(values)
            if not ok:
                events.append(("error", MALFORMED_AUDIO))
        elif c == b"F":
            parsed = _parse_file(rest)
            if parsed is None:
                events.append(("error", MALFORMED_FILE))
            elif parsed[1].startswith(b"/no/"):
                events.append(("error", CANNOT_OPEN))
            else:
                heard = fake_file(parsed[1], parsed[0])
                hear(heard)
                events.append(("file", len(heard)))
        elif c == b"R":
            events.append(tally("reset"))
            state.update(stream=state["stream"] + 1, samples=0, hash=FNV_OFFSET)
        elif c == b"H":
            events.append(("hello",))
        elif c == b"Q":
            events.append(tally("summary"))
            return events
        else:
            events.append(("error", UNKNOWN_KWS))
    return events


def kws_case(rng: random.Random) -> Case:
    data = _line_pieces(rng, _kws_good, _kws_bad)
    samples = rng.randint(1, 3 * CHUNK)
    data += (b"\nR\nA " + _hex(rng, 2 * samples) + b"\nF %d /data/clip.raw\nH\nR\nQ\n" % rng.randint(1, CHUNK))
    return Case(data, kws_oracle(data), final=5)


def _kws_tuple(e: dict) -> tuple:
    name = e["event"]
    if name in ("reset", "summary"):
        return (name, e["stream"], e["samples"], e["hash"], e["total"])
    if name == "error":
        return ("error", e["message"])
    if name == "file":
        return ("file", e["samples"])
    return (name,)


def check_kws(out: bytes, case: Case):
    events = _events(out)
    if isinstance(events, str):
        return "wrong", events
    return _compare([_kws_tuple(e) for e in events], case.expect, case.final)


GENERATORS = {"frames": frames_case, "streamer": streamer_case, "runtime": runtime_case, "kws": kws_case}
CHECKS = {"frames": check_frames, "streamer": check_streamer, "runtime": check_runtime, "kws": check_kws}
