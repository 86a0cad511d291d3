"""Hostile input on the host: no traceback, nothing lost.

Seeded mutants of good files and bytes go through the host's readers (dataset manifests with their
CSV and WAV recordings, `evaluate --wav`'s WAV reader, the stream frame parser, the streaming session
with a fake device) and through the CLI commands that read them. Each answer must be a one-line error
(BadInput, exit 2; LinkLost, exit 1, when a device conversation breaks off) or a correct result,
never a traceback. The defects found on the way each have their own test first: a malformed hello,
data frames unlike the hello, readers that buffered without bound or waited forever, quadratic
resynchronisation, and the dataset readers' escapes.

The mutators and readers here also drive the larger campaign of benchmarks/fuzz_host_data.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import random
import shutil
import struct
import sys
import time
import traceback
import tracemalloc
import types
import warnings
import wave
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import serial

from conftest import one_error_line
from tinyml.collect import frames as fr
from tinyml.collect import lines as ln
from tinyml.collect import stream as st
from tinyml.collect.dataset import MANIFEST, DatasetWriter, load
from tinyml.errors import BadInput, TinymlError

SEED = 20240611

# ---------------------------------------------------------------- mutators --------------------------------------


def _span(rng: random.Random, n: int) -> tuple[int, int]:
    a = rng.randrange(n + 1)
    return a, min(n, a + rng.choice((1, 2, 4, 16, 64, 512)))


def bit_flips(b: bytes, rng: random.Random) -> bytes:
    if not b:
        return b
    out = bytearray(b)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(b: bytes, rng: random.Random) -> bytes:
    return b[:rng.randrange(len(b) + 1)]


def random_bytes(b: bytes, rng: random.Random) -> bytes:
    a, z = _span(rng, len(b))
    return b[:a] + rng.randbytes(rng.choice((1, z - a or 1, 40))) + b[z:]


def duplicate_span(b: bytes, rng: random.Random) -> bytes:
    a, z = _span(rng, len(b))
    return b[:z] + b[a:z] * rng.choice((1, 2, 50)) + b[z:]


def delete_span(b: bytes, rng: random.Random) -> bytes:
    a, z = _span(rng, len(b))
    return b[:a] + b[z:]


def empty(b: bytes, rng: random.Random) -> bytes:
    return b""


def non_utf8(b: bytes, rng: random.Random) -> bytes:
    a = rng.randrange(len(b) + 1)
    return b[:a] + rng.choice((b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x00", b"\xfe\xff")) + b[a:]


_NUMBER_TOKENS = (b"1" * 400, b"9" * 5000, b"1e999", b"-1e999", b"nan", b"NaN", b"inf", b"-inf", b"Infinity",
                  b"-1", b"-0", b"0", b"-2147483648", b"4294967296", b"18446744073709551617", b"1.5", b"1e-999")


def _numbers(b: bytes) -> list[tuple[int, int]]:
    spans, i, n = [], 0, len(b)
    while i < n:
        if 48 <= b[i] <= 57:
            j = i
            while j < n and (48 <= b[j] <= 57 or b[j] in b".eE"):
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def replace_number(b: bytes, rng: random.Random) -> bytes:
    """A number in the text becomes huge, NaN, infinite, negative or a size that wraps."""
    spans = _numbers(b)
    if not spans:
        return random_bytes(b, rng)
    a, z = rng.choice(spans)
    return b[:a] + rng.choice(_NUMBER_TOKENS) + b[z:]


def duplicate_line(b: bytes, rng: random.Random) -> bytes:
    lines = b.split(b"\n")
    k = rng.randrange(len(lines))
    op = rng.randrange(3)
    if op == 0:
        lines.insert(k, lines[k])
    elif op == 1:
        del lines[k]
    else:
        lines[k] = b",".join(lines[k].split(b",")[:-1])  # a field less
    return b"\n".join(lines)


BYTE_MUTATORS = (bit_flips, truncate, random_bytes, duplicate_span, delete_span, empty, non_utf8)
TEXT_MUTATORS = BYTE_MUTATORS + (replace_number, replace_number, duplicate_line, duplicate_line)


def mutate_bytes(b: bytes, rng: random.Random, mutators=BYTE_MUTATORS) -> tuple[str, bytes]:
    names = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        m = rng.choice(mutators)
        names.append(m.__name__)
        b = m(b, rng)
    return "+".join(names), b


# WAV header fields of a canonical 44-byte header (what the `wave` module writes): offset, struct format.
WAV_FIELDS = {"riff_size": (4, "<I"), "fmt_size": (16, "<I"), "format_tag": (20, "<H"), "channels": (22, "<H"),
              "rate": (24, "<I"), "byte_rate": (28, "<I"), "block_align": (32, "<H"), "bits": (34, "<H"),
              "data_size": (40, "<I")}
_WAV_VALUES = (0, 1, 2, 3, 7, 8, 24, 32, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 8000, 44100)


def wav_field(b: bytes, rng: random.Random) -> tuple[str, bytes]:
    name = rng.choice(list(WAV_FIELDS))
    offset, fmt = WAV_FIELDS[name]
    size = struct.calcsize(fmt)
    if len(b) < offset + size:
        return name, b
    value = rng.choice(_WAV_VALUES) & ((1 << (8 * size)) - 1)
    return f"{name}={value}", b[:offset] + struct.pack(fmt, value) + b[offset + size:]


def mutate_wav(b: bytes, rng: random.Random) -> tuple[str, bytes]:
    if rng.random() < 0.5:
        name, b = wav_field(b, rng)
        if rng.random() < 0.3:
            more, b = mutate_bytes(b, rng)
            name += "+" + more
        return name, b
    return mutate_bytes(b, rng)


class Raw(str):
    """JSON text written as it is (huge numbers, NaN, nesting too deep for Python's parser)."""


class Pairs(list):
    """A JSON object that may repeat a key."""


def dump(node) -> str:
    if isinstance(node, Raw):
        return str(node)
    if isinstance(node, Pairs):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in node) + "}"
    if isinstance(node, dict):
        return dump(Pairs(node.items()))
    if isinstance(node, list):
        return "[" + ", ".join(dump(v) for v in node) + "]"
    return json.dumps(node)


_WRONG_VALUES = ("x", "", "119", 0, 1, -1, 2**31, -2**63, 1.5, 1e300, None, True, False, [], {}, [1], {"a": 1},
                 ["ax"], "a,b", "line\nbreak", "../../etc/passwd", "/etc/passwd", "\u2028", "\x00")
