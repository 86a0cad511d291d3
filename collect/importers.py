"""`tinyml collect --import`: other tools' IMU recordings as dataset recordings.

Readers for the files people already have (docs/importing.md describes each):

- `gesturetoemoji`: the Arduino GestureToEmoji tutorial's CSV (`aX,aY,aZ,gX,gY,gZ`, g and deg/s,
  119 Hz, not in the file), one gesture per blank-line-separated block or per 119 rows.
- `edge-impulse`: data acquisition JSON or CBOR (`payload.interval_ms`, `sensors`, `values`), or
  CSV with a `timestamp` column in milliseconds.
- `magic-wand`: TensorFlow Lite Micro's magic_wand text files: `x,y,z` in mg per line, gestures
  separated by `-,-,-`, 25 Hz.
- `csv`: a header naming the columns (ax/accX/acc_x..., gx/gyrX/gyro_x..., a timestamp column).

Every file is read and checked before anything is written (`read_imports`); a file it cannot read
is one BadInput naming the file, the line (or byte, or JSON path) and what was expected. Then
`write_imported` adds the recordings to the dataset folder in one step: the folder (an existing
one hard-linked into a staging folder beside it) is swapped in whole, so a failure leaves it as
it was. Values become the dataset's units (g, dps) in the board frame (`FRAMES`).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyml.artifacts import atomic_dir
from tinyml.collect.dataset import IMU_AXES, IMU_UNITS, LABEL_RULE, MAX_SAMPLE_RATE, DatasetWriter, Recording
from tinyml.errors import BadInput, expected
from tinyml.log import SILENT

FORMATS = ("gesturetoemoji", "edge-impulse", "magic-wand", "csv")
EXTENSIONS = {"gesturetoemoji": (".csv",), "edge-impulse": (".json", ".cbor", ".csv"),
              "magic-wand": (".txt",), "csv": (".csv",)}
GESTURETOEMOJI_HEADER = ("aX", "aY", "aZ", "gX", "gY", "gZ")
GESTURETOEMOJI_RATE = 119  # Hz: the LSM9DS1's rate in the tutorial's sketch; the CSV does not say
GESTURETOEMOJI_ROWS = 119  # rows per gesture (the sketch's numSamples) when no blank lines separate them
MAGIC_WAND_RATE = 25  # Hz: kTargetHz of TFLM's magic_wand, the rate its training data was recorded at
STANDARD_GRAVITY = 9.80665  # m/s2 per g
RATE_TOLERANCE = 0.01  # a file's rate is stored as whole Hz only if that is within 1 % of it
ACC_AXES, GYRO_AXES = IMU_AXES[:3], IMU_AXES[3:]

# The board frame: the LSM9DS1's accelerometer and gyroscope axes as Arduino_LSM9DS1 reports them on a
# Rev1 Nano 33 BLE Sense. Each entry gives, for the board's x, y and z, (sign, the sensor's own axis);
# the same mapping applies to the accelerometer and the gyroscope. A Rev2 board's BMI270 in its native
# axes maps as Arduino_BMI270_BMM150 1.2.3 itself does under TARGET_ARDUINO_NANO33BLE (BMI270.cpp,
# readAcceleration and readGyroscope: x = -y, y = -x).
FRAMES: dict[str, tuple[tuple[int, str], ...]] = {
    "lsm9ds1": ((+1, "x"), (+1, "y"), (+1, "z")),
    "bmi270": ((-1, "y"), (-1, "x"), (+1, "z")),
}
IMUS = tuple(FRAMES)


def frame_formula(imu: str) -> str:
    """The mapping as docs/importing.md shows it: 'x = -y, y = -x, z = z' (board = sensor)."""
    return ", ".join(f"{board} = {'-' if sign < 0 else ''}{axis}"
                     for board, (sign, axis) in zip("xyz", FRAMES[imu]))


def to_board_frame(signal: np.ndarray, imu: str) -> np.ndarray:
    """Map each x,y,z triple of columns (accelerometer, then gyroscope) from `imu`'s axes to the board's."""
    out = np.empty_like(signal)
    for block in range(0, signal.shape[1], 3):
        for i, (sign, axis) in enumerate(FRAMES[imu]):
            out[:, block + i] = sign * signal[:, block + "xyz".index(axis)]
    return out


@dataclass(frozen=True)
class Imported:
    """One recording read from a file, in the dataset's units and the board frame."""
    label: str
    split: str
    sample_rate: int  # whole Hz, as the manifest stores it
    axes: tuple[str, ...]
    units: tuple[str, ...]
    signal: np.ndarray  # float64 [samples, len(axes)]
    timestamps_us: np.ndarray | None  # the file's own time axis, when it has one (else from sample_rate)
    source: dict  # the manifest's `source`: file, format, lines, imu


