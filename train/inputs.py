"""A project's model inputs for one split, as its configuration defines them: IMU windows
(train/windows.py) or, for project.task = "kws", one log-mel clip per recording (train/audio.py)."""

from __future__ import annotations

from tinyml.collect.dataset import Dataset
from tinyml.errors import expected
from tinyml.train.audio import project_clips
from tinyml.train.windows import Windows, make_windows


def project_windows(cfg, dataset: Dataset, split: str, frontend=None) -> Windows:
    """The model inputs of one split, as the project's configuration defines them: IMU windows, or
    for project.task = "kws" one log-mel clip per recording (train/audio.py), through `frontend`
    (default: the project's; a trained model's is frontend.model_frontend)."""
    if cfg["project.task"] == "kws":
        return project_clips(cfg, dataset, split, params=frontend)
    if dataset.sample_rate != cfg["project.sample_rate"]:
        raise expected(f"recordings at project.sample_rate = {cfg['project.sample_rate']} Hz",
                       f"{dataset.sample_rate} Hz in {dataset.root}",
                       "Set project.sample_rate in tinyml.toml to the dataset's rate.")
    return make_windows(dataset, split, list(cfg["project.labels"]), cfg["window.size"], cfg["window.hop"])
