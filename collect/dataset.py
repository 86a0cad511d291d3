"""The dataset format every stage reads.

A dataset is a folder of recordings plus `manifest.json`:

- IMU recordings are CSV files with a header. The first column is
  `timestamp_us` (microseconds since the recording started); the others are
  the axes named in the manifest, in the units it names.
- Audio recordings are mono 16-bit PCM WAV files.
- `manifest.json` lists every recording with its label, sensor, sample rate,
  axes and units, split (train / val / test), sample count and sha256, and
  optionally where a recording came from (`quality` for streamed ones,
  `source` for imported ones).

`tinyml collect` writes datasets through `DatasetWriter`; `tinyml train` reads
them through `load`. Every file is written under a temporary name and renamed,
and the manifest is rewritten the same way after each recording, so a crash
never leaves a manifest that names a half-written file.
"""

from __future__ import annotations

import io
import json
import math
import struct
import warnings
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyml.artifacts import sha256_file, write_bytes, write_text
from tinyml.errors import BadInput, expected

MANIFEST = "manifest.json"
FORMAT = "tinyml-dataset"
VERSION = 1
SENSORS = ("imu", "mic", "mag")
SPLITS = ("train", "val", "test")
ALL = "all"  # Dataset.split(ALL): every recording, whatever its split
LABEL_RULE = r"[A-Za-z0-9][A-Za-z0-9_-]*"  # a label is also a folder and file name
IMU_AXES = ("ax", "ay", "az", "gx", "gy", "gz")
IMU_UNITS = ("g", "g", "g", "dps", "dps", "dps")
# Unit -> the IMU's range as the board's library configures it (Arduino_LSM9DS1: +-4 g, +-2000 dps).
IMU_RANGE = {"g": 4.0, "dps": 2000.0}
MAX_SAMPLE_RATE = 10_000_000


@dataclass(frozen=True)
class Recording:
    file: str  # relative to the dataset folder, '/'-separated
    label: str
    sensor: str
    sample_rate: int
    axes: tuple[str, ...]
    units: tuple[str, ...]
    split: str
    samples: int
    sha256: str
    quality: dict | None = None  # for streamed recordings: frames received, lost, corrupted, duplicated
    source: dict | None = None  # for imported recordings: the file, its format, the lines, the IMU frame

    def to_json(self) -> dict:
        d = {"file": self.file, "label": self.label, "sensor": self.sensor,
             "sample_rate": self.sample_rate, "axes": list(self.axes), "units": list(self.units),
             "split": self.split, "samples": self.samples, "sha256": self.sha256}
        if self.quality is not None:
            d["quality"] = dict(self.quality)
        if self.source is not None:
            d["source"] = dict(self.source)
        return d