_WRONG_RAW = (Raw("1" * 400), Raw("-" + "9" * 5000), Raw("1e999"), Raw("-1e999"), Raw("NaN"), Raw("Infinity"),
              Raw("-Infinity"), Raw("[" * 5000 + "]" * 5000))


def _paths(node, here=()):
    yield here
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        yield from _paths(v, here + (k,))


def mutate_json(doc, rng: random.Random) -> tuple[str, str]:
    """A structural mutation of a JSON document, as text: a field removed, duplicated, of the wrong
    type, a huge number, NaN, a negative size, an empty container."""
    doc = json.loads(json.dumps(doc))
    path = rng.choice(list(_paths(doc)))
    op = rng.choice(("remove", "duplicate", "wrong", "wrong", "raw", "empty", "negative"))
    if not path:
        return f"root:{op}", dump(rng.choice(_WRONG_VALUES + _WRONG_RAW))
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    name = f"{'.'.join(map(str, path))}:{op}"
    if op == "remove":
        del parent[key]
    elif op == "duplicate":
        if isinstance(parent, dict):
            pairs = Pairs(parent.items())
            pairs.append((key, rng.choice((parent[key], rng.choice(_WRONG_VALUES)))))
            if not path[:-1]:
                return name, dump(pairs)
            _replace(doc, path[:-1], pairs)
        else:
            parent.insert(key, parent[key])
    elif op == "wrong":
        parent[key] = rng.choice(_WRONG_VALUES)
    elif op == "raw":
        parent[key] = rng.choice(_WRONG_RAW)
    elif op == "empty":
        parent[key] = rng.choice(([], {}, "", 0))
    else:
        value = parent[key]
        parent[key] = -value if isinstance(value, (int, float)) and not isinstance(value, bool) else -1
    return name, dump(doc)


def _replace(doc, path, value):
    for k in path[:-1]:
        doc = doc[k]
    doc[path[-1]] = value


def mutate_json_text(doc, rng: random.Random) -> tuple[str, bytes]:
    """Mostly structural, sometimes bytes mutations of the JSON text."""
    if rng.random() < 0.7 or not isinstance(doc, (dict, list)):
        name, text = mutate_json(doc, rng)
        return name, text.encode()
    return mutate_bytes(dump(doc).encode(), rng, TEXT_MUTATORS)

# ---------------------------------------------------------------- good inputs -----------------------------------


def imu_signal(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.5, size=(n, 6)).astype(np.float32)


def write_imu_dataset(root: Path) -> Path:
    """Labels and rate of a default gesture project, long enough for its windows, in every split."""
    w = DatasetWriter(root)
    for k, (label, split) in enumerate((("idle", "train"), ("punch", "train"), ("idle", "val"), ("punch", "test"))):
        w.add(name=f"r{k}", label=label, split=split, sensor="imu", sample_rate=119, signal=imu_signal(150, k))
    return root


def write_mic_dataset(root: Path) -> Path:
    w = DatasetWriter(root)
    for k, label in enumerate(("yes", "no")):
        pcm = np.random.default_rng(k).integers(-32768, 32768, 1600).astype(np.float32) / 32768.0
        w.add(name=f"c{k}", label=label, split="train", sensor="mic", sample_rate=16000, signal=pcm)
    return root


def wav_bytes(samples: int = 1600, rate: int = 16000, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.random.default_rng(seed).integers(-32768, 32768, samples).astype("<i2").tobytes())
    return buf.getvalue()


def _rewrite_manifest(root: Path, change) -> None:
    doc = json.loads((root / MANIFEST).read_text())
    change(doc)
    (root / MANIFEST).write_text(json.dumps(doc))


def _sha_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

# ---------------------------------------------------------------- a fake streaming device -----------------------

IMU_AXES = ["ax", "ay", "az", "gx", "gy", "gz"]
HELLO_DOC = {"firmware": "tinyml-streamer 1", "board": "fake", "imu": "synthetic", "streams": [
    {"id": 1, "name": "imu", "rate_hz": 119, "channels": 6, "frame_samples": 8, "axes": IMU_AXES,
     "units": ["g"] * 3 + ["dps"] * 3, "scale": [0.0001220703125] * 3 + [0.06103515625] * 3},
    {"id": 2, "name": "mic", "rate_hz": 16000, "channels": 1, "frame_samples": 256, "axes": ["pcm"],
     "units": ["fs"], "scale": [0.000030517578125]}]}
HELLO = json.dumps(HELLO_DOC).encode()
STREAMS = {s["id"]: s for s in HELLO_DOC["streams"]}


def truth(sid: int, seq: int) -> np.ndarray:
    """The fake device's samples of frame `seq`, int16 [frame_samples, channels]."""
    s = STREAMS[sid]
    n = np.arange(seq * s["frame_samples"], (seq + 1) * s["frame_samples"], dtype=np.int64)[:, None]
    c = np.arange(s["channels"], dtype=np.int64)[None, :]
    return ((n * 37 + c * 1009 + sid * 7) % 65536 - 32768).astype("<i2")


def data_frame(sid: int, seq: int) -> fr.Frame:
    s = STREAMS[sid]
    return fr.Frame(fr.DATA, sid, fr.FORMAT_INT16, seq, seq * 67_000, s["frame_samples"], s["channels"],
                    truth(sid, seq).tobytes())


