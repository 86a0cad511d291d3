"""`tinyml collect --import`: other tools' files, read from the real recordings in ../shared/reference/imu_gestures
and from small files built here; bad files are one line, exit 2, nothing written."""

import io
import json
import math
import re
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tinyml.cli import main
from tinyml.collect.dataset import IMU_AXES, IMU_UNITS, load
from tinyml.collect.importers import (FRAMES, STANDARD_GRAVITY, CborError, cbor_decode, frame_formula,
                                      read_imports)
from tinyml.log import Reporter

from conftest import REPO, one_error_line

CHIA = "ChiaHong95+Gesture-Recognition-Arduino"
ADAM = "AdamClarkStandke+TinyMachineLearning"
RANJITH = "ranjith-ms+Optimizing-Neural-Networks-for-Embedded-Systems"
ZERO = "TheZeroHz+MotionSense-ESP"


@pytest.fixture(scope="module")
def gestures(reference) -> Path:
    return reference / "imu_gestures"


def _import(*args) -> int:
    return main(["--quiet", "collect", "--import", *map(str, args)])


def _by_file(ds):
    return sorted(ds.recordings, key=lambda r: r.file)


def _rows(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1)  # blank lines and \r\n skipped


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------------------------
# The real files


def test_gesturetoemoji_rev1_gestures_back_to_back(gestures, tmp_path):
    src = gestures / CHIA
    assert _import(src, "-o", tmp_path / "d") == 0
    ds = load(tmp_path / "d")
    assert Counter(r.label for r in ds.recordings) == {"flex": 15, "punch": 20}
    assert {(r.samples, r.sample_rate, r.axes, r.units, r.split) for r in ds.recordings} == \
        {(119, 119, IMU_AXES, IMU_UNITS, "train")}
    for label in ("flex", "punch"):
        raw = _rows(src / f"{label}.csv")
        recs = [r for r in _by_file(ds) if r.label == label]
        for k, rec in enumerate(recs):
            np.testing.assert_allclose(ds.read(rec), raw[119 * k:119 * (k + 1)], atol=6e-6)
    second = [r for r in _by_file(ds) if r.label == "flex"][1]
    assert second.source == {"file": f"{CHIA}/flex.csv", "format": "gesturetoemoji", "imu": "lsm9ds1",
                             "lines": "121-239"}


def test_gesturetoemoji_rev2_blank_lines_mapped_from_the_bmi270(gestures, tmp_path):
    src = gestures / ADAM
    assert _import(src, "--imu", "bmi270", "-o", tmp_path / "d") == 0
    ds = load(tmp_path / "d")
    assert Counter(r.label for r in ds.recordings) == {"punch": 17, "upper_cut": 18}
    assert {(r.samples, r.sample_rate) for r in ds.recordings} == {(119, 119)}
    raw = _rows(src / "punch.csv")
    board = raw[:, [1, 0, 2, 4, 3, 5]] * np.array([-1, -1, 1, -1, -1, 1])  # x = -y, y = -x, z = z
    punches = [r for r in _by_file(ds) if r.label == "punch"]
    for k, rec in enumerate(punches):
        np.testing.assert_allclose(ds.read(rec), board[119 * k:119 * (k + 1)], atol=6e-6)
    assert [r.source["lines"] for r in punches[:2]] == ["2-120", "122-240"]  # line 121 is blank
    assert {r.source["imu"] for r in ds.recordings} == {"bmi270"}


def test_gesturetoemoji_30_row_gestures(gestures, tmp_path):
    assert _import(gestures / RANJITH, "-o", tmp_path / "d") == 0
    ds = load(tmp_path / "d")
    assert Counter(r.label for r in ds.recordings) == {"flex": 43, "punch": 17}
    assert {(r.samples, r.sample_rate) for r in ds.recordings} == {(30, 119)}


