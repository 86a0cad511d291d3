import numpy as np

from tinyml.collect import synthetic
from tinyml.collect.dataset import load


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        synthetic.write_gestures(tmp_path / name, per_class=3, seed=seed)
    a, b, c = ((tmp_path / n / "manifest.json").read_text() for n in "abc")
    assert a == b
    assert a != c


def test_splits_are_stratified(tmp_path):
    ds = load(synthetic.write_gestures(tmp_path, per_class=20, seed=1))
    for label in synthetic.GESTURE_NAMES:
        splits = [r.split for r in ds.recordings if r.label == label]
        assert (splits.count("train"), splits.count("val"), splits.count("test")) == (14, 3, 3)


def test_idle_reads_one_g_and_little_rotation():
    for i in range(20):
        rec = synthetic.recording(synthetic.GESTURES[0], np.random.default_rng(i))
        norm = np.linalg.norm(rec[:, :3], axis=1)
        assert abs(np.median(norm) - 1.0) < 0.1
        assert np.max(np.abs(rec[:, 3:])) < 120


def _peak(name, axis, seeds=range(20)):
    g = {g.name: g for g in synthetic.GESTURES}[name]
    return np.median([np.max(np.abs(synthetic.recording(g, np.random.default_rng(s))[:, axis])) for s in seeds])


def test_each_gesture_has_its_signature():
    assert _peak("flex", 4) > 150  # curl: rotation about y
    assert _peak("wave", 5) > 100  # side to side: yaw about z
    assert _peak("punch", 0) > 1.5  # thrust along x (gravity adds at most ~0.5 g there)
    assert _peak("idle", 4) < 40


def test_readings_sit_on_the_sensor_grid():
    rec = synthetic.recording(synthetic.GESTURES[1], np.random.default_rng(3)).astype(np.float64)
    accel_lsb = rec[:, :3] / synthetic.ACCEL_LSB_G
    gyro_lsb = rec[:, 3:] / synthetic.GYRO_LSB_DPS
    assert np.max(np.abs(accel_lsb - np.round(accel_lsb))) < 0.02
    assert np.max(np.abs(gyro_lsb - np.round(gyro_lsb))) < 0.02
