"""`tinyml collect --builtin speech-commands`: Google's Speech Commands as a tinyml dataset.

Real speech for keyword spotting. The source is the official archive (v0.02, or v0.01), read as it
downloads, a copy of it on disk (.tar.gz, .tgz or .tar), or the extracted tree: one folder per
spoken word (`yes/`, `no/`, `bed/`, ...) of 16 kHz 16-bit mono WAV clips named
`<speaker>_nohash_<n>.wav`, `validation_list.txt` and `testing_list.txt` (the official split), and
`_background_noise_/` with a few long noise recordings.

Each project label becomes:

- a word of the source: every clip of it, its samples as they are (a clip shorter than 1 s is not
  padded; the front end pads it). `per_class` caps the train clips of each word label (a seeded
  draw); val and test stay whole.
- `unknown`: clips drawn (seeded) from all the words that are not labels, in each split as many as
  the average word label has there (rounded up). Google's training script also sizes unknown (and
  silence) by the keyword clips: 10 % of them each by default, one keyword's worth with its ten.
- `silence`: 1 s pieces of the `_background_noise_` recordings, as many per split as for unknown.
  Each noise recording is cut into three stretches in proportion to the splits' sizes (train, then
  val, then test); a split's pieces start at seeded random places inside its own stretch, spread
  evenly over the recordings, so no stretch of noise is heard by two splits.

A clip named in `validation_list.txt` goes to val, one in `testing_list.txt` to test, every other to
train: exactly the official split, which keeps each speaker in one split. The lists may come after
the clips in the archive, so the archive is read in one pass, the clips it needs copied to a staging
folder, and the splits decided at the end. Everything is written in a folder beside the dataset's
and moved into place whole: a failure leaves nothing behind.
"""

from __future__ import annotations

import http.client
import math
import os
import re
import shutil
import tarfile
import urllib.error
import urllib.request
import zlib
from collections import Counter
from dataclasses import dataclass, field
from gzip import GzipFile
from pathlib import Path
from typing import Callable

import numpy as np

import tinyml
from tinyml.artifacts import atomic_dir
from tinyml.collect.dataset import LABEL_RULE, MANIFEST, SPLITS, DatasetWriter, read_wav_frames
from tinyml.collect.keywords import SAMPLE_RATE
from tinyml.config import SILENCE, UNKNOWN
from tinyml.errors import BadInput, expected
from tinyml.log import SILENT, Reporter

OFFICIAL_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
LISTS = {"validation_list.txt": "val", "testing_list.txt": "test"}
NOISE = "_background_noise_"
SOURCE_FORMAT = "speech-commands"  # the manifest's source.format
CLIP_SAMPLES = SAMPLE_RATE  # a silence piece: 1 s
TIMEOUT_S = 60  # seconds without an answer from the server
STAGING = ".staging"  # inside the dataset's temporary folder, removed before it is moved into place
_CHUNK = 1 << 20
_MB = 1 << 20
_EVERY = 100  # files between progress updates: a redraw per clip would cost more than the clip
_NETWORK_ERRORS = (OSError, http.client.HTTPException, ValueError)
_STREAM_ERRORS = (OSError, EOFError, zlib.error, http.client.HTTPException)


@dataclass(frozen=True)
class Piece:
    """One recording of the dataset: a source clip (start None) or a silence piece of a noise file."""

    label: str
    split: str
    rel: str  # as the source names it: 'yes/0a7c2a8d_nohash_0.wav', '_background_noise_/white_noise.wav'
    start: int | None = None  # the first sample of a silence piece

    def source(self) -> dict:
        if self.start is not None:
            return {"format": SOURCE_FORMAT, "file": self.rel, "start": self.start}
        return {"format": SOURCE_FORMAT, "file": self.rel, "word": word_of(self.rel), "speaker": speaker_of(self.rel)}


def word_of(rel: str) -> str:
    return rel.split("/")[0]


def speaker_of(rel: str) -> str:
    """'yes/0a7c2a8d_nohash_0.wav' -> '0a7c2a8d' (the whole name if it does not follow the pattern)."""
    stem = rel.split("/")[-1].rsplit(".", 1)[0]
    return stem.split("_nohash_")[0]