@dataclass(frozen=True)
class Dataset:
    root: Path
    recordings: tuple[Recording, ...]

    @property
    def sensor(self) -> str:
        return self.recordings[0].sensor

    @property
    def sample_rate(self) -> int:
        return self.recordings[0].sample_rate

    @property
    def axes(self) -> tuple[str, ...]:
        return self.recordings[0].axes

    @property
    def labels(self) -> list[str]:
        return sorted({r.label for r in self.recordings})

    def split(self, name: str) -> list[Recording]:
        """The recordings of one split, or of all of them for `ALL`."""
        return [r for r in self.recordings if name == ALL or r.split == name]

    def read(self, rec: Recording, verify: bool = True) -> np.ndarray:
        """The recording's samples as float32 [samples, channels] (timestamps dropped)."""
        return self.read_with_timestamps(rec, verify)[1]

    def read_with_timestamps(self, rec: Recording, verify: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
        """(the CSV's timestamp_us column as float64, or None for audio; the samples as `read` gives them)."""
        path = self.root / rec.file
        try:
            present = path.is_file()
        except OSError:  # a name too long for the file system, say
            present = False
        if not present:
            raise expected(f"recording '{rec.file}' listed in {self.root / MANIFEST}", "no such file",
                           "Restore the file or remove it from the manifest.")
        if verify and sha256_file(path) != rec.sha256:
            raise expected(f"'{rec.file}' to match the sha256 in the manifest", "different contents",
                           "The file changed after it was recorded; re-collect it or update the manifest.")
        t_us, data = (None, _read_wav(path, rec)) if rec.sensor == "mic" else _read_csv(path, rec)
        if data.shape[0] != rec.samples:
            raise expected(f"{rec.samples} samples in '{rec.file}' (manifest)", f"{data.shape[0]}")
        return t_us, data


def _read_csv(path: Path, rec: Recording) -> tuple[np.ndarray, np.ndarray]:
    want = ("timestamp_us",) + rec.axes
    try:
        with open(path, encoding="utf-8") as f:
            header = tuple(f.readline().strip().split(","))
            if header != want:
                shown = ",".join(header)
                raise expected(f"CSV columns {','.join(want)} in '{rec.file}'",
                               repr(shown[:80]) if shown else "an empty file")
            with warnings.catch_warnings():  # a header without rows: numpy warns on stderr, we say it below
                warnings.filterwarnings("ignore", "loadtxt: input contained no data", UserWarning)
                table = np.loadtxt(f, delimiter=",", ndmin=2, dtype=np.float64)
    except UnicodeDecodeError:
        raise expected(f"UTF-8 text in '{rec.file}'", "bytes that are not UTF-8") from None
    except ValueError:
        raise expected(f"{len(want)} numbers in every row of '{rec.file}'",
                       "a non-numeric or short row") from None
    if not np.all(np.isfinite(table)) or np.any(np.abs(table[:, 1:]) > np.finfo(np.float32).max):
        raise expected(f"finite numbers in '{rec.file}'", "NaN, an infinite value or one beyond float32 range",
                       "Re-collect the recording or remove it from the manifest.")
    if table.size == 0:
        table = table.reshape(0, len(want))
    if table.shape[1] != len(want):
        raise expected(f"{len(want)} columns in every row of '{rec.file}'", f"{table.shape[1]}")
    t = table[:, 0]
    if len(t) > 2:
        dt = np.diff(t)
        if np.any(dt <= 0):
            raise expected(f"increasing timestamps in '{rec.file}'", "a timestamp that repeats or goes back")
        measured = 1e6 / float(np.median(dt))
        if abs(measured - rec.sample_rate) > 0.05 * rec.sample_rate:
            raise expected(f"about {rec.sample_rate} Hz in '{rec.file}' (manifest)",
                           f"{measured:.1f} Hz from its timestamps", "Fix the manifest's sample_rate.")
    return t, table[:, 1:].astype(np.float32)


# What the standard `wave` module raises for a file that is not a well-formed WAV: its own errors,
# and, for chunk sizes beyond the file, errors of its chunk reader.
_WAV_ERRORS = (wave.Error, EOFError, struct.error, ValueError, OverflowError, RuntimeError)


def read_wav_frames(path: Path, shown: str) -> tuple[int, int, int, bytes]:
    """A WAV file's (channels, bytes per sample, rate, sample bytes), or a one-line BadInput naming `shown`."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except _WAV_ERRORS as exc:
        if isinstance(exc, EOFError):
            why = "a file cut short"
        elif isinstance(exc, RuntimeError) or not str(exc):
            why = "a chunk larger than the file"
        else:
            why = str(exc).splitlines()[0]
        raise expected(f"a 16-bit PCM WAV file at '{shown}'", why) from None
    return channels, width, rate, raw


def _read_wav(path: Path, rec: Recording) -> np.ndarray:
    channels, width, rate, raw = read_wav_frames(path, rec.file)
    if channels != 1 or width != 2:
        raise expected(f"mono 16-bit WAV in '{rec.file}'", f"{channels} channel(s), {8 * width}-bit")
    if rate != rec.sample_rate:
        raise expected(f"{rec.sample_rate} Hz in '{rec.file}' (manifest)", f"{rate} Hz in the WAV header")
    if len(raw) % 2:
        raise expected(f"whole 16-bit samples in '{rec.file}'", f"{len(raw)} bytes of audio data (cut short?)")
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).reshape(-1, 1)


_FIELDS = "file, label, sensor, sample_rate, axes, units, split, samples, sha256"


def _shown(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_text(value) -> bool:
    """A non-empty string that prints on one line (no line breaks or control characters)."""
    return isinstance(value, str) and value != "" and value.isprintable()


def _recording_from_json(entry, manifest: Path) -> Recording:
    def bad(key: str, what: str):
        if not isinstance(entry, dict):
            return expected(f"each recording in {manifest} to be an object with {_FIELDS}", _shown(entry))
        value = f"{key} {_shown(entry[key])}" if key in entry else f"no {key}"
        return expected(f"each recording in {manifest} to have {_FIELDS}, with {key} {what}",
                        f"{value} in {_shown(entry.get('file'))}")

    def integer(key: str, low: int, high: int) -> int:
        value = entry.get(key)
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if type(value) is not int or not low <= value <= high:  # JSON true/false are not counts
            raise bad(key, f"an integer in {low}..{high}")
        return value

    def texts(key: str) -> tuple[str, ...]:
        value = entry.get(key)
        if not isinstance(value, list) or not value or not all(_is_text(v) for v in value):
            raise bad(key, "a list of names")
        return tuple(value)

    def text(key: str) -> str:
        value = entry.get(key)
        if not _is_text(value):
            raise bad(key, "a text")
        return value

    if not isinstance(entry, dict):
        raise bad("file", "")
    file = text("file")
    parts = file.split("/")
    if "\\" in file or file.startswith("/") or ".." in parts or "" in parts:
        raise bad("file", "a path inside the dataset folder ('label/name.csv')")
    axes, units = texts("axes"), texts("units")
    if len(units) != len(axes):
        raise bad("units", f"one per axis ({len(axes)})")
    quality = entry.get("quality")
    if quality is not None and not isinstance(quality, dict):
        raise bad("quality", "an object")
    source = entry.get("source")
    if source is not None and not isinstance(source, dict):
        raise bad("source", "an object")
    rec = Recording(file=file, label=text("label"), sensor=text("sensor"),
                    sample_rate=integer("sample_rate", 1, MAX_SAMPLE_RATE), axes=axes, units=units,
                    split=text("split"), samples=integer("samples", 0, 2**62), sha256=text("sha256"),
                    quality=quality, source=source)
    if rec.sensor not in SENSORS:
        raise expected(f"sensor one of {{{', '.join(SENSORS)}}} in {manifest}", repr(rec.sensor))
    if rec.split not in SPLITS:
        raise expected(f"split one of {{{', '.join(SPLITS)}}} in {manifest}", f"{rec.split!r} for '{rec.file}'")
    return rec


def load(root: str | Path) -> Dataset:
    """Read and validate a dataset's manifest (the recordings are read lazily)."""
    root = Path(root)
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise expected(f"a dataset folder with {MANIFEST}", f"'{root}'",
                       "Create one with `tinyml collect` (or `tinyml collect --builtin gestures`).")
    try:
        doc = json.loads(manifest.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise expected(f"UTF-8 JSON in {manifest}", "bytes that are not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise expected(f"JSON in {manifest}", f"a parse error at line {exc.lineno}") from None
    except (ValueError, RecursionError):  # an integer of thousands of digits; nesting too deep to parse
        raise expected(f"JSON in {manifest}", "a number too long or nesting too deep to read") from None
    if not isinstance(doc, dict):
        raise expected(f"a JSON object in {manifest}", _shown(doc))
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise expected(f"format '{FORMAT}' version {VERSION} in {manifest}",
                       f"format {_shown(doc.get('format'))} version {_shown(doc.get('version'))}")
    entries = doc.get("recordings", [])
    if not isinstance(entries, list):
        raise expected(f"a list of recordings in {manifest}", _shown(entries))
    recs = tuple(_recording_from_json(e, manifest) for e in entries)
    files: set[str] = set()
    for r in recs:
        if r.file in files:
            raise expected(f"each recording once in {manifest}", f"'{r.file}' listed twice",
                           "Remove the repeated entry.")
        files.add(r.file)
    if not recs:
        raise expected(f"at least one recording in {manifest}", "an empty dataset",
                       "Collect some data first.")
    for field in ("sensor", "sample_rate", "axes"):
        seen: dict = {}
        for r in recs:
            seen.setdefault(getattr(r, field), []).append(r.file)
        if len(seen) > 1:
            parts = "; ".join(f"{_show(k)} in {len(v)} file(s), e.g. '{v[0]}'" for k, v in seen.items())
            todo = "Resample the recordings to one rate or split them into separate datasets." \
                if field == "sample_rate" else "Keep one kind of recording per dataset."
            raise expected(f"one {field} across the dataset", parts, todo)
    return Dataset(root, recs)


def _show(value) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)


def _csv_bytes(timestamps_us: np.ndarray, signal: np.ndarray, axes: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    out.write(",".join(("timestamp_us",) + axes) + "\n")
    for t, row in zip(timestamps_us, signal):
        out.write(f"{int(t)}," + ",".join(f"{v:.5f}" for v in row) + "\n")
    return out.getvalue().encode()


def _wav_bytes(signal: np.ndarray, rate: int) -> bytes:
    pcm = np.clip(np.round(np.asarray(signal, dtype=np.float64).reshape(-1) * 32768.0), -32768, 32767)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return buf.getvalue()


def _stem(rel: str) -> str:
    return rel.split("/")[-1].rsplit(".", 1)[0]


class DatasetWriter:
    """Adds recordings to a dataset folder, keeping the manifest valid after every file.

    `manifest_every=N` rewrites the manifest after every N-th recording instead (bulk writers such
    as the built-in data, which call flush() at the end): the manifest of thousands of clips is
    then written tens of times, not thousands."""

    def __init__(self, root: str | Path, manifest_every: int = 1):
        self.root = Path(root)  # created with the first recording, so a failed start leaves nothing
        self.recordings: list[Recording] = []
        manifest = self.root / MANIFEST
        if manifest.is_file():
            self.recordings = list(load(self.root).recordings)
        # One JSON line per recording, encoded once: rewriting the manifest stays cheap.
        self._lines = [json.dumps(r.to_json()) for r in self.recordings]
        self._names = {(r.label, _stem(r.file)) for r in self.recordings}
        self._every = max(1, manifest_every)
        self._pending = 0

    def check_compatible(self, sensor: str, sample_rate: int, axes: tuple[str, ...]) -> None:
        """Refuse a recording the dataset could not load beside the ones it has."""
        if not self.recordings:
            return
        first = self.recordings[0]
        if (first.sensor, first.sample_rate, first.axes) != (sensor, int(sample_rate), tuple(axes)):
            raise expected(f"{first.sensor} recordings at {first.sample_rate} Hz ({','.join(first.axes)}) like the "
                           f"rest of {self.root}", f"{sensor} at {sample_rate} Hz ({','.join(axes)})",
                           "Write it to another dataset folder (-o).")

    def next_name(self, label: str) -> str:
        """The first free '<label>-NNNN' name."""
        k = 0
        while (label, f"{label}-{k:04d}") in self._names:
            k += 1
        return f"{label}-{k:04d}"

    def add(self, *, name: str, label: str, split: str, sensor: str, sample_rate: int,
            signal: np.ndarray, timestamps_us: np.ndarray | None = None,
            axes: tuple[str, ...] = IMU_AXES, units: tuple[str, ...] = IMU_UNITS,
            quality: dict | None = None, source: dict | None = None) -> Recording:
        if split not in SPLITS:
            raise expected(f"split one of {{{', '.join(SPLITS)}}}", repr(split))
        if (label, name) in self._names:
            raise BadInput(f"Expected a new recording name. Received: '{label}/{name}' already in the dataset.")
        signal = np.asarray(signal)
        if sensor == "mic":
            axes, units = ("pcm",), ("fs",)
        self.check_compatible(sensor, sample_rate, tuple(axes))
        if sensor == "mic":
            rel, data, axes, units = f"{label}/{name}.wav", _wav_bytes(signal, sample_rate), ("pcm",), ("fs",)
        else:
            if timestamps_us is None:
                timestamps_us = np.round(np.arange(len(signal)) * 1e6 / sample_rate)
            rel, data = f"{label}/{name}.csv", _csv_bytes(timestamps_us, signal, tuple(axes))
        path = self.root / rel
        write_bytes(path, data)
        rec = Recording(rel, label, sensor, int(sample_rate), tuple(axes), tuple(units), split,
                        int(signal.shape[0]), sha256_file(path), quality, source)
        self.recordings.append(rec)
        self._lines.append(json.dumps(rec.to_json()))
        self._names.add((label, name))
        self._pending += 1
        if self._pending >= self._every:
            self.write_manifest()
        return rec

    def flush(self) -> None:
        """Write the manifest if recordings were added since it was last written."""
        if self._pending:
            self.write_manifest()

    def write_manifest(self) -> None:
        self._pending = 0
        body = ",\n    ".join(self._lines)
        write_text(self.root / MANIFEST,
                   f'{{\n  "format": "{FORMAT}",\n  "version": {VERSION},\n'
                   f'  "recordings": [\n    {body}\n  ]\n}}\n')
