"""Keyword-spotting examples: each recording of an audio dataset -> one clip -> its log-mel features.

A recording is fitted to exactly one clip (frontend.clip_ms: zero-padded or centre-cropped),
so every example is one model input of [frames, mel_bands, 1].
"""

from __future__ import annotations

import numpy as np

from tinyml.collect.dataset import Dataset
from tinyml.errors import expected
from tinyml.log import SILENT, Reporter
from tinyml.train.frontend import FrontendParams, clip_features
from tinyml.train.windows import Windows, check_labels


def clip_pcm(dataset: Dataset, rec) -> np.ndarray:
    """A mic recording as int16 (the dataset reads audio as float32 sample / 32768)."""
    return np.round(dataset.read(rec)[:, 0] * 32768.0).astype(np.int16)


def features(pcm: np.ndarray, params: FrontendParams) -> np.ndarray:
    """One clip's model input as float32 [frames, mel_bands, 1]."""
    if params.kind != "logmel":
        raise expected("frontend.kind = \"logmel\" for training", repr(params.kind),
                       "The tflm front end is for TFLM's pretrained micro_speech model (tinyml evaluate --frontend tflm).")
    return clip_features(pcm, params)[..., None]


def project_clips(cfg, dataset: Dataset, split: str, reporter: Reporter = SILENT,
                  params: FrontendParams | None = None) -> Windows:
    """One split's clips through `params` (default: the project's front end)."""
    labels = list(cfg["project.labels"])
    params = params or FrontendParams.from_config(cfg)
    if dataset.sensor != "mic":
        raise expected("an audio (mic) dataset for project.task = \"kws\"", f"sensor '{dataset.sensor}' in {dataset.root}")
    if dataset.sample_rate != params.sample_rate:
        raise expected(f"recordings at project.sample_rate = {params.sample_rate} Hz",
                       f"{dataset.sample_rate} Hz in {dataset.root}",
                       "Set project.sample_rate in tinyml.toml to the dataset's rate.")
    check_labels(dataset, labels)
    recs = dataset.split(split)
    if not recs:
        raise expected(f"recordings in the '{split}' split of {dataset.root}", "none",
                       f"Collect some (tinyml collect --split {split}).")
    xs = np.empty((len(recs),) + params.input_shape, dtype=np.float32)
    for i, rec in enumerate(recs):
        xs[i] = features(clip_pcm(dataset, rec), params)
        reporter.progress(f"features ({split})", i + 1, len(recs))
    ys = np.array([labels.index(r.label) for r in recs], dtype=np.int64)
    return Windows(xs, ys, tuple(labels))
