"""The trials of one project's search: kept under build/tune/<key>/trial.json, summarized in
build/tune.json (rewritten after every trial, so a stopped search keeps what finished) and plotted
in build/tune.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinyml.artifacts import atomic_path, write_json
from tinyml.config import Config
from tinyml.errors import TinymlError
from tinyml.tune import space as tune_space
from tinyml.tune.space import Budget, Param
from tinyml.tune.trial import FINISHED, RECORD, read_record

TUNE_JSON = "tune.json"
TUNE_PLOT = "tune.png"


class Study:
    def __init__(self, build: Path, cfg: Config, params: tuple[Param, ...], dataset_sha256: str, budget: Budget):
        self.build = Path(build)
        self.dir = self.build / "tune"
        self.cfg = cfg
        self.params = params
        self.dataset_sha256 = dataset_sha256
        self.budget = budget
        self.engine: dict[str, Any] = {}
        self.floor: dict | None = None
        self.records: dict[str, dict] = {}
        self.baseline_key = self.key(tune_space.baseline(cfg, params))
        self.ran = 0  # trials this run finished
        self.interrupted = False  # Ctrl-C ended this run before its trials

    @property
    def json_path(self) -> Path:
        return self.build / TUNE_JSON

    @property
    def plot_path(self) -> Path:
        return self.build / TUNE_PLOT

    def key(self, parameters: dict, prefix: str = "") -> str:
        values = tune_space.trial_config(self.cfg.root, self.cfg.values, parameters).values
        return prefix + tune_space.trial_key(values, self.dataset_sha256)

    def load(self) -> None:
        """The trials and the floor an earlier run of this search left (same project settings, same
        data); folders of other settings are left alone."""
        floor_key = self.key(tune_space.floor(self.cfg, self.params), tune_space.FLOOR_PREFIX)
        for path in sorted(self.dir.glob(f"*/{RECORD}")):
            record = read_record(path.parent)
            if not record or not isinstance(record.get("parameters"), dict):
                continue
            if record.get("key") == floor_key:
                self.floor = record
                continue
            try:
                current = record.get("key") == self.key(record["parameters"])
            except (TinymlError, KeyError):  # parameters of another version of the space
                current = False
            if current:
                self.records[record["key"]] = record

    def finished(self) -> list[dict]:
        return [r for r in self.records.values() if r.get("status") in FINISHED]

    def add(self, record: dict) -> None:
        record = {k: v for k, v in record.items() if k != "reused"}
        write_json(self.dir / record["key"] / RECORD, record)
        self.records[record["key"]] = record
        self.write()

    def set_floor(self, record: dict) -> None:
        write_json(self.dir / record["key"] / RECORD, record)
        self.floor = record

    def document(self) -> dict:
        trials = tune_space.judged(sorted(self.records.values(), key=lambda r: r.get("finished_at", 0)), self.budget)
        for t in trials:
            t["baseline"] = t["key"] == self.baseline_key
        floor = None
        if self.floor:
            over = self.budget.over(self.floor)
            floor = {**self.floor, "within_budget": not over, "over_budget": over}
        return {
            "engine": self.engine,
            "project": str(self.cfg.root),
            "task": self.cfg["project.task"],
            "seed": self.cfg["project.seed"],
            "epochs": self.cfg["model.epochs"],
            "dataset_manifest_sha256": self.dataset_sha256,
            "budget": self.budget.to_json(),
            "space": {p.key: list(p.choices) for p in self.params},
            "baseline": self.baseline_key,
            "floor": floor,
            "trials": trials,
            "pareto": tune_space.pareto(trials),
            "best": tune_space.best(trials),
        }

    def write(self) -> None:
        write_json(self.json_path, self.document())

    def plot(self) -> None:
        plot(self.plot_path, self.document())


def plot(path: Path, doc: dict) -> None:
    """Accuracy against instructions per inference of every priced trial, the Pareto front, the best."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    priced = [t for t in doc["trials"] if t["status"] == "priced"]
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    for fits, style in ((True, dict(marker="o", color="tab:blue", label="within budget")),
                        (False, dict(marker="x", color="tab:red", label="over budget"))):
        pts = [t for t in priced if t["within_budget"] is fits]
        if pts:
            ax.scatter([t["instructions_per_inference"] for t in pts], [t["accuracy"] for t in pts], **style)
    front = doc["pareto"]
    if front:
        ax.step([t["instructions_per_inference"] for t in front], [t["accuracy"] for t in front], where="post",
                color="tab:gray", alpha=0.7, label="Pareto front")
    for t in priced:
        if t["baseline"]:
            ax.annotate("project's model", (t["instructions_per_inference"], t["accuracy"]),
                        textcoords="offset points", xytext=(6, -12), fontsize=8)
    if doc["best"]:
        b = doc["best"]
        ax.scatter([b["instructions_per_inference"]], [b["accuracy"]], s=180, facecolors="none",
                   edgecolors="tab:green", linewidths=2, label="best within budget")
    if doc["budget"]["ms_at_64mhz"] is not None:
        ax.axvline(doc["budget"]["ms_at_64mhz"] * 64_000, color="tab:red", linestyle="--", alpha=0.5,
                   label=f"latency budget ({doc['budget']['ms_at_64mhz']:g} ms at 64 MHz)")
    ax.set_xscale("log")
    ax.set_xlabel("instructions per inference (QEMU Cortex-M4, exact)")
    ax.set_ylabel("int8 accuracy, validation split (TFLM)")
    ax.set_title(f"tinyml tune: {len(priced)} priced trials of {len(doc['trials'])}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
