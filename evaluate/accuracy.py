"""Accuracy of an int8 model on a dataset split (or on all of it), as the TFLM interpreter runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinyml.collect.dataset import ALL, Dataset, load
from tinyml.config import Config
from tinyml.errors import expected
from tinyml.quantize import flatbuffer
from tinyml.quantize.tflm import Runner, confusion_matrix
from tinyml.train.frontend import model_frontend
from tinyml.train.inputs import check_model_meta, project_windows


def evaluate_tflite(cfg: Config, model_path: Path, data_dir: Path, split: str = "test") -> dict:
    info = flatbuffer.read(model_path)
    check_model_meta(cfg, model_path)
    labels = list(cfg["project.labels"])
    dataset = load(data_dir)
    runner = Runner(info.raw)
    want = tuple(int(d) for d in runner.input["shape"][1:])
    short: list = []
    if cfg["project.task"] != "kws":
        _check_axes(dataset, model_path, want[-1])
        short = [r for r in dataset.split(split) if r.samples < cfg["window.size"]]
    windows = project_windows(cfg, dataset, split, model_frontend(model_path, cfg))
    if want != windows.x.shape[1:] or int(np.prod(runner.output["shape"])) != len(labels):
        raise expected(f"a model taking {list(windows.x.shape[1:])} and scoring {len(labels)} classes",
                       f"input {list(want)}, {int(np.prod(runner.output['shape']))} outputs in '{model_path}'",
                       "Evaluate with the project the model was trained for.")
    pred = np.argmax(runner.run_float(windows.x), axis=1)
    matrix = confusion_matrix(windows.y, pred, len(labels))
    per_class = per_class_accuracy(matrix, labels)
    result = {"model": str(model_path), "data": str(data_dir), "split": split,
              "recordings": len(dataset.split(split)), "windows": len(windows),
              "accuracy": float(np.mean(pred == windows.y)), "labels": labels,
              "per_class_accuracy": per_class, "confusion": matrix}
    if short:
        result["too_short"] = {"window_size": cfg["window.size"], "recordings": len(short),
                               "shortest": min(r.samples for r in short), "example": short[0].file}
    return result


def per_class_accuracy(matrix: list[list[int]], labels: list[str]) -> dict[str, float | None]:
    """Each label's share of its examples answered with it; None for a label with none (nothing measured)."""
    return {label: (matrix[i][i] / sum(matrix[i]) if sum(matrix[i]) else None) for i, label in enumerate(labels)}


def confusion_rows(labels: list[str], matrix: list[list[int]], per_class: dict, width: int, empty: str) -> list[str]:
    """The confusion matrix as text, a column per label and each row's accuracy after it (`empty` for none)."""
    lines = [" " * (width + 1) + " ".join(f"{label[:width]:>{width}}" for label in labels) + "  accuracy"]
    for i, (label, row) in enumerate(zip(labels, matrix)):
        acc = per_class[label]
        shown = f"{acc:.3f} ({row[i]}/{sum(row)})" if acc is not None else empty
        lines.append(f"{label:>{width}} " + " ".join(f"{n:>{width}}" for n in row) + f"  {shown}")
    return lines


def _check_axes(dataset: Dataset, model_path: Path, channels: int) -> None:
    """The dataset's axes must be the model's: the ones recorded beside it (history.json), or as many."""
    trained = None
    try:
        trained = json.loads(model_path.with_name("history.json").read_text()).get("axes")
    except (OSError, ValueError, AttributeError):
        pass
    if isinstance(trained, list) and len(trained) == channels:
        if tuple(trained) == dataset.axes:
            return
        wanted = f"the axes the model was trained on ({','.join(map(str, trained))})"
    elif len(dataset.axes) == channels:
        return
    else:
        wanted = f"{channels} axes, as the model's input has"
    raise expected(f"recordings with {wanted}", f"{','.join(dataset.axes)} in {dataset.root}",
                   "Evaluate on a dataset recorded with the same sensors, or train a model for these axes.")


def render(result: dict) -> str:
    labels = result["labels"]
    width = max(6, *(len(label) for label in labels))
    split = "all splits" if result["split"] == ALL else f"the {result['split']} split"
    lines = [f"{result['model']}: {result['accuracy']:.3f} accuracy on {result['windows']} windows from "
             f"{result['recordings']} recordings of {split} (int8, TFLM interpreter)",
             "confusion (rows: true, columns: predicted) and per-class accuracy",
             *confusion_rows(labels, result["confusion"], result["per_class_accuracy"], width, "- (no windows)")]
    short = result.get("too_short")
    if short:
        lines.append(f"left out: {short['recordings']} recording(s) shorter than window.size={short['window_size']} "
                     f"samples (the shortest {short['shortest']}, e.g. '{short['example']}')")
    return "\n".join(lines)
