import json

import numpy as np
import pytest

from tinyml.cli import main
from tinyml.collect.dataset import DatasetWriter, load
from tinyml.errors import BadInput

from conftest import one_error_line


def _imu(n=50, seed=0):
    return np.random.default_rng(seed).normal(0, 1, size=(n, 6)).astype(np.float32)


def test_imu_round_trip_keeps_values_to_the_written_precision(tmp_path):
    w = DatasetWriter(tmp_path)
    signal = _imu()
    rec = w.add(name="r0", label="wave", split="train", sensor="imu", sample_rate=119, signal=signal)
    ds = load(tmp_path)
    assert ds.recordings == (rec,)
    np.testing.assert_allclose(ds.read(rec), signal, atol=5e-6)
    header = (tmp_path / rec.file).read_text().splitlines()[0]
    assert header == "timestamp_us,ax,ay,az,gx,gy,gz"


def test_wav_round_trip_is_16_bit_exact(tmp_path):
    pcm = np.random.default_rng(1).integers(-32768, 32767, 1600).astype(np.float32) / 32768.0
    rec = DatasetWriter(tmp_path).add(name="a", label="yes", split="test", sensor="mic", sample_rate=16000,
                                      signal=pcm)
    assert rec.file.endswith(".wav")
    np.testing.assert_array_equal(load(tmp_path).read(rec).reshape(-1), pcm)


def test_writer_appends_to_an_existing_dataset_and_leaves_no_temporaries(tmp_path):
    DatasetWriter(tmp_path).add(name="r0", label="a", split="train", sensor="imu", sample_rate=119, signal=_imu())
    DatasetWriter(tmp_path).add(name="r1", label="a", split="val", sensor="imu", sample_rate=119, signal=_imu())
    assert [r.file for r in load(tmp_path).recordings] == ["a/r0.csv", "a/r1.csv"]
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_changed_file_is_caught_by_its_hash(tmp_path):
    rec = DatasetWriter(tmp_path).add(name="r0", label="a", split="train", sensor="imu", sample_rate=119,
                                      signal=_imu())
    path = tmp_path / rec.file
    path.write_text(path.read_text().replace("\n0,", "\n0,9", 1))
    with pytest.raises(BadInput, match="sha256"):
        load(tmp_path).read(rec)


def test_timestamps_must_agree_with_the_declared_rate(tmp_path):
    w = DatasetWriter(tmp_path)
    rec = w.add(name="r0", label="a", split="train", sensor="imu", sample_rate=119, signal=_imu(),
                timestamps_us=np.arange(50) * 10_000)  # really 100 Hz
    with pytest.raises(BadInput, match="100.0 Hz"):
        load(tmp_path).read(rec)


def _train_cli(tmp_path, data, capsys):
    capsys.readouterr()
    code = main(["train", "-C", str(tmp_path), "--data", str(data)])
    return code, one_error_line(capsys.readouterr().err)


def test_empty_dataset_is_a_one_line_error(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"format": "tinyml-dataset", "version": 1, "recordings": []}))
    code, line = _train_cli(tmp_path, data, capsys)
    assert code == 2 and "empty dataset" in line


def test_missing_dataset_is_a_one_line_error(tmp_path, capsys):
    code, line = _train_cli(tmp_path, tmp_path / "nowhere", capsys)
    assert code == 2 and "manifest.json" in line and "tinyml collect" in line


def test_the_writer_refuses_a_second_sample_rate(tmp_path):
    w = DatasetWriter(tmp_path)
    w.add(name="r0", label="idle", split="train", sensor="imu", sample_rate=119, signal=_imu())
    with pytest.raises(BadInput, match="another dataset folder"):
        w.add(name="r1", label="idle", split="train", sensor="imu", sample_rate=100, signal=_imu())
    assert len(load(tmp_path).recordings) == 1


def test_mixed_sample_rates_are_a_one_line_error(tmp_path, capsys):
    """Two datasets merged by hand into one folder."""
    a, b = DatasetWriter(tmp_path / "data"), DatasetWriter(tmp_path / "other")
    a.add(name="r0", label="idle", split="train", sensor="imu", sample_rate=119, signal=_imu())
    b.add(name="r1", label="idle", split="train", sensor="imu", sample_rate=100, signal=_imu())
    (tmp_path / "other" / "idle" / "r1.csv").rename(tmp_path / "data" / "idle" / "r1.csv")
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    manifest["recordings"] += json.loads((tmp_path / "other" / "manifest.json").read_text())["recordings"]
    (tmp_path / "data" / "manifest.json").write_text(json.dumps(manifest))
    code, line = _train_cli(tmp_path, tmp_path / "data", capsys)
    assert code == 2
    assert "one sample_rate" in line and "119" in line and "100" in line and "Resample" in line