@dataclass
class _Part:
    """What a reader found in a file: values already in g / dps, in the file's frame."""
    signal: np.ndarray
    gyro: bool
    fmt: str
    rate: float | None = None  # Hz, if the file says
    timestamps_us: np.ndarray | None = None
    lines: tuple[int, int] | None = None
    label: str | None = None  # a label the file itself carries
    left_out: tuple[str, ...] = ()  # columns or sensors that are not accelerometer, gyroscope or time


# ---------------------------------------------------------------------------------------------
# Reading


def read_imports(paths: list[Path], *, label: str | None = None, fmt: str = "auto", imu: str = "lsm9ds1",
                 split: str | None = None, rate: int | None = None, reporter=SILENT) -> list[Imported]:
    """Every recording in `paths` (files, or folders searched recursively), all checked; nothing written.

    `split`: where all recordings go; None puts files in a folder named `testing` (Edge Impulse's
    export layout) in test and the rest in train. `rate`: the rate of files that do not state one."""
    if fmt != "auto" and fmt not in FORMATS:
        raise expected(f"--format one of {{auto, {', '.join(FORMATS)}}}", repr(fmt))
    if imu not in FRAMES:
        raise expected(f"--imu one of {{{', '.join(FRAMES)}}}", repr(imu))
    if label is not None and not re.fullmatch(LABEL_RULE, label):
        raise expected("--label NAME of letters, digits, '-' or '_'", repr(label))
    files = _files(paths, fmt)
    items: list[Imported] = []
    rounded: dict[float, int] = {}
    left_out: dict[tuple[str, ...], int] = {}
    for k, (path, shown) in enumerate(files):
        parts = _read_file(path, shown, fmt, reporter)
        for part in parts:
            items.append(_imported(part, path, shown, label, imu, split, rate, rounded))
        if parts and parts[0].left_out:
            left_out[parts[0].left_out] = left_out.get(parts[0].left_out, 0) + 1
        reporter.progress("reading", k + 1, len(files))
    if not items:
        raise expected(f"at least one recording in {', '.join(repr(str(p)) for p in paths)}", "none")
    kinds: dict[tuple, str] = {}
    for item in items:
        kinds.setdefault((item.sample_rate, item.axes), item.source["file"])
    if len(kinds) > 1:
        shown = "; ".join(f"{r} Hz ({','.join(a)}) in '{f}'" for (r, a), f in list(kinds.items())[:3])
        raise expected("one sample rate and one set of axes across the imported files (a dataset has one)",
                       shown, "Import them into separate datasets (-o).")
    for names, count in left_out.items():
        reporter.info(f"left out (not accelerometer, gyroscope or time): {', '.join(names)} in {count} file(s)")
    for exact, whole in sorted(rounded.items()):
        reporter.info(f"{exact:g} Hz stored as sample_rate {whole} (whole Hz, {abs(whole - exact) / exact:.1%} "
                      "off); the recordings keep the files' own timestamps")
    return items


def _files(paths: list[Path], fmt: str) -> list[tuple[Path, str]]:
    """(file, the name shown in messages and the manifest: relative to the argument's parent)."""
    wanted = {e for f in FORMATS for e in EXTENSIONS[f]} if fmt == "auto" else set(EXTENSIONS[fmt])
    found: list[tuple[Path, str]] = []
    for arg in paths:
        arg = Path(arg)
        if arg.is_file():
            found.append((arg, arg.name))
        elif arg.is_dir():
            inside = sorted(p for p in arg.rglob("*") if p.is_file() and p.suffix.lower() in wanted
                            and not any(part.startswith(".") for part in p.relative_to(arg).parts))
            if not inside:
                raise expected(f"files ending in {', '.join(sorted(wanted))} in the folder '{arg}'", "none",
                               "Check the path, or give --format.")
            found.extend((p, (Path(arg.name) / p.relative_to(arg)).as_posix()) for p in inside)
        else:
            raise expected("a file or folder to import", f"{_quote(str(arg))} (no such file or folder)",
                           "Check the path.")
    seen: set[Path] = set()
    unique = []
    for p, shown in found:  # a file named twice (a folder and a file in it) is read once
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append((p, "".join(c if c.isprintable() else "?" for c in shown)))
    return unique