def test_edge_impulse_json_export_accelerometer_only(gestures, tmp_path):
    src = gestures / ZERO
    out = io.StringIO()
    items = read_imports([src], reporter=Reporter(stream=out))
    assert "62.5 Hz stored as sample_rate 63" in out.getvalue()
    assert len(items) == 120
    assert _import(src, "-o", tmp_path / "d") == 0
    ds = load(tmp_path / "d")
    assert Counter((r.label, r.split) for r in ds.recordings) == {
        (label, split): 15 for label in ("fall", "groundquack", "idle", "shake") for split in ("train", "test")}
    assert {(r.samples, r.sample_rate, r.axes, r.units) for r in ds.recordings} == \
        {(62, 63, ("ax", "ay", "az"), ("g", "g", "g"))}
    for rec in _by_file(ds)[::17]:
        assert rec.source["format"] == "edge-impulse"
        doc = json.loads((gestures / rec.source["file"]).read_text())
        want = np.asarray(doc["payload"]["values"]) / STANDARD_GRAVITY
        np.testing.assert_allclose(ds.read(rec), want, atol=6e-6)
        t_us = np.loadtxt(tmp_path / "d" / rec.file, delimiter=",", skiprows=1, usecols=0)
        np.testing.assert_array_equal(t_us, np.arange(62) * 16_000)  # the file's 16 ms, not 1/63 s
        assert rec.source["file"].split("/")[1] == {"train": "training", "test": "testing"}[rec.split]


def test_split_and_label_flags_apply_to_every_file(gestures, tmp_path):
    assert _import(gestures / ZERO / "testing", "--split", "val", "--label", "move", "-o", tmp_path / "d") == 0
    ds = load(tmp_path / "d")
    assert Counter((r.label, r.split) for r in ds.recordings) == {("move", "val"): 60}


def test_appending_continues_names_and_leaves_the_old_files(gestures, tmp_path):
    data = tmp_path / "d"
    assert _import(gestures / CHIA / "flex.csv", "-o", data) == 0
    before = _snapshot(data)
    assert _import(gestures / CHIA / "flex.csv", gestures / CHIA / "punch.csv", "-o", data) == 0
    ds = load(data)
    assert Counter(r.label for r in ds.recordings) == {"flex": 30, "punch": 20}
    assert ds.recordings[15].file == "flex/flex-0015.csv"
    after = _snapshot(data)
    assert all(after[name] == body for name, body in before.items() if name != "manifest.json")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_an_incompatible_append_is_refused_and_changes_nothing(gestures, tmp_path, capsys):
    data = tmp_path / "d"
    assert _import(gestures / CHIA / "flex.csv", "-o", data) == 0
    before = _snapshot(data)
    capsys.readouterr()
    assert _import(gestures / ZERO / "training", "-o", data) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "119 Hz" in line and "63 Hz" in line and "ax,ay,az)" in line
    assert _snapshot(data) == before


def test_files_of_two_rates_in_one_import_are_refused(gestures, tmp_path, capsys):
    assert _import(gestures / CHIA / "flex.csv", gestures / ZERO / "testing", "-o", tmp_path / "d") == 2
    line = one_error_line(capsys.readouterr().err)
    assert "one sample rate and one set of axes" in line and "flex.csv" in line and "testing/" in line
    assert not (tmp_path / "d").exists()


# ----------------------------------------------------------------------------------------------
# Small files built here


def _gesture_rows(n, seed=0):
    return np.round(np.random.default_rng(seed).normal(0, 1, (n, 6)) * [1, 1, 1, 100, 100, 100], 3)


def _g2e(rows, sep="\n", quote=False, blank_every=None):
    q = '"' if quote else ""
    lines = [",".join(f"{q}{h}{q}" for h in ("aX", "aY", "aZ", "gX", "gY", "gZ"))]
    for k, row in enumerate(rows):
        if blank_every and k and k % blank_every == 0:
            lines.append("")
        lines.append(",".join(f"{q}{v:.3f}{q}" for v in row))
    return sep.join(lines) + sep


@pytest.mark.parametrize("sep, quote", [("\r", True), ("\r\r\n", False), ("\r\n", True)])
def test_carriage_returns_and_quotes(tmp_path, sep, quote):
    rows = _gesture_rows(238)
    (tmp_path / "wave.csv").write_bytes(_g2e(rows, sep, quote).encode())
    assert _import(tmp_path / "wave.csv", "-o", tmp_path / "d") == 0
    ds = load(tmp_path / "d")
    assert [(r.label, r.samples) for r in ds.recordings] == [("wave", 119), ("wave", 119)]
    np.testing.assert_allclose(np.vstack([ds.read(r) for r in _by_file(ds)]), rows, atol=6e-6)


