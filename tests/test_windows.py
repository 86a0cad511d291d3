import numpy as np
import pytest

from tinyml.collect.dataset import DatasetWriter, load
from tinyml.errors import BadInput
from tinyml.train.windows import FULL_SCALE, make_windows


def _dataset(tmp_path, samples=40):
    w = DatasetWriter(tmp_path)
    ramp = np.tile(np.arange(samples, dtype=np.float32)[:, None], (1, 6)) / 100
    w.add(name="r0", label="b", split="train", sensor="imu", sample_rate=119, signal=ramp)
    w.add(name="r1", label="a", split="train", sensor="imu", sample_rate=119, signal=ramp)
    return load(tmp_path)


def test_windows_are_strided_normalized_and_labelled_in_config_order(tmp_path):
    w = make_windows(_dataset(tmp_path), "train", ["a", "b"], size=10, hop=5)
    assert w.x.shape == (2 * 7, 10, 1, 6)  # starts 0, 5, ..., 30
    assert list(w.y) == [1] * 7 + [0] * 7
    np.testing.assert_allclose(w.x[1, 0, 0, 0], 0.05 / FULL_SCALE["g"], rtol=1e-5)
    np.testing.assert_allclose(w.x[1, 0, 0, 3], 0.05 / FULL_SCALE["dps"], rtol=1e-5)


def test_labels_outside_the_project_are_refused(tmp_path):
    with pytest.raises(BadInput, match="project.labels"):
        make_windows(_dataset(tmp_path), "train", ["a"], size=10, hop=5)


def test_recordings_shorter_than_a_window_are_refused(tmp_path):
    with pytest.raises(BadInput, match="shortest 40 samples"):
        make_windows(_dataset(tmp_path), "train", ["a", "b"], size=41, hop=5)


def test_dataset_rate_must_match_the_project(tmp_path):
    from tinyml import config
    from tinyml.train.inputs import project_windows

    cfg = config.load(tmp_path / "project", environ={}).replace(project__labels=["a", "b"],
                                                               project__sample_rate=100)
    with pytest.raises(BadInput, match="project.sample_rate = 100 Hz"):
        project_windows(cfg, _dataset(tmp_path / "data"), "train")