def _read_file(path: Path, shown: str, fmt: str, reporter) -> list[_Part]:
    data = path.read_bytes()
    suffix = path.suffix.lower()
    auto = fmt == "auto"
    if auto:
        fmt = {".json": "edge-impulse", ".cbor": "edge-impulse", ".txt": "magic-wand", ".csv": "csv"}.get(suffix)
        if fmt is None:
            raise expected(f"a file ending in .csv, .json, .cbor or .txt, or --format, for '{shown}'",
                           f"{_quote(path.suffix or path.name)} (unknown format)",
                           f"Give --format {{{', '.join(FORMATS)}}}.")
    if fmt != "edge-impulse" or suffix == ".csv":
        lines = _lines(_text(data, shown), shown)
        head = next(i for i, line in enumerate(lines) if line.strip())
        if auto and fmt == "csv" and tuple(_fields(lines[head])) == GESTURETOEMOJI_HEADER:
            fmt = "gesturetoemoji"  # the tutorial's header: its stated rate and gesture length apply
        if fmt == "gesturetoemoji":
            return _gesturetoemoji(lines, head, shown, reporter)
        if fmt == "magic-wand":
            return _magic_wand(lines, shown)
        return _table(lines, head, shown, fmt)
    if suffix == ".json" or (suffix != ".cbor" and data.lstrip()[:1] == b"{"):
        text = _text(data, shown)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise expected(f"Edge Impulse acquisition JSON in '{shown}'",
                           f"a JSON error at line {exc.lineno}: {exc.msg}") from None
        except (ValueError, RecursionError):
            raise expected(f"Edge Impulse acquisition JSON in '{shown}'", "a number too long or nesting too deep") \
                from None
        return [_edge_impulse(doc, shown)]
    try:
        doc = cbor_decode(data)
    except CborError as exc:
        raise expected(f"Edge Impulse acquisition CBOR in '{shown}'", f"{exc.what} at byte {exc.offset}") from None
    return [_edge_impulse(doc, shown)]


def _imported(part: _Part, path: Path, shown: str, label: str | None, imu: str, split: str | None,
              rate: int | None, rounded: dict[float, int]) -> Imported:
    label = label or part.label or _label_from_name(path, part.fmt)
    if not re.fullmatch(LABEL_RULE, label or ""):
        raise expected(f"a label of letters, digits, '-' or '_' from --label or the name of '{shown}'",
                       repr(label) if label else "none", "Give --label NAME.")
    exact = part.rate
    if exact is not None and rate is not None and abs(exact - rate) > RATE_TOLERANCE * rate:
        raise expected(f"files at --rate {rate} Hz", f"{exact:g} Hz stated by '{shown}'",
                       "Leave out --rate for files that carry their rate.")
    if exact is None:
        exact = rate or {"gesturetoemoji": GESTURETOEMOJI_RATE, "magic-wand": MAGIC_WAND_RATE}.get(part.fmt)
    if exact is None:
        raise expected(f"a timestamp column (timestamp_ms, time_us, millis, ...) or --rate HZ for '{shown}'",
                       "neither", "Give the sample rate with --rate.")
    whole = int(math.floor(exact + 0.5))
    if not 1 <= whole <= MAX_SAMPLE_RATE or abs(whole - exact) > RATE_TOLERANCE * exact:
        raise expected(f"a sample rate within 1 % of a whole number of Hz (1..{MAX_SAMPLE_RATE}) in '{shown}'",
                       f"{exact:g} Hz", "The dataset stores whole Hz; resample the file.")
    if abs(whole - exact) > 1e-3 * exact:  # worth saying (119 Hz from 8.403 ms timestamps is not)
        rounded[round(exact, 3)] = whole
    if split is None:
        split = "test" if path.parent.name == "testing" else "train"
    axes, units = (IMU_AXES, IMU_UNITS) if part.gyro else (ACC_AXES, IMU_UNITS[:3])
    source = {"file": shown, "format": part.fmt, "imu": imu}
    if part.lines:
        source["lines"] = f"{part.lines[0]}-{part.lines[1]}"
    return Imported(label, split, whole, axes, units, to_board_frame(part.signal, imu), part.timestamps_us, source)