def _relative(name: str) -> str:
    """A member's path without './', leading '/' or empty parts: './yes/a.wav' -> 'yes/a.wav'."""
    return "/".join(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))


def _kind(rel: str) -> str | None:
    """'list', 'noise', 'clip', or None for what the import does not read (README, LICENSE, ...)."""
    parts = rel.split("/")
    if len(parts) == 1:
        return "list" if parts[0] in LISTS else None
    if len(parts) != 2 or not parts[1].lower().endswith(".wav") or parts[1].startswith("."):
        return None
    if parts[0] == NOISE:
        return "noise"
    return None if parts[0].startswith(("_", ".")) else "clip"


def _why(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class Found:
    """What a pass over the source found: the clips the labels need (each at a path on disk: the source
    tree or the staging folder), the noise recordings' samples, every word with its number of clips,
    and the lists."""

    shown: str  # the source as the user gave it, for messages
    labels: tuple[str, ...]
    words: Counter = field(default_factory=Counter)
    clips: dict[str, Path] = field(default_factory=dict)
    noise: dict[str, np.ndarray] = field(default_factory=dict)  # int16 samples
    lists: dict[str, set[str]] = field(default_factory=dict)
    top: set[str] = field(default_factory=set)  # names at the top of the source, for the message without words

    def needed(self, rel: str) -> str | None:
        """The kind of a file the labels need, or None. Counts every clip's word, needed or not."""
        self.top.add(rel.split("/")[0])
        kind = _kind(rel)
        if kind == "clip":
            word = word_of(rel)
            self.words[word] += 1
            return kind if word in self.labels or UNKNOWN in self.labels else None
        if kind == "noise":
            return kind if SILENCE in self.labels else None
        return kind

    def add(self, rel: str, kind: str, path: Path) -> None:
        if kind == "list":
            try:
                text = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                raise expected(f"UTF-8 text in {rel} of '{self.shown}'", "bytes that are not UTF-8") from None
            self.lists[rel] = {_relative(line.strip()) for line in text.splitlines() if line.strip()}
            return
        pcm = read_pcm(path, f"{self.shown}/{rel}")  # checked now: a bad clip stops the pass, not the writing
        if kind == "clip":
            self.clips[rel] = path
        else:
            self.noise[rel] = pcm

    def check_words(self) -> None:
        """Refuse a source without word folders, or project labels it does not have."""
        if not self.words:
            seen = ", ".join(sorted(self.top)[:8]) or "nothing"
            raise expected(f"word folders of WAV clips (yes/, no/, ...) at the top of '{self.shown}'",
                           f"none (its top level holds: {seen})",
                           "Pass the Speech Commands archive, or the folder that holds its word folders.")
        missing = [lb for lb in self.labels if lb not in (SILENCE, UNKNOWN) and lb not in self.words]
        if missing:
            raise expected(f"project.labels to be words of '{self.shown}', silence or unknown",
                           f"{', '.join(repr(m) for m in missing)}; its words: {', '.join(sorted(self.words))}",
                           "Change project.labels in tinyml.toml.")

    def check(self) -> None:
        """Everything the plan needs is there."""
        self.check_words()
        absent = [name for name in LISTS if name not in self.lists]
        if absent:
            raise expected(f"{' and '.join(LISTS)} at the top of '{self.shown}' (the official split)",
                           f"no {' and no '.join(absent)}",
                           "Pass the whole Speech Commands archive or folder.")
        if SILENCE in self.labels and not self.noise:
            raise expected(f"WAV recordings in {NOISE}/ of '{self.shown}' for the label silence", "none",
                           "Pass the whole Speech Commands archive, or leave silence out of project.labels.")
        if UNKNOWN in self.labels and not any(w not in self.labels for w in self.words):
            raise expected(f"words besides the labels in '{self.shown}' for the label unknown",
                           f"only {', '.join(sorted(self.words))}", "Leave unknown out of project.labels.")


def read_pcm(path: Path, shown: str) -> np.ndarray:
    """A clip's samples as int16, or a one-line error unless it is 16-bit mono at 16 kHz."""
    channels, width, rate, raw = read_wav_frames(path, shown)
    if (channels, width, rate) != (1, 2, SAMPLE_RATE):
        raise expected(f"16-bit mono {SAMPLE_RATE} Hz WAV clips (the Speech Commands format)",
                       f"{channels} channel(s), {8 * width}-bit, {rate} Hz in '{shown}'",
                       f"Convert it (`sox IN -r {SAMPLE_RATE} -c 1 -b 16 OUT.wav`) or remove it.")
    if len(raw) % 2:
        raise expected(f"whole 16-bit samples in '{shown}'", f"{len(raw)} bytes of audio data (cut short?)")
    return np.frombuffer(raw, dtype="<i2")


# ---------------------------------------------------------------------------------------------
# Reading: a folder, an archive on disk, or an archive as it downloads


class _Stream:
    """A byte stream read once, front to back. Counts what it read (for progress) and turns the
    errors of reading it into one line (`failed(why)`)."""

    def __init__(self, raw, failed: Callable[[str], BadInput], on_read: Callable[[int], None] | None = None):
        self.raw, self.failed, self.on_read = raw, failed, on_read
        self.done = 0
        self._head = b""

    def _read(self, n: int) -> bytes:
        try:
            data = self.raw.read(n)
        except _STREAM_ERRORS as exc:
            raise self.failed(_why(exc)) from None
        self.done += len(data)
        if self.on_read is not None:
            self.on_read(self.done)
        return data

    def peek(self, n: int) -> bytes:
        """The next `n` bytes (fewer at the end), which read() then returns again."""
        while len(self._head) < n:
            more = self._read(n - len(self._head))
            if not more:
                break
            self._head += more
        return self._head[:n]

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            rest, self._head = self._head, b""
            while chunk := self._read(_CHUNK):
                rest += chunk
            return rest
        if self._head:
            data, self._head = self._head[:n], self._head[n:]
            return data
        return self._read(n)


class _Member(tarfile.TarInfo):
    """A TarInfo that remembers why tarfile stopped reading: in a stream, tarfile ends as quietly on
    a missing or garbled header (an archive cut short) as on the end-of-archive block."""

    @classmethod
    def fromtarfile(cls, tf):
        try:
            return super().fromtarfile(tf)
        except tarfile.HeaderError as exc:
            tf.stopped_by = exc
            raise


def _corrupt(shown: str) -> Callable[[str], BadInput]:
    return lambda why: expected(f"a Speech Commands archive (.tar.gz or .tar) at '{shown}'",
                                f"{why} (cut short or corrupt)",
                                "Download it again and pass --from FILE, or pass the extracted folder.")


def _unreachable(url: str) -> Callable[[str], BadInput]:
    return lambda why: expected(f"the Speech Commands archive at {url}", why,
                                "Download it elsewhere and pass --from FILE (or the extracted folder).")


def _progress(reporter: Reporter, label: str, total: int | None) -> Callable[[int], None] | None:
    """Progress in MB of `total` bytes, drawn when a whole MB more has been read."""
    if not total:
        return None
    total_mb = max(1, math.ceil(total / _MB))
    last = [-1]

    def report(done: int) -> None:
        mb = min(total_mb, done * total_mb // total)
        if mb != last[0]:
            last[0] = mb
            reporter.progress(label, mb, total_mb, "MB")

    return report


def _scan_archive(raw: _Stream, found: Found, staging: Path) -> None:
    """One pass over a tar stream (gzip-compressed or not): the files `found` needs, copied to `staging`."""
    failed = _corrupt(found.shown)
    if raw.peek(2) == b"\x1f\x8b":
        stream = _Stream(GzipFile(fileobj=raw, mode="rb"), failed)  # checks the gzip CRC at the end
    else:
        stream = _Stream(raw, failed)
    staging.mkdir()
    staged = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=_Member) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                rel = _relative(member.name)
                kind = found.needed(rel)
                if kind is None:
                    continue
                path = staging / f"{staged:07d}.bin"
                staged += 1
                with tar.extractfile(member) as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
                found.add(rel, kind, path)
            ended = isinstance(getattr(tar, "stopped_by", None), tarfile.EOFHeaderError)
    except tarfile.TarError as exc:
        raise failed(_why(exc)) from None
    if not ended:
        raise failed(f"it stops after {stream.done} bytes without the end-of-archive block")
    while stream.read(_CHUNK):  # the padding and, for gzip, the trailer: a stream cut short or a wrong CRC
        pass


def _scan_folder(root: Path, found: Found, reporter: Reporter) -> None:
    rels = []
    with os.scandir(root) as top:
        for entry in sorted(top, key=lambda e: e.name):
            if entry.is_file():
                rels.append(entry.name)
            elif entry.is_dir():
                with os.scandir(entry.path) as inner:
                    rels += sorted(f"{entry.name}/{e.name}" for e in inner if e.is_file())
    needed = [(rel, kind) for rel in rels if (kind := found.needed(rel)) is not None]
    found.check_words()  # a folder's words are known before any clip is read
    for k, (rel, kind) in enumerate(needed, 1):
        found.add(rel, kind, root / rel)
        if k % _EVERY == 0 or k == len(needed):
            reporter.progress("reading", k, len(needed))


def read_source(source: str, labels: tuple[str, ...], staging: Path, reporter: Reporter = SILENT) -> Found:
    """Find what `labels` need in `source` (a folder, a tar file or an http(s) URL), checked whole."""
    found = Found(source, tuple(labels))
    path = Path(source)
    if re.match(r"https?://", source, re.IGNORECASE):
        try:
            response = urllib.request.urlopen(
                urllib.request.Request(source, headers={"User-Agent": f"tinyml/{tinyml.__version__}"}),
                timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            raise _unreachable(source)(f"HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise _unreachable(source)(_why(exc.reason)) from None
        except _NETWORK_ERRORS as exc:
            raise _unreachable(source)(_why(exc)) from None
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            lost = _unreachable(source)
            _scan_archive(_Stream(response, lambda why: lost(f"{why} during the download"),
                                  _progress(reporter, "downloading", total)), found, staging)
    elif "://" in source:
        raise expected("--from a .tar.gz/.tgz/.tar file, a folder or an http(s) URL", repr(source))
    elif path.is_dir():
        _scan_folder(path, found, reporter)
    elif path.is_file():
        with open(path, "rb") as f:
            _scan_archive(_Stream(f, _corrupt(source), _progress(reporter, "reading", path.stat().st_size)),
                          found, staging)
    else:
        raise expected("--from a .tar.gz/.tgz/.tar file, a folder or an http(s) URL",
                       f"'{source}' (no such file or folder)", "Check the path.")
    found.check()
    return found


# ---------------------------------------------------------------------------------------------
# What goes where


def split_of(rel: str, lists: dict[str, set[str]]) -> str:
    for name, split in LISTS.items():
        if rel in lists[name]:
            return split
    return "train"


def _draw(items: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """`n` of `items` (all if fewer), drawn without replacement, in their order."""
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.sort(rng.choice(len(items), size=n, replace=False))]


def _key(seed: int, name: str, *more: int) -> tuple[int, ...]:
    return (seed, zlib.crc32(name.encode()), *more)


def silence_pieces(lengths: dict[str, int], counts: dict[str, int], seed: int) -> list[Piece]:
    """`counts[split]` 1 s pieces per split from noise recordings of `lengths` samples (see the module's
    docstring): each split inside its own stretch of every recording, spread evenly over them."""
    total = sum(counts.values())
    pieces = []
    for s, split in enumerate(SPLITS):
        before = sum(counts[x] for x in SPLITS[:s])
        stretches = []
        for rel in sorted(lengths):
            a = lengths[rel] * before // total
            b = lengths[rel] * (before + counts[split]) // total
            if b - a >= CLIP_SAMPLES:
                stretches.append((rel, a, b))
        n = counts[split]
        if n and not stretches:
            shown = ", ".join(f"{rel} ({lengths[rel] / SAMPLE_RATE:.1f} s)" for rel in sorted(lengths))
            raise expected(f"noise recordings long enough for {n} silence pieces of 1 s in the {split} split "
                           f"(a share {counts[split]}/{total} of each)", shown,
                           "Add longer recordings to _background_noise_/ or leave silence out of project.labels.")
        for j, (rel, a, b) in enumerate(stretches):
            m = n // len(stretches) + (j < n % len(stretches))
            rng = np.random.default_rng(_key(seed, SILENCE, s, zlib.crc32(rel.encode())))
            starts = np.sort(rng.integers(a, b - CLIP_SAMPLES + 1, size=m))
            pieces += [Piece(SILENCE, split, rel, int(x)) for x in starts]
    return pieces


def plan(found: Found, seed: int, per_class: int | None = None) -> list[Piece]:
    """Every recording, in writing order: by label (project order), split, then source name."""
    labels = found.labels
    by_split: dict[str, dict[str, list[str]]] = {}
    for rel in sorted(found.clips):
        by_split.setdefault(word_of(rel), {s: [] for s in SPLITS})[split_of(rel, found.lists)].append(rel)
    chosen: dict[str, dict[str, list[str]]] = {}
    words = [lb for lb in labels if lb not in (SILENCE, UNKNOWN)]
    for word in words:
        chosen[word] = dict(by_split[word])
        if per_class is not None:
            chosen[word]["train"] = _draw(chosen[word]["train"], per_class, np.random.default_rng(_key(seed, word)))
    share = {s: math.ceil(sum(len(chosen[w][s]) for w in words) / len(words)) for s in SPLITS}
    if UNKNOWN in labels:
        others = sorted(w for w in by_split if w not in labels)
        chosen[UNKNOWN] = {s: _draw(sorted(rel for w in others for rel in by_split[w][s]), share[s],
                                    np.random.default_rng(_key(seed, UNKNOWN, i))) for i, s in enumerate(SPLITS)}
    pieces = []
    for label in labels:
        if label == SILENCE:
            pieces += silence_pieces({rel: len(pcm) for rel, pcm in found.noise.items()}, share, seed)
        else:
            pieces += [Piece(label, s, rel) for s in SPLITS for rel in chosen[label][s]]
    return pieces


# ---------------------------------------------------------------------------------------------
# Writing


def check_labels(labels: tuple[str, ...]) -> None:
    if not labels or len(set(labels)) != len(labels) or not all(re.fullmatch(LABEL_RULE, lb) for lb in labels):
        raise expected("distinct labels of letters, digits, '-' or '_' in project.labels",
                       ", ".join(labels) or "none")
    if all(lb in (SILENCE, UNKNOWN) for lb in labels):
        raise expected("at least one word among project.labels besides silence and unknown (their clip "
                       "counts follow the words')", ", ".join(labels))


def write_speech_commands(root: str | Path, *, source: str | None = None, labels: tuple[str, ...],
                          seed: int = 1234, per_class: int | None = None,
                          reporter: Reporter = SILENT) -> dict[str, Counter]:
    """Import Speech Commands from `source` (default: the official URL) into `root`, which must not
    hold anything yet. Returns the recordings written per label and split."""
    labels = tuple(labels)
    check_labels(labels)
    if per_class is not None and per_class < 1:
        raise expected("--per-class N >= 1 (train clips per label)", per_class)
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise expected("a dataset folder (-o)", f"'{root}' (a file)", "Choose another path.")
    if (root / MANIFEST).exists():
        raise expected("an empty folder for the Speech Commands dataset", f"'{root}' already holds a dataset",
                       "Choose another folder or delete it.")
    if root.is_dir() and any(root.iterdir()):
        raise expected("an empty or new folder for the Speech Commands dataset", f"'{root}' holds other files",
                       "Choose another folder.")
    source = OFFICIAL_URL if source is None else str(source)
    counts: dict[str, Counter] = {lb: Counter() for lb in labels}
    with atomic_dir(root) as tmp:
        found = read_source(source, labels, tmp / STAGING, reporter)
        pieces = plan(found, seed, per_class)
        writer = DatasetWriter(tmp, manifest_every=500)
        index: Counter = Counter()
        for k, piece in enumerate(pieces, 1):
            if piece.start is None:
                pcm = read_pcm(found.clips[piece.rel], f"{source}/{piece.rel}")
            else:
                pcm = found.noise[piece.rel][piece.start:piece.start + CLIP_SAMPLES]
            writer.add(name=f"{piece.label}-{index[piece.label]:04d}", label=piece.label, split=piece.split,
                       sensor="mic", sample_rate=SAMPLE_RATE, signal=pcm.astype(np.float32) / 32768.0,
                       source=piece.source())
            index[piece.label] += 1
            counts[piece.label][piece.split] += 1
            if k % _EVERY == 0 or k == len(pieces):
                reporter.progress("writing", k, len(pieces))
        writer.flush()
        if (tmp / STAGING).exists():
            shutil.rmtree(tmp / STAGING)
    return counts
