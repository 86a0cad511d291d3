"""`tinyml export --format edge-impulse`: a dataset as Edge Impulse acquisition JSON, and back through --import."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tinyml.cli import main
from tinyml.collect.dataset import DatasetWriter, load
from tinyml.collect.importers import STANDARD_GRAVITY

from conftest import one_error_line

CHIA = "ChiaHong95+Gesture-Recognition-Arduino"
ZERO = "TheZeroHz+MotionSense-ESP"


@pytest.fixture(scope="module")
def gestures(reference):
    return reference / "imu_gestures"


def _run(*args) -> int:
    return main(["--quiet", *map(str, args)])


def _signals(ds):
    return [(r.label, r.split, r.sample_rate, r.axes, ds.read(r)) for r in sorted(ds.recordings, key=lambda r: r.file)]


def _assert_same(a, b):
    assert [s[:4] for s in a] == [s[:4] for s in b]
    for x, y in zip(a, b):
        np.testing.assert_allclose(x[4], y[4], atol=1.1e-5)  # the dataset's 5 decimals, twice


def test_a_six_axis_dataset_exports_as_acquisition_json_and_imports_back(gestures, tmp_path):
    data, out = tmp_path / "data", tmp_path / "ei"
    assert _run("collect", "--import", gestures / CHIA, "-o", data) == 0
    assert _run("export", "--format", "edge-impulse", data, "-o", out) == 0
    files = sorted(out.rglob("*.json"))
    assert [p.relative_to(out).as_posix() for p in files[:2]] == ["training/flex.flex-0000.json",
                                                                  "training/flex.flex-0001.json"]
    assert len(files) == 35 and not (out / "testing").exists()
    doc = json.loads(files[0].read_text())
    assert doc["protected"]["ver"] == "v1" and doc["protected"]["alg"] == "none"
    assert isinstance(doc["protected"]["iat"], int) and doc["signature"] == "0" * 64
    payload = doc["payload"]
    assert payload["device_type"] == "ARDUINO_NANO33BLE"
    assert payload["interval_ms"] == pytest.approx(1000 / 119, abs=1e-5)
    assert payload["sensors"] == [{"name": n, "units": u} for n, u in
                                  [("accX", "m/s2"), ("accY", "m/s2"), ("accZ", "m/s2"),
                                   ("gyrX", "dps"), ("gyrY", "dps"), ("gyrZ", "dps")]]
    first_row = [-0.388, 0.297, 2.508, 24.353, 59.631, 60.974]  # flex.csv, line 2
    assert len(payload["values"]) == 119
    np.testing.assert_allclose(payload["values"][0], np.multiply(first_row, [STANDARD_GRAVITY] * 3 + [1] * 3),
                               atol=1e-6)
    assert _run("collect", "--import", out, "-o", tmp_path / "back") == 0
    _assert_same(_signals(load(data)), _signals(load(tmp_path / "back")))


def test_the_edge_impulse_round_trip_keeps_splits_interval_and_values(gestures, tmp_path):
    data, out = tmp_path / "data", tmp_path / "data-edge-impulse"
    assert _run("collect", "--import", gestures / ZERO, "-o", data) == 0
    assert _run("export", data) == 0  # default format and folder: DIR-edge-impulse
    assert Counter(p.parent.name for p in out.rglob("*.json")) == {"training": 60, "testing": 60}
    doc = json.loads(next((out / "testing").glob("idle.*.json")).read_text())
    assert doc["payload"]["interval_ms"] == 16.0  # the files' 16 ms, not 1000/63
    assert [s["name"] for s in doc["payload"]["sensors"]] == ["accX", "accY", "accZ"]
    assert _run("collect", "--import", out, "-o", tmp_path / "back") == 0
    back = load(tmp_path / "back")
    assert back.sample_rate == 63 and Counter(r.split for r in back.recordings) == {"train": 60, "test": 60}
    _assert_same(_signals(load(data)), _signals(back))
    # and against the original Edge Impulse files, in m/s2 (to the dataset's 5 decimals of g)
    for rec in load(data).recordings:
        original = json.loads((gestures / rec.source["file"]).read_text())["payload"]
        folder = {"train": "training", "test": "testing"}[rec.split]
        exported = json.loads((out / folder / f"{rec.label}.{Path(rec.file).stem}.json").read_text())["payload"]
        np.testing.assert_allclose(exported["values"], original["values"], atol=6e-5)


def test_export_replaces_its_own_output_but_no_other_folder(gestures, tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "ei"
    assert _run("collect", "--import", gestures / CHIA / "flex.csv", "-o", data) == 0
    assert _run("export", data, "-o", out) == 0
    (out / "training" / "flex.flex-0000.json").write_text("{}")
    assert _run("export", data, "-o", out) == 0  # a previous export: replaced
    assert json.loads((out / "training" / "flex.flex-0000.json").read_text())["payload"]
    other = tmp_path / "project"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert _run("export", data, "-o", other) == 2
    assert "holds other files" in one_error_line(capsys.readouterr().err)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


def test_an_audio_dataset_is_refused_in_one_line(tmp_path, capsys):
    DatasetWriter(tmp_path / "data").add(name="a", label="yes", split="train", sensor="mic", sample_rate=16000,
                                         signal=np.zeros(1600, dtype=np.float32))
    assert _run("export", tmp_path / "data") == 2
    assert "an IMU dataset" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "data-edge-impulse").exists()


def test_an_edge_impulse_export_tinyml_did_not_write_is_never_replaced(gestures, tmp_path, capsys):
    """A folder laid out like an export (training/, testing/ of .json) may be the user's own download."""
    data, theirs = tmp_path / "data", tmp_path / "downloaded"
    assert _run("collect", "--import", gestures / CHIA / "flex.csv", "-o", data) == 0
    (theirs / "training").mkdir(parents=True)
    (theirs / "training" / "idle.4tgfh2ca.json").write_text('{"payload": {}}')
    capsys.readouterr()
    assert _run("export", data, "-o", theirs) == 2
    assert "holds other files" in one_error_line(capsys.readouterr().err)
    assert [p.name for p in (theirs / "training").iterdir()] == ["idle.4tgfh2ca.json"]