def _label_from_name(path: Path, fmt: str) -> str:
    if fmt == "edge-impulse":  # Edge Impulse names samples '<label>.<id>...'
        return path.name.split(".", 1)[0]
    stem = path.stem
    wand = re.fullmatch(r"output_([A-Za-z0-9-]+)_.+", stem)  # TFLM: output_{gesture}_{person}.txt
    return wand.group(1) if fmt == "magic-wand" and wand else stem


# ---------------------------------------------------------------------------------------------
# Text: lines, fields, numbers


def _text(data: bytes, shown: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise expected(f"UTF-8 text in '{shown}'", f"bytes that are not UTF-8 at line {line}") from None
    if "\0" in text:
        raise expected(f"text in '{shown}'", f"a NUL byte at line {text.count(chr(10), 0, text.index(chr(0))) + 1}")
    return text


def _lines(text: str, shown: str) -> list[str]:
    """The lines of `text`, for \\n, \\r\\n or lone-\\r line ends; in a file with \\n line ends a stray
    \\r (as in \\r\\r\\n) is dropped."""
    text = text.replace("\r\n", "\n")
    text = text.replace("\r", "" if "\n" in text else "\n")
    lines = text.split("\n")
    if not any(line.strip() for line in lines):
        raise expected(f"data at line 1 of '{shown}'", "an empty file")
    return lines


def _fields(line: str) -> list[str]:
    out = []
    for f in line.split(","):
        f = f.strip()
        if len(f) >= 2 and f[0] == f[-1] == '"':
            f = f[1:-1].strip()
        out.append(f)
    return out


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _quote(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit - 3] + "...")


def _number(field: str, shown: str, line_no: int, what: str) -> float:
    if not _NUMBER.fullmatch(field):
        received = "NaN or an infinite value" if field.lower().lstrip("+-") in ("nan", "inf", "infinity") \
            else "a non-numeric field"
        raise expected(f"{what} at line {line_no} of '{shown}'", f"{received} {_quote(field)}")
    value = float(field)
    if not abs(value) <= _FLOAT32_MAX:
        raise expected(f"{what} at line {line_no} of '{shown}'", f"{_quote(field)}, beyond float32 range")
    return value


def _row(line: str, line_no: int, shown: str, width: int, what: str) -> list[float]:
    fields = _fields(line)
    if len(fields) != width:
        raise expected(f"{width} fields ({what}) at line {line_no} of '{shown}'",
                       f"{len(fields)} fields {_quote(line.strip())}")
    return [_number(f, shown, line_no, f"{width} numbers ({what})") for f in fields]


def _blocks(lines: list[str], first: int, shown: str, width: int, what: str) -> list[tuple[int, int, list]]:
    """The data rows after the header, in blocks separated by blank lines: (first line, last line, rows)."""
    blocks: list[tuple[int, int, list]] = []
    rows: list = []
    start = 0
    for i in range(first, len(lines)):
        line_no = i + 1
        if not lines[i].strip():
            if rows:
                blocks.append((start, line_no - 1, rows))
                rows = []
            continue
        if not rows:
            start = line_no
        rows.append(_row(lines[i], line_no, shown, width, what))
    if rows:
        blocks.append((start, start + len(rows) - 1, rows))
    if not blocks:
        raise expected(f"data rows after the header of '{shown}'", "none")
    return blocks


# ---------------------------------------------------------------------------------------------
# GestureToEmoji and magic_wand


