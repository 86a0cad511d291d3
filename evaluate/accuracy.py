"""Accuracy of an int8 model on a dataset split, as the TFLM interpreter runs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyml.collect.dataset import load
from tinyml.config import Config
from tinyml.quantize import flatbuffer
from tinyml.quantize.tflm import Runner, confusion_matrix
from tinyml.train.windows import project_windows
from tinyml.errors import expected


def evaluate_tflite(cfg: Config, model_path: Path, data_dir: Path, split: str = "test") -> dict:
    info = flatbuffer.read(model_path)
    labels = list(cfg["project.labels"])
    windows = project_windows(cfg, load(data_dir), split)
    runner = Runner(info.raw)
    want = tuple(int(d) for d in runner.input["shape"][1:])
    if want != windows.x.shape[1:] or int(np.prod(runner.output["shape"])) != len(labels):
        raise expected(f"a model taking {list(windows.x.shape[1:])} and scoring {len(labels)} classes",
                       f"input {list(want)}, {int(np.prod(runner.output['shape']))} outputs in '{model_path}'",
                       "Evaluate with the project the model was trained for.")
    pred = np.argmax(runner.run_float(windows.x), axis=1)
    matrix = confusion_matrix(windows.y, pred, len(labels))
    per_class = {label: (matrix[i][i] / max(1, sum(matrix[i]))) for i, label in enumerate(labels)}
    return {"model": str(model_path), "split": split, "windows": len(windows),
            "accuracy": float(np.mean(pred == windows.y)), "labels": labels,
            "per_class_accuracy": per_class, "confusion": matrix}


def render(result: dict) -> str:
    labels = result["labels"]
    width = max(6, *(len(label) for label in labels))
    lines = [f"{result['model']}: {result['accuracy']:.3f} accuracy on {result['windows']} "
             f"{result['split']} windows (int8, TFLM interpreter)",
             "confusion (rows: true, columns: predicted)",
             " " * (width + 1) + " ".join(f"{label[:width]:>{width}}" for label in labels)]
    for label, row in zip(labels, result["confusion"]):
        lines.append(f"{label:>{width}} " + " ".join(f"{n:>{width}}" for n in row))
    return "\n".join(lines)