class FakeDevice:
    """tinyml's streamer, in Python, behind a pyserial-like port (read/write/close/is_open).

    It answers each command at once; on `start` it sends `frames` data frames, then waits for `stop`.
    `hello`: its hello payload. `frame_hook(frame) -> frame or None`: changes (or drops) frames before
    they are encoded, so their CRC is good; `wire_hook(index, frame, encoded) -> bytes`: changes the
    bytes on the wire. When it has nothing more to say and the host waits, the link closes."""

    def __init__(self, hello: bytes = HELLO, frames: int = 40, frame_hook=None, wire_hook=None):
        self.hello, self.frames = hello, frames
        self.frame_hook, self.wire_hook = frame_hook, wire_hook
        self.is_open = True
        self.sent: dict[int, int] = {}  # stream -> data frames sent
        self.emitted = 0
        self._parser = fr.FrameParser()
        self._out = bytearray()

    def write(self, data: bytes) -> int:
        for cmd in self._parser.feed(data):
            sid = cmd.payload[0] if cmd.payload else 0
            if cmd.type == fr.CMD_HELLO:
                self._emit(fr.Frame(fr.HELLO, fr.CONTROL, fr.FORMAT_TEXT, 0, 0, 0, 0, self.hello))
            elif sid not in STREAMS:
                self._emit(fr.Frame(fr.ERROR, fr.CONTROL, fr.FORMAT_TEXT, 0, 0, 0, 0, b'{"message":"unknown stream"}'))
            elif cmd.type == fr.CMD_START:
                self.sent[sid] = 0
                for seq in range(self.frames):
                    self._emit(data_frame(sid, seq))
                    self.sent[sid] += 1
            elif cmd.type == fr.CMD_STOP:
                sent = self.sent.pop(sid, 0)
                total = sent * STREAMS[sid]["frame_samples"]
                self._emit(fr.Frame(fr.STOPPED, sid, fr.FORMAT_NONE, sent, 0, 0, 0, total.to_bytes(4, "little")))
        return len(data)

    def _emit(self, frame: fr.Frame) -> None:
        if self.frame_hook:
            frame = self.frame_hook(frame)
            if frame is None:
                return
        encoded = fr.encode(frame)
        if self.wire_hook:
            encoded = self.wire_hook(self.emitted, frame, encoded)
        self.emitted += 1
        self._out += encoded

    def read(self, n: int) -> bytes:
        if not self._out:
            self.is_open = False  # the host waits for what will never come: end it now, not after a timeout
            return b""
        out = bytes(self._out[:n])
        del self._out[:n]
        return out

    def close(self) -> None:
        self.is_open = False


def record_imu(port, wanted: int = 100, timeout_s: float = 0.5) -> st.Capture:
    """The session as `tinyml collect` runs it: hello, quiesce, one recording."""
    streamer = st.Streamer(port, timeout_s=timeout_s)
    streams = streamer.hello()
    info = st.stream_for(streams, "imu")
    streamer.quiesce(streams.values())
    return streamer.record(info, wanted)


class FakeSerial:
    """A FakeDevice as pyserial opens it: `serial.serial_for_url("fakedevice://KEY")` (see `fake_port`)."""

    factories: dict = {}

    def __init__(self, port=None, **settings):
        self.port, self.device, self.is_open = port, None, False

    def open(self):
        self.device = self.factories.pop(self.port.split("://", 1)[1])()
        self.is_open = True

    def read(self, n):
        data = self.device.read(n)
        self.is_open = self.device.is_open
        return data

    def write(self, data):
        return self.device.write(data)

    def close(self):
        self.is_open = False


_PORT_KEYS = itertools.count()


@contextlib.contextmanager
def fake_port(device_factory):
    """A pyserial URL for a FakeDevice, so `tinyml collect --port URL` opens it as it opens any port."""
    package = types.ModuleType("tinyml_fake_ports")
    package.__path__ = []
    handler = types.ModuleType("tinyml_fake_ports.protocol_fakedevice")
    handler.Serial = FakeSerial
    key = str(next(_PORT_KEYS))
    FakeSerial.factories[key] = device_factory
    with mock.patch.dict(sys.modules, {package.__name__: package, handler.__name__: handler}), \
            mock.patch.object(serial, "protocol_handler_packages", [package.__name__, *serial.protocol_handler_packages]):
        yield f"fakedevice://{key}"
    FakeSerial.factories.pop(key, None)

# ---------------------------------------------------------------- readers under fuzz ----------------------------


class ReachedTraining(Exception):
    """`tinyml train` got past reading the dataset; the fuzz stops it before any model is built."""


@contextlib.contextmanager
def no_training():
    with mock.patch("tinyml.tf.load", side_effect=ReachedTraining):
        yield


@contextlib.contextmanager
def no_model(labels=("yes", "no")):
    """`tinyml evaluate --wav` without a model or TFLM: a stand-in interpreter and recorded front end,
    so only the WAV reading (and fitting each clip) is real."""
    from tinyml.evaluate import wav as ev
    from tinyml.train.frontend import FrontendParams, fit_clip

    params = FrontendParams()

    class Interpreter:
        def __init__(self, model_bytes):
            self.input = {"shape": np.array([1, params.frames, params.mel_bands, 1]), "dtype": np.int8,
                          "quantization_parameters": {"scales": [0.1], "zero_points": [0]}}
            self.output = {"shape": np.array([1, len(labels)]), "dtype": np.int8,
                           "quantization_parameters": {"scales": [1 / 256], "zero_points": [-128]}}

        def invoke(self, x):
            return np.zeros(len(labels), dtype=np.int8)

    def features(pcm, p, runner, tflm):
        fit_clip(pcm, p)
        return np.zeros(params.frames * params.mel_bands, dtype=np.int8)

    with mock.patch.object(ev, "Runner", Interpreter), mock.patch.object(ev, "model_features", features), \
            mock.patch("tinyml.train.frontend.read_audio_meta", return_value=(list(labels), params)), \
            mock.patch.object(ev, "read_audio_meta", return_value=(list(labels), params)):
        yield


def cli(argv: list[str]) -> tuple[int, str, str]:
    """`tinyml ...` in this process: exit code, stdout, stderr."""
    from tinyml.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


class Wrong(AssertionError):
    """A reader answered, but not correctly."""


def one_line(text: str) -> bool:
    """Prints as one line (what `conftest.one_error_line` counts: no line break of any kind)."""
    return len(text.splitlines()) == 1


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Wrong(what)


def _check_dataset(ds, base: dict[str, np.ndarray] | None = None) -> None:
    """A loaded dataset is a correct result: typed fields, every recording readable as its manifest says."""
    for rec in ds.recordings:
        check(type(rec.sample_rate) is int and rec.sample_rate >= 1, f"sample_rate {rec.sample_rate!r}")
        check(type(rec.samples) is int and rec.samples >= 0, f"samples {rec.samples!r}")
        check(all(isinstance(a, str) for a in rec.axes + rec.units) and len(rec.axes) == len(rec.units) >= 1,
              f"axes {rec.axes!r} units {rec.units!r}")
        check(isinstance(rec.file, str) and ".." not in rec.file.split("/") and not rec.file.startswith("/"),
              f"file {rec.file!r} outside the dataset")
        data = ds.read(rec)
        check(data.dtype == np.float32 and data.shape == (rec.samples, len(rec.axes)), f"shape {data.shape}")
        check(bool(np.all(np.isfinite(data))), "non-finite samples")
        if rec.sensor == "mic":
            check(bool(np.all(np.abs(data) <= 1.0)), "audio beyond full scale")
        if base is not None and rec.file in base and (ds.root / rec.file).read_bytes() == base[rec.file + ":bytes"]:
            check(np.array_equal(data, base[rec.file]), f"'{rec.file}' read differently from its unchanged file")