def _gesturetoemoji(lines: list[str], head: int, shown: str, reporter) -> list[_Part]:
    header = tuple(_fields(lines[head]))
    if header != GESTURETOEMOJI_HEADER:
        raise expected(f"the GestureToEmoji header {','.join(GESTURETOEMOJI_HEADER)} at line {head + 1} of '{shown}'",
                       _quote(lines[head].strip()), "Use --format csv for other columns.")
    what = ",".join(GESTURETOEMOJI_HEADER)
    blocks = _blocks(lines, head + 1, shown, 6, what)
    if len(blocks) == 1:  # no blank lines: the sketch's fixed gesture length
        start, end, rows = blocks[0]
        whole = len(rows) - len(rows) % GESTURETOEMOJI_ROWS
        if whole < len(rows):
            reporter.info(f"{shown}: lines {start + whole}-{end} ({len(rows) - whole} rows) are not a whole "
                          f"{GESTURETOEMOJI_ROWS}-row gesture: left out")
        if whole == 0:
            raise expected(f"at least one whole gesture of {GESTURETOEMOJI_ROWS} rows (or blank lines between "
                           f"gestures) in '{shown}'", f"{len(rows)} rows")
        blocks = [(start + k, start + k + GESTURETOEMOJI_ROWS - 1, rows[k:k + GESTURETOEMOJI_ROWS])
                  for k in range(0, whole, GESTURETOEMOJI_ROWS)]
    return [_Part(np.asarray(rows, dtype=np.float64), True, "gesturetoemoji", lines=(a, b))
            for a, b, rows in blocks]


def _magic_wand(lines: list[str], shown: str) -> list[_Part]:
    """Gestures between `-,-,-` lines (as TFLM's data_prepare.py splits them); blank lines are skipped."""
    blocks: list[tuple[int, int, list]] = []
    for i, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        if _fields(text) == ["-", "-", "-"]:
            blocks.append((0, 0, []))
            continue
        if not blocks or not blocks[-1][2]:
            blocks.append((i + 1, i + 1, []))
        start, _, rows = blocks[-1]
        rows.append(_row(text, i + 1, shown, 3, "x,y,z in mg, or -,-,- between gestures"))
        blocks[-1] = (start, i + 1, rows)
    parts = [_Part(np.asarray(rows, dtype=np.float64) / 1000.0, False, "magic-wand", lines=(a, b))
             for a, b, rows in blocks if rows]
    if not parts:
        raise expected(f"x,y,z lines (mg) in '{shown}'", "only -,-,- separators")
    return parts


# ---------------------------------------------------------------------------------------------
# Named columns: generic CSV, Edge Impulse CSV, JSON and CBOR

_ACC_UNITS = {"g": 1.0, "mg": 1e-3, "m/s2": 1 / STANDARD_GRAVITY, "m/s^2": 1 / STANDARD_GRAVITY,
              "m/s²": 1 / STANDARD_GRAVITY, "ms2": 1 / STANDARD_GRAVITY, "mps2": 1 / STANDARD_GRAVITY}
_GYRO_UNITS = {"dps": 1.0, "deg/s": 1.0, "°/s": 1.0, "degs": 1.0, "degps": 1.0, "mdps": 1e-3,
               "rad/s": 180 / math.pi, "rads": 180 / math.pi, "radps": 180 / math.pi}
_TIME_UNITS = {"ms": 1e3, "us": 1.0, "µs": 1.0, "s": 1e6}  # to microseconds
_UNITS = {"acc": _ACC_UNITS, "gyro": _GYRO_UNITS, "time": _TIME_UNITS}
_ACC_NAME = re.compile(r"(?:a|acc|accel|accelerometer|acceleration)([xyz])")
_GYRO_NAME = re.compile(r"(?:g|gyr|gyro|gyroscope)([xyz])")
# time column names (separators and case dropped) -> the unit they imply (None: from a suffix, else ms)
_TIME_NAMES = {"timestamp": None, "time": None, "t": None, "timestampms": "ms", "timems": "ms", "millis": "ms",
               "timestampus": "us", "timeus": "us", "micros": "us"}
_IN_BRACKETS = re.compile(r"(.*?)\s*[(\[]([^)\]]*)[)\]]\s*")
_EDGE_IMPULSE_NAMES = {"accX", "accY", "accZ", "gyrX", "gyrY", "gyrZ"}
_KIND = {"acc": "accelerometer", "gyro": "gyroscope", "time": "timestamp"}