def test_blank_lines_with_stray_carriage_returns_still_split_gestures(tmp_path):
    rows = _gesture_rows(90)
    (tmp_path / "wave.csv").write_bytes(_g2e(rows, "\r\r\n", blank_every=30).encode())
    assert _import(tmp_path / "wave.csv", "-o", tmp_path / "d") == 0
    assert [r.samples for r in load(tmp_path / "d").recordings] == [30, 30, 30]


def test_a_trailing_partial_gesture_is_left_out_with_a_warning(tmp_path, capsys):
    (tmp_path / "wave.csv").write_text(_g2e(_gesture_rows(119 + 40)))
    assert main(["collect", "--import", str(tmp_path / "wave.csv"), "-o", str(tmp_path / "d")]) == 0
    assert "wave.csv: lines 121-160 (40 rows) are not a whole 119-row gesture: left out" in capsys.readouterr().err
    assert [r.samples for r in load(tmp_path / "d").recordings] == [119]


def test_magic_wand_text(tmp_path):
    text = "-,-,-\r\n" + "".join(f"{x:.2f},{-x:.2f},{1000 - x:.2f}\r\n" for x in range(0, 400, 10)) + \
           "-,-,-\r\n" + "".join(f"{x:.2f},0.00,-1000.00\r\n" for x in range(12)) + "\r\n"
    (tmp_path / "output_wing_hyw.txt").write_text(text)
    assert _import(tmp_path / "output_wing_hyw.txt", "-o", tmp_path / "d") == 0
    ds = load(tmp_path / "d")
    assert [(r.label, r.samples, r.sample_rate, r.axes, r.source["lines"]) for r in ds.recordings] == [
        ("wing", 40, 25, ("ax", "ay", "az"), "2-41"), ("wing", 12, 25, ("ax", "ay", "az"), "43-54")]
    first = ds.read(ds.recordings[0])
    np.testing.assert_allclose(first[4], [0.04, -0.04, 0.96], atol=6e-6)  # mg -> g


def test_generic_csv_names_units_and_timestamps(tmp_path):
    t = np.arange(50) * 10.0  # ms: 100 Hz
    rad = np.linspace(-1, 1, 50)
    lines = ["time_ms,acc_x,acc_y,acc_z,gyro_x (rad/s),gyro_y (rad/s),gyro_z (rad/s),temp"] + [
        f"{ti:.1f},0.5,-0.25,1.0,{r:.6f},0,{-r:.6f},21.5" for ti, r in zip(t, rad)]
    (tmp_path / "swipe.csv").write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    (item,) = read_imports([tmp_path / "swipe.csv"], reporter=Reporter(stream=out))
    assert "left out (not accelerometer, gyroscope or time): temp in 1 file(s)" in out.getvalue()
    assert (item.label, item.sample_rate, item.axes, item.source["format"]) == ("swipe", 100, IMU_AXES, "csv")
    np.testing.assert_allclose(item.signal[:, 3], np.round(rad, 6) * 180 / math.pi, rtol=1e-9)
    np.testing.assert_allclose(item.signal[:, :3], [[0.5, -0.25, 1.0]] * 50)

    (tmp_path / "tap.csv").write_text("timestamp_us,ax_mg,ay_mg,az_mg\n" +
                                      "".join(f"{k * 5000},{k},0,1000\n" for k in range(20)))
    (item,) = read_imports([tmp_path / "tap.csv"])
    assert (item.sample_rate, item.axes) == (200, ("ax", "ay", "az"))
    np.testing.assert_allclose(item.signal[3], [0.003, 0, 1.0])


def test_edge_impulse_csv(tmp_path):
    (tmp_path / "idle.4tgabc12.csv").write_text("timestamp,accX,accY,accZ\n" +
                                                "".join(f"{20 * k},0,0,9.80665\n" for k in range(25)))
    assert _import(tmp_path / "idle.4tgabc12.csv", "-o", tmp_path / "d") == 0
    (rec,) = load(tmp_path / "d").recordings
    assert (rec.label, rec.sample_rate, rec.samples, rec.source["format"]) == ("idle", 50, 25, "edge-impulse")
    np.testing.assert_allclose(load(tmp_path / "d").read(rec)[:, 2], 1.0, atol=6e-6)