def _base_reads(root: Path) -> dict:
    ds = load(root)
    out = {}
    for rec in ds.recordings:
        out[rec.file] = ds.read(rec)
        out[rec.file + ":bytes"] = (root / rec.file).read_bytes()
    return out


class Bench:
    """Good inputs, written once per campaign, copied per mutant (one mutant on disk at a time);
    `how`: the mutation being tried."""

    def __init__(self, work: Path):
        self.work, self.how = Path(work), ""
        self.imu = write_imu_dataset(self.work / "base-imu")
        self.mic = write_mic_dataset(self.work / "base-mic")
        self.imu_reads, self.mic_reads = _base_reads(self.imu), _base_reads(self.mic)
        self.wav = wav_bytes()

    def scratch(self, name: str) -> Path:
        """A path for this mutant's file or folder, cleared of the previous mutant's."""
        out = self.work / "mutant" / name
        shutil.rmtree(out.parent, ignore_errors=True)
        out.parent.mkdir(parents=True)
        return out

    def fresh(self, base: Path) -> Path:
        """A copy of a good dataset to mutate."""
        out = self.scratch("data")
        shutil.copytree(base, out)
        return out


def fuzz_manifest(rng: random.Random, bench: Bench) -> str:
    base = rng.choice((bench.imu, bench.mic))
    root = bench.fresh(base)
    how, data = mutate_json_text(json.loads((root / MANIFEST).read_text()), rng)
    bench.how = how
    (root / MANIFEST).write_bytes(data)
    _check_dataset(load(root), bench.imu_reads if base == bench.imu else bench.mic_reads)
    return how


def _mutate_recording(rng: random.Random, bench: Bench, base: Path, mutate) -> tuple[Path, str]:
    """One recording's file mutated; the manifest's sha256 follows it (or not), so the reader itself is reached."""
    root = bench.fresh(base)
    doc = json.loads((root / MANIFEST).read_text())
    rec = rng.choice(doc["recordings"])
    path = root / rec["file"]
    how, data = mutate(path.read_bytes(), rng)
    bench.how = f"{rec['file']}:{how}"
    path.write_bytes(data)
    if rng.random() < 0.9:
        rec["sha256"] = _sha_of(path)
    (root / MANIFEST).write_text(json.dumps(doc))
    return root, how


def fuzz_csv(rng: random.Random, bench: Bench) -> str:
    root, how = _mutate_recording(rng, bench, bench.imu,
                                  lambda b, r: mutate_bytes(b, r, TEXT_MUTATORS))
    ds = load(root)
    _check_dataset(ds, bench.imu_reads)
    for rec in ds.recordings:  # what the reader accepted, parsed independently
        rows = [row for row in (root / rec.file).read_text().splitlines()[1:] if row.strip()]
        oracle = np.array([[float(v) for v in row.split(",")] for row in rows], dtype=np.float64).reshape(-1, 7)
        check(np.array_equal(ds.read(rec), oracle[:, 1:].astype(np.float32)), f"'{rec.file}' misread")
    return how


def fuzz_dataset_wav(rng: random.Random, bench: Bench) -> str:
    root, how = _mutate_recording(rng, bench, bench.mic, mutate_wav)
    _check_dataset(load(root), bench.mic_reads)
    return how


def fuzz_wav(rng: random.Random, bench: Bench) -> str:
    from tinyml.evaluate.wav import read_wav

    how, data = mutate_wav(bench.wav, rng)
    bench.how = how
    path = bench.scratch("clip.wav")
    path.write_bytes(data)
    pcm = read_wav(path, 16000)
    check(pcm.dtype == np.int16 and pcm.ndim == 1 and 2 * len(pcm) <= len(data), f"pcm {pcm.dtype} {pcm.shape}")
    if data[44:] and data[:44] == bench.wav[:44] and len(data) == len(bench.wav):
        check(pcm.tobytes() == data[44:], "samples differ from the file's")
    return how


def _good_wire(rng: random.Random) -> tuple[bytes, set[fr.Frame]]:
    frames = [fr.Frame(fr.HELLO, fr.CONTROL, fr.FORMAT_TEXT, 0, 0, 0, 0, HELLO)]
    frames += [data_frame(rng.choice((1, 2)), seq) for seq in range(rng.randrange(1, 30))]
    frames.append(fr.Frame(fr.STOPPED, 1, fr.FORMAT_NONE, 7, 0, 0, 0, (56).to_bytes(4, "little")))
    return b"".join(fr.encode(f) for f in frames), set(frames)


def fuzz_frames(rng: random.Random, bench: Bench) -> str:
    wire, good = _good_wire(rng)
    how, wire = mutate_bytes(wire, rng)
    bench.how = how
    if rng.random() < 0.2:  # a burst of noise without delimiters, as from a board printing garbage
        at = rng.randrange(len(wire) + 1)
        wire = wire[:at] + bytes(rng.randrange(1, 256) for _ in range(rng.choice((300, 5000, 70_000)))) + wire[at:]
        how += "+noise"
        bench.how = how
    parser = fr.FrameParser()
    got, i = [], 0
    while i < len(wire):
        step = rng.choice((1, 7, 64, 4096, 100_000))
        got += parser.feed(wire[i:i + step])
        i += step
        check(parser.buffered <= fr.MAX_ENCODED_BYTES, f"{parser.buffered} bytes held")
    for frame in got:  # every frame out is one the device sent: a mutation never makes a frame up
        check(frame in good, f"a frame that was never sent: {frame.type}/{frame.stream}/{frame.sequence}")
    check(min(parser.corrupted, parser.garbage_bytes, parser.frames) >= 0 and parser.frames == len(got), "counters")
    return how


