"""Slicing IMU recordings into fixed-size model inputs (a project's inputs of either task come from
train/inputs.py; keyword spotting's clips from train/audio.py, in the same `Windows`).

IMU windows are shaped [window, 1, channels] so the model can use Conv2D with
(k, 1) kernels: tensorflow-model-optimization's quantization-aware training
does not support Conv1D. Inputs are normalized by a fixed full scale per unit
(not by dataset statistics), so the same division is all it takes to feed the
model new data; the device receives inputs the host has already scaled and quantized.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyml.collect.dataset import ALL, Dataset
from tinyml.errors import expected

# Physical units -> the value that maps to 1.0 at the model input.
FULL_SCALE = {"g": 4.0, "dps": 500.0}


@dataclass(frozen=True)
class Windows:
    x: np.ndarray  # float32: IMU [n, size, 1, channels]; keyword clips [n, frames, mel_bands, 1]
    y: np.ndarray  # int64 [n]
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.y)


def scales_for(units: tuple[str, ...]) -> np.ndarray:
    unknown = sorted({u for u in units if u not in FULL_SCALE})
    if unknown:
        raise expected(f"IMU units from {{{', '.join(FULL_SCALE)}}}", ", ".join(unknown))
    return np.array([FULL_SCALE[u] for u in units], dtype=np.float32)


def check_labels(dataset: Dataset, labels: list[str]) -> None:
    extra = sorted(set(dataset.labels) - set(labels))
    if extra:
        raise expected(f"dataset labels among project.labels [{', '.join(labels)}]",
                       f"also {', '.join(extra)} in {dataset.root}",
                       "Set project.labels in tinyml.toml to the dataset's labels.")


def make_windows(dataset: Dataset, split: str, labels: list[str], size: int, hop: int) -> Windows:
    """Every window of `size` samples, `hop` apart, from the recordings of one split."""
    if dataset.sensor != "imu":
        raise expected("an IMU dataset for gesture training", f"sensor '{dataset.sensor}' in {dataset.root}",
                       "Set project.task = \"kws\" to train on audio.")
    check_labels(dataset, labels)
    scale = scales_for(dataset.recordings[0].units)
    xs, ys = [], []
    for rec in dataset.split(split):
        signal = dataset.read(rec) / scale
        for start in range(0, signal.shape[0] - size + 1, hop):
            xs.append(signal[start:start + size])
            ys.append(labels.index(rec.label))
    channels = len(dataset.axes)
    if not xs:
        shortest = min((r.samples for r in dataset.split(split)), default=0)
        count = len(dataset.split(split))
        todo = (f"Collect some recordings into it (tinyml collect --split {split})." if count == 0
                else "Record longer or lower window.size.")
        where = "in the dataset" if split == ALL else f"in the '{split}' split"
        raise expected(f"recordings of at least window.size={size} samples {where}",
                       f"{count} recording(s), the shortest {shortest} samples", todo)
    x = np.stack(xs).astype(np.float32).reshape(-1, size, 1, channels)
    return Windows(x, np.asarray(ys, dtype=np.int64), tuple(labels))