def test_a_csv_without_timestamps_needs_rate(tmp_path, capsys):
    (tmp_path / "tilt.csv").write_text("ax,ay,az\n" + "0,0,1\n" * 10)
    assert _import(tmp_path / "tilt.csv", "-o", tmp_path / "d") == 2
    assert "--rate" in one_error_line(capsys.readouterr().err)
    assert _import(tmp_path / "tilt.csv", "--rate", "50", "-o", tmp_path / "d") == 0
    assert load(tmp_path / "d").sample_rate == 50


class _Indefinite(list):
    pass


def _cbor(value) -> bytes:
    """A small CBOR encoder for the tests: floats in the shortest exact width (half, single, double)."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    if isinstance(value, bool) or value is None:
        return {True: b"\xf5", False: b"\xf4", None: b"\xf6"}[value]
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, float):
        for code, fmt in ((b"\xf9", ">e"), (b"\xfa", ">f")):
            try:
                packed = struct.pack(fmt, value)
            except OverflowError:
                continue
            if struct.unpack(fmt, packed)[0] == value:
                return code + packed
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, str):
        return head(3, len(value.encode())) + value.encode()
    if isinstance(value, _Indefinite):
        return b"\x9f" + b"".join(map(_cbor, value)) + b"\xff"
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(map(_cbor, value))
    return head(5, len(value)) + b"".join(_cbor(k) + _cbor(v) for k, v in value.items())


def test_edge_impulse_cbor_reads_as_its_json(gestures, tmp_path):
    doc = json.loads((gestures / ZERO / "training" / "shake.4tgemreg.ingestion-5d794bbc4d-7rc5s.json").read_text())
    values = doc["payload"]["values"]
    values[0][:2] = [70000.5, -0.5]  # exact in single and half precision: the file has all three float widths
    assert [_cbor(v)[0] for v in (values[0][1], values[0][0], values[1][0])] == [0xf9, 0xfa, 0xfb]
    (tmp_path / "shake.4tgemreg.json").write_text(json.dumps(doc))
    doc["payload"]["values"] = _Indefinite(values)
    (tmp_path / "shake.4tgemreg.cbor").write_bytes(b"\xd9\xd9\xf7" + _cbor(doc))  # self-described CBOR
    (from_json,) = read_imports([tmp_path / "shake.4tgemreg.json"])
    (from_cbor,) = read_imports([tmp_path / "shake.4tgemreg.cbor"])
    assert (from_cbor.label, from_cbor.sample_rate, from_cbor.axes) == ("shake", 63, ("ax", "ay", "az"))
    np.testing.assert_array_equal(from_cbor.signal, from_json.signal)
    np.testing.assert_array_equal(from_cbor.timestamps_us, from_json.timestamps_us)


def test_cbor_decoder_subset():
    assert cbor_decode(_cbor({"a": [1, -500, 1.5, 1e300, "é", None, True]})) == \
        {"a": [1, -500, 1.5, 1e300, "é", None, True]}
    assert cbor_decode(b"\xbf\x61k\x9f\x01\x02\xff\xff") == {"k": [1, 2]}  # indefinite map and array
    assert cbor_decode(b"\x7f\x61a\x61b\xff") == "ab"  # indefinite text
    for bad, where in [(b"\x82\x01", 2), (b"\x01\x02", 1), (b"\x7b" + b"\xff" * 8, 0), (b"\x1c", 0)]:
        with pytest.raises(CborError) as err:
            cbor_decode(bad)
        assert err.value.offset == where


# ----------------------------------------------------------------------------------------------
# Bad files: one line naming the file and where, exit 2, nothing written

_GOOD = _g2e(_gesture_rows(119))
_HEADER = "aX,aY,aZ,gX,gY,gZ\n"
_EI = {"protected": {"ver": "v1", "alg": "none", "iat": 0}, "signature": "0" * 64,
       "payload": {"device_type": "X", "interval_ms": 10,
                   "sensors": [{"name": "accX", "units": "m/s2"}, {"name": "accY", "units": "m/s2"},
                               {"name": "accZ", "units": "m/s2"}], "values": [[0, 0, 9.8], [0, 0, 9.8]]}}


def _ei(**payload):
    return json.dumps({**_EI, "payload": {**_EI["payload"], **payload}})


BAD_FILES = [
    ("empty.csv", "", [], ["line 1", "an empty file"]),
    ("punch.csv", "ax,ay,az,gx,gy,gz\n1,2,3,4,5,6\n", ["--format", "gesturetoemoji"],
     ["line 1", "header aX,aY,aZ,gX,gY,gZ"]),
    ("punch.csv", _HEADER + "0.1,0.2,0.3,1,2,3\n0.1,0.2,abc,1,2,3\n", [], ["line 3", "non-numeric", "'abc'"]),
    ("punch.csv", _HEADER + "0.1,0.2,0.3,1,2,3\n" * 2 + "0.1,0.2,0.3,1,2\n", [], ["line 4", "6 fields", "5 fields"]),
    ("punch.csv", _HEADER + "nan,0.2,0.3,1,2,3\n", [], ["line 2", "NaN or an infinite value"]),
    ("punch.csv", _HEADER + "0.1,0.2,0.3,1,2,3\n0.1,0.2,0.3,-inf,2,3\n", [], ["line 3", "NaN or an infinite"]),
    ("punch.csv", _HEADER + "0.1,0.2,0.3,1,2,1e999\n", [], ["line 2", "beyond float32 range"]),
    ("notes.xyz", "1,2,3\n", [], ["unknown format", "--format"]),
    ("data (1).csv", _GOOD, [], ["'data (1)'", "--label"]),
    ("wave.csv", "foo,bar,baz\n1,2,3\n", [], ["line 1", "accelerometer x, y and z", "'foo,bar,baz'"]),
    ("wave.csv", "t_ms,ax,ay,az\n0,0,0,1\n10,0,0,1\n5,0,0,1\n", [], ["line 4", "increasing timestamps"]),
    ("wave.csv", "time (fortnights),ax,ay,az\n0,0,0,1\n", [], ["line 1", "unknown units 'fortnights'"]),
    ("output_ring_a.txt", "-,-,-\n1,2,3\n1,2\n", [], ["line 3", "x,y,z in mg"]),
    ("idle.1.json", _ei(sensors=[{"name": "accX", "units": "furlongs"}, {"name": "accY", "units": "m/s2"},
                                 {"name": "accZ", "units": "m/s2"}]), [],
     ["payload.sensors", "unknown units 'furlongs'"]),
    ("idle.1.json", _ei(values=[[0, 0, 9.8], ["x", 0, 9.8]]), [], ["payload.values[1][0]", "non-numeric"]),
    ("idle.1.json", _ei(interval_ms=0), [], ["payload.interval_ms", "> 0"]),
    ("idle.1.json", _ei()[:-40], [], ["line 1", "JSON error"]),
    ("idle.1.cbor", _cbor(json.loads(_ei()))[:-3], [], ["at byte", "cut short"]),
]


@pytest.mark.parametrize("name, body, flags, fragments", BAD_FILES,
                         ids=[f"{n}-{f[-1]}" for n, _, _, f in BAD_FILES])
def test_a_bad_file_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, name, body, flags, fragments):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "aaa.csv").write_text(_GOOD)  # read first, fine, and still not written
    (folder / name).write_bytes(body if isinstance(body, bytes) else body.encode())
    inputs = [folder / "aaa.csv", folder / name]
    assert _import(*inputs, *flags, "-o", tmp_path / "d") == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("tinyml collect: error: Expected ") and name in line, line
    for fragment in fragments:
        assert fragment in line, line
    assert not (tmp_path / "d").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no staging folder either


def test_a_bad_file_leaves_an_existing_dataset_exactly_as_it_was(gestures, tmp_path, capsys):
    data = tmp_path / "d"
    assert _import(gestures / CHIA / "flex.csv", "-o", data) == 0
    before = _snapshot(data)
    (tmp_path / "punch.csv").write_text(_HEADER + "0.1,0.2,0.3,1,2,3\n" + "0.1,x,0.3,1,2,3\n")
    assert _import(gestures / CHIA / "punch.csv", tmp_path / "punch.csv", "-o", data) == 2
    assert "line 3 of 'punch.csv'" in one_error_line(capsys.readouterr().err)
    assert _snapshot(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "punch.csv"]


def test_import_formats_are_refused_for_recording_and_the_other_way_round(tmp_path, capsys):
    (tmp_path / "wave.csv").write_text(_GOOD)
    assert _import(tmp_path / "wave.csv", "--format", "lines", "-o", tmp_path / "d") == 2
    assert "--format one of {auto," in one_error_line(capsys.readouterr().err)
    assert main(["collect", "--port", "loop://", "--label", "a", "--format", "csv"]) == 2
    assert "--format binary or lines" in one_error_line(capsys.readouterr().err)


# ----------------------------------------------------------------------------------------------
# The axis table in docs/importing.md is the code's


def test_the_docs_show_the_frames_the_code_applies():
    docs = (REPO / "docs" / "importing.md").read_text()
    assert FRAMES["bmi270"] == ((-1, "y"), (-1, "x"), (1, "z"))
    for imu in FRAMES:
        assert re.search(rf"^\| `{imu}` \|.*\| `{re.escape(frame_formula(imu))}` \|", docs, re.M), imu


# ----------------------------------------------------------------------------------------------
# evaluate --split all on imported data (the demo's trained model)


def _evaluate(project, data, *flags):
    return main(["--quiet", "evaluate", "-C", str(project), "--data", str(data), "--split", "all", *flags])


@pytest.mark.slow
def test_evaluate_every_recording_of_an_imported_dataset(demo_project, gestures, tmp_path, capsys):
    data = tmp_path / "real"
    assert _import(gestures / CHIA, "-o", data) == 0
    capsys.readouterr()
    assert _evaluate(demo_project, data, "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["split"], result["recordings"], result["windows"]) == ("all", 35, 35)
    labels = result["labels"]
    assert [sum(row) for row in result["confusion"]] == [{"flex": 15, "punch": 20}.get(lb, 0) for lb in labels]
    per_class = result["per_class_accuracy"]
    assert per_class["idle"] is None and per_class["wave"] is None
    flex = labels.index("flex")
    assert per_class["flex"] == result["confusion"][flex][flex] / 15
    assert _evaluate(demo_project, data) == 0
    text = capsys.readouterr().out
    assert "35 windows from 35 recordings of all splits" in text and f"({result['confusion'][flex][flex]}/15)" in text


@pytest.mark.slow
def test_evaluate_says_which_recordings_are_too_short_and_refuses_other_rates_or_axes(
        demo_project, gestures, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    assert _import(gestures / CHIA / "flex.csv", gestures / RANJITH / "punch.csv", "-o", mixed) == 0
    capsys.readouterr()
    assert _evaluate(demo_project, mixed) == 0
    assert "left out: 17 recording(s) shorter than window.size=119 samples (the shortest 30" in capsys.readouterr().out
    assert _import(gestures / RANJITH, "-o", tmp_path / "short") == 0
    assert _evaluate(demo_project, tmp_path / "short") == 2
    assert "at least window.size=119 samples in the dataset" in one_error_line(capsys.readouterr().err)
    assert _import(gestures / ZERO, "-o", tmp_path / "phone") == 0
    assert _evaluate(demo_project, tmp_path / "phone") == 2
    line = one_error_line(capsys.readouterr().err)
    assert "ax,ay,az,gx,gy,gz" in line and "Received: ax,ay,az in" in line
    (tmp_path / "fast.csv").write_text("t_ms,ax,ay,az,gx,gy,gz\n" +
                                       "".join(f"{10 * k},0,0,1,0,0,0\n" for k in range(150)))
    assert _import(tmp_path / "fast.csv", "--label", "idle", "-o", tmp_path / "fast") == 0
    assert _evaluate(demo_project, tmp_path / "fast") == 2
    line = one_error_line(capsys.readouterr().err)
    assert "119 Hz" in line and "100 Hz" in line


def test_the_docs_error_examples_are_what_the_command_prints(tmp_path, capsys, monkeypatch):
    docs = (REPO / "docs" / "importing.md").read_text()
    monkeypatch.chdir(tmp_path)
    Path("punch.csv").write_bytes(b"aX,aY,aZ,gX,gY,gZ\r\n0.1,0.2,0.3,1,2,3\r\n0.1,0.2,,1,2,3\r\n")
    Path("idle.x.json").write_text(_ei(sensors=[{"name": "accX", "units": "m/s2"}, {"name": "accY", "units": "m/s2"},
                                                {"name": "accZ", "units": "furlong/s2"}]))
    for name in ("punch.csv", "idle.x.json"):
        assert main(["collect", "--import", name]) == 2
        line = one_error_line(capsys.readouterr().err)
        assert f"$ tinyml collect --import {name}\n{line}\n" in docs
    assert not Path("data").exists()