def _column(name: str, units: str | None) -> tuple[str, str, str | None] | None:
    """(kind, axis, unit or None) of a column or sensor name, or None when it is not one we read."""
    base = name.strip()
    bracket = _IN_BRACKETS.fullmatch(base)
    if bracket:
        base, units = bracket.group(1), units or bracket.group(2)
    tokens = [t for t in re.split(r"[\s_.\-]+", base.lower()) if t]
    if units is None and len(tokens) > 1 and any(tokens[-1] in table for table in _UNITS.values()):
        units = tokens.pop()
    joined = "".join(tokens)
    unit = units.strip().lower().replace(" ", "") if units is not None else None
    for kind, pattern in (("acc", _ACC_NAME), ("gyro", _GYRO_NAME)):
        match = pattern.fullmatch(joined)
        if match:
            return kind, match.group(1), unit
    if joined in _TIME_NAMES:
        return "time", "", unit or _TIME_NAMES[joined]
    return None


def _layout(names: list[str], units: list[str | None], shown: str, where: str):
    """Which column is which: ((time index, its scale to us) or None, the axis columns, their scales,
    gyro present, columns left out). Column names without a unit are g and dps, except Edge Impulse's
    accX/accY/accZ, which are m/s2 as in Edge Impulse; a timestamp without a unit is in ms."""
    found: dict[tuple[str, str], tuple[int, float]] = {}
    time: tuple[int, float] | None = None
    for i, (name, given) in enumerate(zip(names, units)):
        col = _column(name, given)
        if col is None:
            continue
        kind, axis, unit = col
        if unit is None:
            unit = {"acc": "m/s2" if name.strip() in _EDGE_IMPULSE_NAMES else "g", "gyro": "dps",
                    "time": "ms"}[kind]
        table = _UNITS[kind]
        if unit not in table:
            raise expected(f"{_KIND[kind]} units from {{{', '.join(table)}}} for {_quote(name)} {where} of '{shown}'",
                           f"unknown units {_quote(unit)}")
        if kind == "time":
            if time is not None:
                raise expected(f"one timestamp column {where} of '{shown}'", f"also {_quote(name)}")
            time = (i, table[unit])
            continue
        if (kind, axis) in found:
            raise expected(f"one column per axis {where} of '{shown}'", f"{kind} {axis} twice (also {_quote(name)})")
        found[(kind, axis)] = (i, table[unit])
    acc = [found.get(("acc", a)) for a in "xyz"]
    gyro = [found.get(("gyro", a)) for a in "xyz"]
    if None in acc or (any(gyro) and None in gyro):
        shown_names = ",".join(n.strip() for n in names)
        raise expected(f"accelerometer x, y and z (and optionally gyroscope x, y and z) {where} of '{shown}' "
                       "(ax/accX/acc_x..., gx/gyrX/gyro_x...)", _quote(shown_names),
                       "Name the columns, or use --format gesturetoemoji / magic-wand.")
    cols = acc + (gyro if gyro[0] else [])
    used = {time[0]} if time else set()
    used |= {i for i, _ in cols}
    left_out = [names[i].strip() for i in range(len(names)) if i not in used]
    return time, [i for i, _ in cols], np.array([s for _, s in cols]), bool(gyro[0]), tuple(left_out)


def _table(lines: list[str], head: int, shown: str, fmt: str) -> list[_Part]:
    names = _fields(lines[head])
    where = f"in the header (line {head + 1})"
    time, cols, scale, gyro, left_out = _layout(names, [None] * len(names), shown, where)
    if fmt == "edge-impulse" and time is None:
        raise expected(f"a timestamp column (ms) {where} of '{shown}' (Edge Impulse CSV)",
                       _quote(",".join(n.strip() for n in names)))
    if fmt == "csv" and time is not None and names[time[0]].strip() == "timestamp" and \
            {n.strip() for n in names} & _EDGE_IMPULSE_NAMES:
        fmt = "edge-impulse"  # Edge Impulse's own CSV: timestamp (ms), accX, ...
    parts = []
    for start, end, rows in _blocks(lines, head + 1, shown, len(names), ",".join(n.strip() for n in names)):
        table = np.asarray(rows, dtype=np.float64)
        part = _Part(table[:, cols] * scale, gyro, fmt, lines=(start, end), left_out=left_out)
        if time is not None:
            t_us = np.round((table[:, time[0]] - table[0, time[0]]) * time[1])
            part.rate, part.timestamps_us = _rate_of(t_us, shown, start)
        parts.append(part)
    return parts