def _session_mutant(rng: random.Random) -> tuple[str, dict, bool]:
    """FakeDevice arguments for one mutant, and whether the samples it delivers must be the truth."""
    mode = rng.choice(("hello", "wire", "wire", "fields"))
    if mode == "hello":
        how, payload = mutate_json_text(HELLO_DOC, rng)
        return "hello:" + how, {"hello": payload}, False
    victims = set(rng.sample(range(60), rng.choice((1, 2, 5))))
    if mode == "wire":
        ops = {k: rng.choice(("flip", "cut", "drop", "garbage", "twice", "noise")) for k in victims}

        def wire_hook(index, frame, encoded):
            op = ops.get(index)
            if op == "flip":
                return bit_flips(encoded, rng)
            if op == "cut":
                return encoded[:rng.randrange(len(encoded))]
            if op == "drop":
                return b""
            if op == "garbage":
                return rng.randbytes(rng.randrange(1, 100)) + encoded
            if op == "twice":
                return encoded + encoded
            if op == "noise":
                return bytes(rng.randrange(1, 256) for _ in range(rng.choice((100, 3000)))) + encoded
            return encoded
        return "wire:" + ",".join(sorted(set(ops.values()))), {"wire_hook": wire_hook}, True
    changes = {}
    for k in victims:
        changes[k] = rng.choice(("channels", "format", "samples", "sequence", "stream", "type", "error", "stopped"))
    counter = {"n": 0}

    def frame_hook(frame):
        k = counter["n"]
        counter["n"] += 1
        what = changes.get(k)
        if what is None:
            return frame
        if what == "channels":
            ch = rng.choice((0, 1, 3, 7, 255))
            return fr.Frame(frame.type, frame.stream, frame.format, frame.sequence, frame.timestamp_us,
                            frame.samples, ch, bytes(2 * frame.samples * ch))
        if what == "format":
            return fr.Frame(frame.type, frame.stream, rng.choice((0, 2, 3, 255)), frame.sequence, frame.timestamp_us,
                            frame.samples, frame.channels, rng.randbytes(rng.randrange(0, 300)))
        if what == "samples":
            n = rng.choice((0, 1, 9, 255, 4000))
            return fr.Frame(frame.type, frame.stream, frame.format, frame.sequence, frame.timestamp_us, n,
                            frame.channels, bytes(2 * n * frame.channels) if frame.format == fr.FORMAT_INT16 else b"")
        if what == "sequence":
            return fr.Frame(frame.type, frame.stream, frame.format, rng.choice((0, 1, 5, 2**31, 2**32 - 1)),
                            frame.timestamp_us, frame.samples, frame.channels, frame.payload)
        if what == "stream":
            return fr.Frame(frame.type, rng.choice((0, 2, 3, 200)), frame.format, frame.sequence, frame.timestamp_us,
                            frame.samples, frame.channels, frame.payload)
        if what == "type":
            return fr.Frame(rng.choice((0, 1, 3, 16, 99)), frame.stream, frame.format, frame.sequence,
                            frame.timestamp_us, frame.samples, frame.channels, frame.payload)
        if what == "error":
            return fr.Frame(fr.ERROR, frame.stream, fr.FORMAT_TEXT, 0, 0, 0, 0,
                            rng.choice((b'{"message":"two\nlines"}', b"\xff\xfe\n\x1b[31m", b"[" * 3000, b"")))
        return fr.Frame(fr.STOPPED, frame.stream, fr.FORMAT_NONE, rng.choice((0, 3, 2**32 - 1)), 0, 0, 0, b"\x01")
    return "fields:" + ",".join(sorted(set(changes.values()))), {"frame_hook": frame_hook}, False


