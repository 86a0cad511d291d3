"""A project's model inputs for one split, as its configuration defines them: IMU windows
(train/windows.py) or, for project.task = "kws", one log-mel clip per recording (train/audio.py);
and what a model records of them in its sidecar (model_meta), checked against a project before the
model is evaluated there (check_model_meta)."""

from __future__ import annotations

from pathlib import Path

from tinyml.artifacts import read_provenance
from tinyml.collect.dataset import Dataset
from tinyml.errors import expected
from tinyml.paths import sidecar
from tinyml.train.audio import project_clips
from tinyml.train.frontend import audio_meta
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


def model_meta(cfg, dataset: Dataset, frontend=None) -> dict:
    """What a model carries in its sidecar, for every task (written by train and quantize): the task,
    its labels in output order, and its input: the front end of a keyword-spotting model
    (train/frontend.read_audio_meta reads it), the window and axes of a gesture model."""
    labels = list(cfg["project.labels"])
    if cfg["project.task"] == "kws":
        return audio_meta(labels, frontend)
    return {"task": cfg["project.task"], "labels": labels, "axes": list(dataset.axes),
            "window": {"size": cfg["window.size"], "hop": cfg["window.hop"], "sample_rate": dataset.sample_rate}}


def check_model_meta(cfg, model_path: Path) -> None:
    """Refuse, in one line, a model whose sidecar says it was made for another task, other labels (or
    another order of them) or another window than the project's: its outputs would be read as the
    wrong classes. A model without a sidecar, or from before sidecars said so, is taken as it is."""
    doc = read_provenance(model_path)
    if doc is None or "task" not in doc:
        return
    where = f"'{sidecar(Path(model_path))}'"
    todo = "Evaluate it with the project that trained it, or set the project's options to the model's."
    if doc["task"] != cfg["project.task"]:
        raise expected(f"a model for project.task = \"{cfg['project.task']}\"",
                       f"a {doc['task']!r:.40} model ({where})", todo)
    labels = list(cfg["project.labels"])
    if doc.get("labels") != labels:
        raise expected(f"a model trained for project.labels [{', '.join(labels)}], in that order",
                       f"{doc.get('labels')!r:.200} in {where}", todo)
    window = doc.get("window")
    if isinstance(window, dict) and window.get("size") != cfg["window.size"]:
        raise expected(f"a model trained on windows of window.size = {cfg['window.size']} samples",
                       f"{window.get('size')!r:.40} in {where}", todo)