def _rate_of(t_us: np.ndarray, shown: str, first_line: int) -> tuple[float, np.ndarray]:
    steps = np.diff(t_us)
    if len(steps) == 0:
        raise expected(f"at least two rows to measure the sample rate from the timestamps in '{shown}'",
                       f"one row at line {first_line}")
    bad = np.flatnonzero(steps <= 0)
    if len(bad):
        raise expected(f"increasing timestamps (at least 1 us apart) in '{shown}'",
                       f"one that repeats or goes back at line {first_line + int(bad[0]) + 1}")
    return 1e6 / float(np.median(steps)), t_us.astype(np.int64)


def _edge_impulse(doc, shown: str) -> _Part:
    def bad(where: str, what: str, received) -> BadInput:
        return expected(f"{what} at {where} of '{shown}' (Edge Impulse acquisition format)", received)

    if not isinstance(doc, dict) or not isinstance(doc.get("payload"), dict):
        raise bad("the top level", "an object with a 'payload' object", _quote(type(doc).__name__))
    payload = doc["payload"]
    interval = payload.get("interval_ms")
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval < math.inf:
        raise bad("payload.interval_ms", "a number of milliseconds > 0", _quote(repr(interval)))
    sensors = payload.get("sensors")
    if not isinstance(sensors, list) or not sensors:
        raise bad("payload.sensors", "a list of {name, units}", _quote(repr(sensors)))
    names, units = [], []
    for k, s in enumerate(sensors):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str):
            raise bad(f"payload.sensors[{k}]", "an object with a name", _quote(repr(s)))
        if not isinstance(s.get("units"), str):
            raise bad(f"payload.sensors[{k}]", "units", f"unknown units {_quote(repr(s.get('units')))}")
        names.append(s["name"])
        units.append(s["units"])
    _, cols, scale, gyro, left_out = _layout(names, units, shown, "in payload.sensors")
    values = payload.get("values")
    if not isinstance(values, list) or not values:
        raise bad("payload.values", "a list of samples", _quote(repr(values)))
    for k, row in enumerate(values):
        if not isinstance(row, list) or len(row) != len(names):
            raise bad(f"payload.values[{k}]", f"{len(names)} numbers (one per sensor)", _quote(repr(row)))
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad(f"payload.values[{k}][{j}]", "a number", f"a non-numeric value {_quote(repr(v))}")
            if not abs(v) <= _FLOAT32_MAX:
                raise bad(f"payload.values[{k}][{j}]", "a finite number", f"NaN or an infinite value {v!r}")
    table = np.asarray(values, dtype=np.float64)
    label = doc.get("label") if isinstance(doc.get("label"), str) else None
    t_us = np.round(np.arange(len(values)) * float(interval) * 1000.0).astype(np.int64)
    return _Part(table[:, cols] * scale, gyro, "edge-impulse", rate=1000.0 / float(interval),
                 timestamps_us=t_us, label=label, left_out=left_out)


# ---------------------------------------------------------------------------------------------
# CBOR (RFC 8949), the subset Edge Impulse's acquisition format uses


class CborError(Exception):
    def __init__(self, offset: int, what: str):
        super().__init__(f"{what} at byte {offset}")
        self.offset, self.what = offset, what


_MAX_DEPTH = 64


def cbor_decode(data: bytes):
    """One CBOR item: maps, arrays, text and byte strings, integers, half/single/double floats,
    true/false/null, tags (ignored); definite or indefinite lengths."""
    value, end = _cbor_item(data, 0, 0)
    if end != len(data):
        raise CborError(end, "data after the CBOR item")
    return value


_BREAK = object()