def fuzz_session(rng: random.Random, bench: Bench) -> str:
    how, kwargs, exact = _session_mutant(rng)
    bench.how = how
    wanted = rng.choice((1, 8, 100, 300))
    capture = record_imu(FakeDevice(**kwargs), wanted)
    info = capture.stream
    check(capture.values.shape == (wanted, info.channels) and capture.present.shape == (wanted,), "capture shape")
    q = capture.quality()
    check(all(type(v) is int and v >= 0 for v in q.values()), f"quality {q}")
    check(q["samples_missing"] == wanted - int(capture.present.sum()), "samples_missing")
    if exact and info.channels == 6:  # the wire was damaged, not the frames: what arrived is the truth
        expect = np.concatenate([truth(1, s) for s in range(wanted // 8 + 1)])[:wanted]
        check(np.array_equal(capture.values[capture.present], expect[capture.present]), "samples differ from the device's")
        if capture.samples_missing:
            check(capture.lost + capture.corrupted > 0, "samples missing but no frame counted lost or corrupted")
    return how


READERS = {
    "manifest": fuzz_manifest,
    "csv": fuzz_csv,
    "dataset-wav": fuzz_dataset_wav,
    "wav": fuzz_wav,
    "frames": fuzz_frames,
    "session": fuzz_session,
}


def fuzz_train_cli(rng: random.Random, bench: Bench) -> str:
    """`tinyml train --data DIR` on a mutated manifest or CSV recording (stopped before any training)."""
    if rng.random() < 0.5:
        root = bench.fresh(bench.imu)
        how, data = mutate_json_text(json.loads((root / MANIFEST).read_text()), rng)
        (root / MANIFEST).write_bytes(data)
    else:
        root, how = _mutate_recording(rng, bench, bench.imu, lambda b, r: mutate_bytes(b, r, TEXT_MUTATORS))
    bench.how = how
    _expect_cli(["--quiet", "train", "-C", str(bench.work), "--data", str(root)], reached=ReachedTraining)
    return how


def fuzz_evaluate_wav_cli(rng: random.Random, bench: Bench) -> str:
    """`tinyml evaluate MODEL --wav FILE` on a mutated WAV (a stand-in model)."""
    how, data = mutate_wav(bench.wav, rng)
    path = bench.scratch("clip.wav")
    path.write_bytes(data)
    model = bench.work / "model_int8.tflite"
    model.write_bytes(b"stand-in")
    bench.how = how
    code, out, _ = _expect_cli(["--quiet", "evaluate", "-C", str(bench.work), str(model), "--wav", str(path), "--json"])
    from tinyml.evaluate.wav import read_wav

    (result,) = json.loads(out)["results"]
    check(result["seconds"] == round(len(read_wav(path, 16000)) / 16000, 3), "the clip's length")
    return how


def fuzz_collect_cli(rng: random.Random, bench: Bench) -> str:
    """`tinyml collect --port socket://...` against a mutated fake device."""
    how, kwargs, _ = _session_mutant(rng)
    bench.how = how
    out = bench.scratch("data")
    with fake_port(lambda: FakeDevice(**kwargs)) as url:
        _expect_cli(["--quiet", "collect", "-C", str(bench.work), "--port", url, "--label", "wave",
                     "--seconds", "0.5", "--timeout", "0.3", "-o", str(out)], exits=(0, 1, 2))
    (rec,) = load(out).recordings
    check(rec.quality is not None and rec.samples == int(load(out).read(rec).shape[0]), "the recording written")
    return how


CLI_READERS = {"train --data": fuzz_train_cli, "evaluate --wav": fuzz_evaluate_wav_cli, "collect --port": fuzz_collect_cli}


def _expect_cli(argv: list[str], reached=None, exits=(0, 2)) -> tuple[int, str, str]:
    """Exit 0 (or getting as far as `reached`), or an error exit with exactly one line on stderr (CliError)."""
    try:
        code, out, err = cli(argv)
    except Exception as exc:
        if reached is not None and isinstance(exc, reached):
            return 0, "", ""
        raise
    if code == 0:
        return code, out, err
    check(code in exits, f"exit {code}: {err!r}")
    line = one_error_line(err)
    raise CliError(code, line)


class CliError(Exception):
    """A CLI's error exit with its one stderr line: a one-line error, like BadInput from a library."""

    def __init__(self, code: int, line: str):
        super().__init__(line)
        self.exit_code = code

# ---------------------------------------------------------------- the campaign ----------------------------------


@dataclass
class Tally:
    reader: str
    tried: int = 0
    errors: int = 0  # one-line errors: BadInput (exit 2) or, for a device conversation, LinkLost (exit 1)
    correct: int = 0
    failures: list = field(default_factory=list)  # (mutation, traceback): the bugs


def campaign(reader: str, seed: int, count: int, work: Path, bench: Bench | None = None,
             seconds: float | None = None) -> Tally:
    """`count` mutants for one reader (fewer if `seconds` run out), from random.Random(seed)."""
    fuzz = {**READERS, **CLI_READERS}[reader]
    bench = bench or Bench(work)
    rng = random.Random(f"{seed}:{reader}")
    tally = Tally(reader)
    stop = None if seconds is None else time.monotonic() + seconds
    with contextlib.ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("error")  # a warning is a second line on stderr, or an overflow on the way
        if reader == "train --data":
            stack.enter_context(no_training())
        if reader == "evaluate --wav":
            stack.enter_context(no_model())
        for _ in range(count):
            if stop is not None and time.monotonic() > stop:
                break
            tally.tried += 1
            bench.how = "?"
            try:
                fuzz(rng, bench)
                tally.correct += 1
            except (TinymlError, CliError) as exc:
                if not one_line(str(exc)) or not str(exc).strip():
                    tally.failures.append((bench.how, f"not one line: {exc!r}"))
                else:
                    tally.errors += 1
            except Exception:  # the bug the fuzz looks for: a traceback (or a wrong answer)
                tally.failures.append((bench.how, traceback.format_exc(limit=8)))
    return tally


def _assert_clean(tally: Tally, both: bool = True) -> None:
    assert not tally.failures, f"{tally.reader}: {len(tally.failures)} of {tally.tried} failed; first " \
                               f"({tally.failures[0][0]}):\n{tally.failures[0][1]}"
    if both:  # the mutants reach both answers: the fuzz goes past the first check
        assert tally.errors and tally.correct, tally


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Bench:
    return Bench(tmp_path_factory.mktemp("fuzz"))

# ================================================================ the defects, one test each =====================

# ---- a malformed hello was a traceback ----

BAD_HELLOS = {
    "not UTF-8": b"\xff\xfe{}",
    "not JSON": b'{"streams": [',
    "a list": b"[]",
    "no streams": b'{"board": "x"}',
    "a stream without fields": b'{"streams": [{"id": 1}]}',
    "rate 0": HELLO.replace(b'"rate_hz": 119', b'"rate_hz": 0'),
    "rate a string": HELLO.replace(b'"rate_hz": 119', b'"rate_hz": "fast"'),
    "rate infinite": HELLO.replace(b'"rate_hz": 119', b'"rate_hz": 1e999'),
    "negative channels": HELLO.replace(b'"channels": 6', b'"channels": -6'),
    "huge frames": HELLO.replace(b'"frame_samples": 8', b'"frame_samples": 65535'),
    "an integer of 5000 digits": HELLO.replace(b'"rate_hz": 119', b'"rate_hz": ' + b"9" * 5000),
    "nested too deep": b'{"streams": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    "axes short": HELLO.replace(b'"ax", ', b""),
    "an axis with a comma": HELLO.replace(b'"ax"', b'"a,x"'),
    "scale NaN": HELLO.replace(b"0.0001220703125", b"NaN", 1),
    "two streams named imu": HELLO.replace(b'"name": "mic"', b'"name": "imu"'),
    "a scale of 400 digits": HELLO.replace(b"0.0001220703125", b"1" * 400, 1),
}


@pytest.mark.parametrize("payload", BAD_HELLOS.values(), ids=BAD_HELLOS.keys())
def test_a_malformed_hello_is_one_line(payload):
    with pytest.raises(BadInput) as err:
        st.Streamer(FakeDevice(hello=payload), timeout_s=0.5).hello()
    assert one_line(str(err.value)) and "hello" in str(err.value)


def test_the_hello_is_checked_through_the_cli(tmp_path):
    with fake_port(lambda: FakeDevice(hello=BAD_HELLOS["rate 0"])) as url:
        code, out, err = cli(["--quiet", "collect", "-C", str(tmp_path), "--port", url, "--label", "wave",
                              "--timeout", "1", "-o", str(tmp_path / "d")])
    assert code == 2 and "rate_hz" in one_error_line(err) and not (tmp_path / "d").exists()


def test_text_from_the_device_is_printed_on_one_line():
    hello = json.dumps({**HELLO_DOC, "board": "a\nb\x1b[2J"}).encode()
    streamer = st.Streamer(FakeDevice(hello=hello), timeout_s=0.5)
    streamer.hello()
    assert streamer.info["board"] == "a?b?[2J"

    def refuse(frame):
        if frame.type == fr.DATA:
            return fr.Frame(fr.ERROR, fr.CONTROL, fr.FORMAT_TEXT, 0, 0, 0, 0, b'{"message": "no\\nway"}')
        return frame
    with pytest.raises(TinymlError, match="refused: no.way") as err:
        record_imu(FakeDevice(frame_hook=refuse))
    assert one_line(str(err.value))

# ---- data frames unlike the hello were not checked ----


def _reshaped(frame: fr.Frame, **kw) -> fr.Frame:
    fields = {k: getattr(frame, k) for k in ("type", "stream", "format", "sequence", "timestamp_us", "samples",
                                             "channels", "payload")}
    fields.update(kw)
    return fr.Frame(**fields)


def test_data_frames_unlike_the_hello_are_counted_and_never_used():
    bad = {2: dict(channels=3, payload=bytes(48)),  # 3 channels of a 6-channel stream: used to raise
           3: dict(channels=1, payload=bytes(16)),  # 1 channel: used to be broadcast into all six
           5: dict(format=fr.FORMAT_TEXT, payload=b'{"x": 1}'),  # not samples at all
           6: dict(samples=9, payload=bytes(108))}  # more samples than a frame holds: overlapped the next

    def hook(frame):
        if frame.type == fr.DATA and frame.sequence in bad:
            return _reshaped(frame, **bad[frame.sequence])
        return frame
    capture = record_imu(FakeDevice(frames=10, frame_hook=hook), wanted=80)
    assert capture.corrupted == 4 and capture.lost == 4 and capture.frames == 6
    expect = np.concatenate([truth(1, s) for s in range(10)])
    for seq in range(10):
        rows = slice(8 * seq, 8 * seq + 8)
        assert capture.present[rows].all() == (seq not in bad)
        if seq not in bad:
            np.testing.assert_array_equal(capture.values[rows], expect[rows])
    assert not capture.values[capture.present == 0].any()

# ---- readers that buffered without bound (or waited forever) ----


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_frame_parser_holds_a_bounded_number_of_bytes():
    noise = random.Random(SEED).randbytes(3_000_000).replace(b"\x00", b"\x01")
    frame = fr.encode(data_frame(1, 0))
    parser = fr.FrameParser()
    got = []

    def feed():
        for i in range(0, len(noise), 4096):
            got.extend(parser.feed(noise[i:i + 4096]))
    assert _peak_bytes(feed) < 1_000_000  # the 3 MB of noise are never held
    assert parser.buffered <= fr.MAX_ENCODED_BYTES
    got.extend(parser.feed(frame))
    assert got == [data_frame(1, 0)] and parser.garbage_bytes == len(noise) and parser.corrupted == 0
    assert parser.buffered == 0


class Trickle:
    """A port that reads from a list of byte strings, then returns nothing."""

    def __init__(self, pieces):
        self.pieces = list(pieces)

    def read(self, n):
        return self.pieces.pop(0) if self.pieces else b""


def test_the_line_reader_holds_a_bounded_number_of_bytes():
    long_line = [b"1" * 4096] * 300  # 1.2 MB without a newline: a sketch printing without end
    reader = ln.LineReader(Trickle([b"ax,ay\n", *long_line, b"\n3,4\n"]), timeout_s=5)
    got = []
    peak = _peak_bytes(lambda: got.append(reader.next_values()))
    assert got == [[3.0, 4.0]] and reader.skipped == 2  # the header and the long line
    assert peak < 400_000 and reader.buffered == 0


def test_a_line_of_nan_infinity_or_beyond_float32_is_not_a_sample():
    lines = (b"nan,1", b"1,inf", b"1e999", b"-Infinity 2", b"1e300", b"1,2")
    assert [ln.parse(b) for b in lines] == [None] * 5 + [[1.0, 2.0]]


class Clock:
    """Device time for the session's deadlines: each read of the port advances it 1 ms, whatever the machine."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now


class Chatter:
    """A port that never runs dry: `frame(i)` is what the device says at its i-th read; it never answers."""

    def __init__(self, clock: Clock, frame, limit: int = 20_000):
        self.clock, self.frame, self.reads, self.limit = clock, frame, 0, limit
        self.is_open = True

    def write(self, data):
        return len(data)

    def read(self, n):
        self.reads += 1
        self.clock.now += 0.001
        if self.reads > self.limit:  # 20 s of device time: the host would wait forever
            raise AssertionError("the host is still waiting after 20 s of device time")
        return fr.encode(self.frame(self.reads))


@pytest.mark.parametrize("step", ["hello", "quiesce", "record"])
def test_a_device_that_talks_but_never_answers_is_given_up_on(monkeypatch, step):
    clock = Clock()
    monkeypatch.setattr(st, "time", clock)
    info = st.StreamInfo(1, "imu", 119, 6, 8, IMU_AXES, ["g"] * 6, [1.0] * 6)
    if step == "hello":  # data of a stream left running, but no hello
        port = Chatter(clock, lambda i: data_frame(2, i))
        run = lambda s: s.hello()  # noqa: E731
    elif step == "quiesce":  # a stream that never stops
        port = Chatter(clock, lambda i: data_frame(1, i))
        run = lambda s: s.quiesce([info])  # noqa: E731
    else:  # the same frame over and over: no new sample ever
        port = Chatter(clock, lambda i: data_frame(1, 0))
        run = lambda s: s.record(info, 100)  # noqa: E731
    with pytest.raises(st.LinkLost, match="within 0.5 s. Received: [0-9]+ other frame"):
        run(st.Streamer(port, timeout_s=0.5))
    assert port.reads < 1000

# ---- resynchronising after garbage was quadratic ----


class CountingDecode:
    """Counts the bytes given to COBS decoding; stops a parser that does quadratic work."""

    def __init__(self, real, limit: int):
        self.real, self.limit, self.bytes = real, limit, 0

    def __call__(self, data):
        self.bytes += len(data)
        if self.bytes > self.limit:
            raise AssertionError(f"decoded {self.bytes:,} bytes: more than linear in the input")
        return self.real(data)


GARBAGE = {
    "random": lambda rng, n: bytes(rng.randrange(1, 256) for _ in range(n)),
    "all 0x01": lambda rng, n: b"\x01" * n,
    "all 0xff": lambda rng, n: b"\xff" * n,
    "would-be headers": lambda rng, n: (fr.cobs_encode(fr.HEADER.pack(1, 1, 0, 2, 0, 0, 0, 0, 0) + b"{}")[:-1]
                                        * n)[:n],
}


@pytest.mark.parametrize("kind", GARBAGE, ids=GARBAGE.keys())
@pytest.mark.parametrize("size", [60_000, 200_000])
def test_resynchronising_after_garbage_is_linear(monkeypatch, kind, size):
    """60 KB of zero-free garbage before a frame used to take about 3.6 s (20 KB: 0.4 s): every start
    was decoded. Now each byte is looked at a bounded number of times."""
    garbage = GARBAGE[kind](random.Random(SEED), size)
    assert 0 not in garbage
    frame = fr.encode(data_frame(2, 7))
    wire = fr.encode(data_frame(2, 6)) + garbage + frame
    counting = CountingDecode(fr.cobs_decode, limit=8 * len(wire))
    monkeypatch.setattr(fr, "cobs_decode", counting)
    parser = fr.FrameParser()
    got = parser.feed(wire)
    assert [f.sequence for f in got] == [6, 7]
    assert parser.garbage_bytes == size and parser.corrupted == 0
    assert counting.bytes <= 3 * len(wire) and parser.scanned <= 12 * len(wire)

# ---- the dataset readers' escapes, found by the fuzz below ----


def _manifest_text(root: Path) -> str:
    return (root / MANIFEST).read_text()


MANIFEST_DEFECTS = {
    "not UTF-8": lambda r: (r / MANIFEST).write_bytes(b"\xff" + (r / MANIFEST).read_bytes()),
    "an integer of 5000 digits": lambda r: (r / MANIFEST).write_text(
        _manifest_text(r).replace('"sample_rate": 119', '"sample_rate": ' + "9" * 5000, 1)),
    "nested too deep": lambda r: (r / MANIFEST).write_text("[" * 100_000 + "]" * 100_000),
    "a list": lambda r: (r / MANIFEST).write_text("[]"),
    "recordings a number": lambda r: _rewrite_manifest(r, lambda d: d.update(recordings=3)),
    "sample_rate infinite": lambda r: (r / MANIFEST).write_text(
        _manifest_text(r).replace('"sample_rate": 119', '"sample_rate": 1e999', 1)),
    "axes numbers": lambda r: _rewrite_manifest(r, lambda d: d["recordings"][0].update(axes=[1, 2, 3, 4, 5, 6])),
    "units fewer than axes": lambda r: _rewrite_manifest(r, lambda d: [e.update(units=["g"]) for e in d["recordings"]]),
    "a file listed twice": lambda r: _rewrite_manifest(r, lambda d: d["recordings"].append(d["recordings"][0])),
    "a file name too long": lambda r: _rewrite_manifest(r, lambda d: d["recordings"][0].update(
        file="idle/" + "r" * 300 + ".csv")),
    "a label with a line break": lambda r: _rewrite_manifest(
        r, lambda d: [e.update(label="id\u2028le") for e in d["recordings"]]),
}


@pytest.mark.parametrize("defect", MANIFEST_DEFECTS.values(), ids=MANIFEST_DEFECTS.keys())
def test_manifest_defects_are_one_line_errors(tmp_path, defect):
    root = write_imu_dataset(tmp_path / "data")
    defect(root)
    with pytest.raises(BadInput) as err:
        ds = load(root)
        for rec in ds.recordings:
            ds.read(rec)
    assert one_line(str(err.value))


def _csv_defect(text: str, what: str) -> str:
    lines = text.splitlines()
    if what == "nan":
        lines[5] = lines[5].rsplit(",", 1)[0] + ",nan"
    elif what == "inf":
        lines[5] = lines[5].rsplit(",", 1)[0] + ",1e999"
    elif what == "1e300":
        lines[5] = lines[5].rsplit(",", 1)[0] + ",1e300"
    elif what == "nan timestamps":
        lines = [lines[0]] + [f"nan,{ln_.split(',', 1)[1]}" for ln_ in lines[1:]]
    return "\n".join(lines) + "\n"


RECORDING_DEFECTS = {
    "CSV not UTF-8": ("imu", lambda b: b.replace(b"\n", b"\n\xff", 3)),
    "CSV with NaN": ("imu", lambda b: _csv_defect(b.decode(), "nan").encode()),
    "CSV with 1e999": ("imu", lambda b: _csv_defect(b.decode(), "inf").encode()),
    "CSV with NaN timestamps": ("imu", lambda b: _csv_defect(b.decode(), "nan timestamps").encode()),
    "CSV with 1e300 (beyond float32)": ("imu", lambda b: _csv_defect(b.decode(), "1e300").encode()),
    "CSV with a header and no rows": ("imu", lambda b: b.split(b"\n", 1)[0] + b"\n"),
    "WAV cut mid-sample": ("mic", lambda b: b[:-1]),
    "WAV with a chunk larger than the file": ("mic", lambda b: b[:16] + struct.pack("<I", 24) + b[20:]),
}


@pytest.mark.parametrize("sensor, defect", RECORDING_DEFECTS.values(), ids=RECORDING_DEFECTS.keys())
@pytest.mark.filterwarnings("error")  # numpy's warnings print on stderr: a second line
def test_recording_defects_are_one_line_errors(tmp_path, sensor, defect):
    root = (write_imu_dataset if sensor == "imu" else write_mic_dataset)(tmp_path / "data")
    doc = json.loads(_manifest_text(root))
    path = root / doc["recordings"][0]["file"]
    path.write_bytes(defect(path.read_bytes()))
    doc["recordings"][0]["sha256"] = _sha_of(path)
    (root / MANIFEST).write_text(json.dumps(doc))
    ds = load(root)
    with pytest.raises(BadInput) as err:
        ds.read(ds.recordings[0])
    assert one_line(str(err.value))


def test_a_wav_with_a_chunk_larger_than_the_file_is_one_line_in_evaluate(tmp_path):
    from tinyml.evaluate.wav import read_wav

    path = tmp_path / "long-chunk.wav"
    b = wav_bytes()
    path.write_bytes(b[:16] + struct.pack("<I", 24) + b[20:])  # the wave module raised a bare RuntimeError
    with pytest.raises(BadInput, match="a chunk larger than the file") as err:
        read_wav(path, 16000)
    assert one_line(str(err.value))


def test_a_manifest_cannot_name_a_file_outside_its_dataset(tmp_path):
    """Even with the right sha256, a recording elsewhere on the disk is not part of this dataset."""
    other = write_imu_dataset(tmp_path / "other")
    root = write_imu_dataset(tmp_path / "data")
    _rewrite_manifest(root, lambda d: d["recordings"][0].update(
        file="../other/idle/r0.csv", sha256=_sha_of(other / "idle" / "r0.csv")))
    with pytest.raises(BadInput, match="inside the dataset folder"):
        load(root)

# ================================================================ the fuzz ========================================


@pytest.mark.parametrize("reader, count", [("manifest", 1000), ("csv", 800), ("dataset-wav", 1000), ("wav", 2000),
                                           ("frames", 800), ("session", 1500)])
def test_fuzz_the_readers(bench, tmp_path, reader, count):
    tally = campaign(reader, SEED, count, tmp_path, bench)
    _assert_clean(tally, both=reader != "frames")  # the frame parser has no errors: it counts
    assert tally.tried == count


@pytest.mark.parametrize("reader, count", [("train --data", 300), ("evaluate --wav", 500), ("collect --port", 120)])
def test_fuzz_through_the_cli(bench, tmp_path, reader, count):
    tally = campaign(reader, SEED, count, tmp_path, bench)
    _assert_clean(tally)
    assert tally.tried == count
