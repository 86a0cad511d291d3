"""The demo's report: report.json plus two figures a person can read at a glance."""

from __future__ import annotations

from pathlib import Path

from tinyml.artifacts import atomic_path, write_json


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(path: Path, labels: list[str], matrix: list[list[int]], title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.1 * len(labels) + 2.2, 1.0 * len(labels) + 1.8), dpi=110)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, n in enumerate(row):
            ax.text(j, i, str(n), ha="center", va="center", color="white" if n > peak / 2 else "black")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_training(path: Path, curves: dict[str, list[float]]) -> None:
    plt = _pyplot()
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=110)
    epochs = range(1, len(curves["loss"]) + 1)
    for key, ax in (("loss", loss_ax), ("accuracy", acc_ax)):
        ax.plot(epochs, curves[key], label="train")
        if f"val_{key}" in curves:
            ax.plot(epochs, curves[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def write_report(build_dir: Path, report: dict, curves: dict[str, list[float]]) -> Path:
    """Write report.json, confusion.png and training.png into `build_dir`."""
    conf = report["accuracy"]
    plot_confusion(build_dir / "confusion.png", report["confusion_int8"]["labels"],
                   report["confusion_int8"]["matrix"],
                   f"int8 model in TFLM, test split (accuracy {conf['int8']:.3f})")
    plot_training(build_dir / "training.png", curves)
    report["figures"] = {"confusion": "confusion.png", "training": "training.png"}
    path = build_dir / "report.json"
    write_json(path, report)
    return path