def _cbor_item(data: bytes, pos: int, depth: int):
    if depth > _MAX_DEPTH:
        raise CborError(pos, "nesting deeper than 64")
    if pos >= len(data):
        raise CborError(pos, "a file cut short")
    start = pos
    initial = data[pos]
    major, info = initial >> 5, initial & 31
    pos += 1
    if major == 7:
        if info in (25, 26, 27):
            size, fmt = {25: (2, ">e"), 26: (4, ">f"), 27: (8, ">d")}[info]
            if pos + size > len(data):
                raise CborError(start, "a file cut short")
            return struct.unpack(fmt, data[pos:pos + size])[0], pos + size
        simple = {20: False, 21: True, 22: None, 23: None}
        if info in simple:
            return simple[info], pos
        if info == 31:
            return _BREAK, pos
        raise CborError(start, f"an unsupported simple value {info}")
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        size = 1 << (info - 24)
        if pos + size > len(data):
            raise CborError(start, "a file cut short")
        arg = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    elif info == 31 and major in (2, 3, 4, 5):
        arg = None  # indefinite length
    else:
        raise CborError(start, f"a reserved length code {info}")
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        if arg is None:
            chunks = []
            while True:
                chunk, pos = _cbor_item(data, pos, depth + 1)
                if chunk is _BREAK:
                    break
                if not isinstance(chunk, bytes if major == 2 else str):
                    raise CborError(pos, "a string chunk of another type")
                chunks.append(chunk)
            return (b"" if major == 2 else "").join(chunks), pos
        if pos + arg > len(data):
            raise CborError(start, "a string longer than the file")
        raw = data[pos:pos + arg]
        if major == 2:
            return raw, pos + arg
        try:
            return raw.decode("utf-8"), pos + arg
        except UnicodeDecodeError:
            raise CborError(start, "text that is not UTF-8") from None
    if major == 4:
        items = []
        while arg is None or len(items) < arg:
            item, pos = _cbor_item(data, pos, depth + 1)
            if item is _BREAK:
                if arg is None:
                    break
                raise CborError(pos - 1, "a break inside a definite-length array")
            items.append(item)
        return items, pos
    if major == 5:
        out = {}
        count = 0
        while arg is None or count < arg:
            key, pos = _cbor_item(data, pos, depth + 1)
            if key is _BREAK:
                if arg is None:
                    break
                raise CborError(pos - 1, "a break inside a definite-length map")
            if not isinstance(key, (str, int)):
                raise CborError(pos, "a map key that is not text or an integer")
            value, pos = _cbor_item(data, pos, depth + 1)
            if value is _BREAK:
                raise CborError(pos - 1, "a map key without a value")
            out[key] = value
            count += 1
        return out, pos
    # major 6: a tag (e.g. 55799, self-described CBOR); the tagged item is what counts
    value, pos = _cbor_item(data, pos, depth + 1)
    if value is _BREAK:
        raise CborError(pos - 1, "a tag without an item")
    return value, pos


# ---------------------------------------------------------------------------------------------
# Writing


def write_imported(out: Path, items: list[Imported], reporter=SILENT) -> list[Recording]:
    """Add `items` to the dataset at `out` (created if absent) in one step: all or nothing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise expected("a dataset folder (-o)", f"'{out}' (a file)", "Choose another path.")
    out = out.resolve()
    first = items[0]
    DatasetWriter(out).check_compatible("imu", first.sample_rate, first.axes)  # before anything is staged
    recordings = []
    with atomic_dir(out) as stage:
        if out.is_dir():
            _link_tree(out, stage)
        writer = DatasetWriter(stage, manifest_every=len(items) + 1)
        for k, item in enumerate(items):
            recordings.append(writer.add(name=writer.next_name(item.label), label=item.label, split=item.split,
                                         sensor="imu", sample_rate=item.sample_rate,
                                         signal=item.signal.astype(np.float32), timestamps_us=item.timestamps_us,
                                         axes=item.axes, units=item.units, source=item.source))
            reporter.progress("writing", k + 1, len(items))
        writer.flush()
    return recordings


def _link_tree(src: Path, dst: Path) -> None:
    """Mirror `src` into `dst` with hard links (copies where links are not possible). The dataset
    writer replaces files by renaming new ones into place, so the originals are never touched."""
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        for d in dirs:
            (dst / rel / d).mkdir(exist_ok=True)
        for f in files:
            a, b = Path(root) / f, dst / rel / f
            if a.is_symlink():
                os.symlink(os.readlink(a), b)
                continue
            try:
                os.link(a, b)
            except OSError:
                shutil.copy2(a, b)
