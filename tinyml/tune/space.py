"""What `tinyml tune` searches, how a trial is keyed and priced against the budget, and which trial wins.

Plain data only (no Ray, no TensorFlow): the driver and the Ray workers both use it, and its tests
run without either.

Every searched parameter is an option of tinyml/config.py, and every value is validated through the
option table before the search starts. The project's own value of each parameter is always in the
space, so the project's current model is one of the trials (the baseline).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from tinyml import config
from tinyml.config import Config
from tinyml.errors import expected


@dataclass(frozen=True)
class Param:
    key: str  # an option of tinyml/config.py
    choices: tuple
    cheapest: Any = None  # the value of the cheapest model in the space; None: training only (the project's)


GESTURE_SPACE = (
    Param("window.size", (48, 64, 80, 96, 119), 48),
    Param("model.conv_layers", (1, 2, 3, 4), 1),
    Param("model.filters", (4, 8, 16, 24), 4),
    Param("model.filters_step", (0, 8), 0),
    Param("model.kernel", (3, 5, 7), 3),
    Param("model.last_kernel", (3, 5), 3),
    Param("model.dense_units", (0, 16, 32), 0),
    Param("model.learning_rate", (0.001, 0.003, 0.01)),
    Param("model.batch_size", (16, 32)),
)
# DS-CNN width and depth come as its two sizes (dscnn: 64 channels, 4 blocks; dscnn_small: 32, 3).
KWS_SPACE = (
    Param("frontend.mel_bands", (20, 32, 40), 20),
    Param("model.architecture", ("dscnn_small", "dscnn"), "dscnn_small"),
    Param("model.learning_rate", (0.001, 0.002, 0.005)),
)

# What Optuna maximizes: the int8 accuracy of a trial within budget (0..1); over budget it is 1 lower,
# and a trial not priced (every epoch's report, and a trial stopped early) is 2 lower than its float
# validation accuracy. Any trial within budget outranks every other.
OVER_BUDGET_PENALTY = 1.0
UNPRICED_PENALTY = 2.0


def space(cfg: Config, shortest_recording: int | None = None) -> tuple[Param, ...]:
    """The project's search space: its task's table, each value validated through the option table,
    the project's own value added, windows longer than the shortest recording dropped."""
    table = KWS_SPACE if cfg["project.task"] == "kws" else GESTURE_SPACE
    out = []
    for param in table:
        choices = set(param.choices) | {cfg[param.key]}
        if param.key == "window.size" and shortest_recording is not None:
            choices = {c for c in choices if c <= shortest_recording}
            if not choices:
                raise expected(f"recordings of at least {min(param.choices)} samples to search window.size",
                               f"the shortest has {shortest_recording}", "Record longer gestures.")
        ordered = tuple(sorted(choices))
        for value in ordered:  # each value through the option table: a bad one is refused before any trial
            with_value(cfg, {param.key: value})
        out.append(Param(param.key, ordered, param.cheapest))
    return tuple(out)


def with_value(cfg: Config, params: Mapping[str, Any]) -> Config:
    """`cfg` with the trial's parameters, validated by the option table."""
    return cfg.replace(**{key.replace(".", "__"): value for key, value in params.items()})


def baseline(cfg: Config, params: Iterable[Param]) -> dict[str, Any]:
    """The project's current settings of the searched parameters."""
    return {p.key: cfg[p.key] for p in params}


def floor(cfg: Config, params: Iterable[Param]) -> dict[str, Any]:
    """The cheapest corner of the space (shortest window, fewest and narrowest layers, smallest
    kernels): if it is over budget, no model in the space can be within it."""
    return {p.key: cfg[p.key] if p.cheapest is None else p.cheapest for p in params}


FLOOR_PREFIX = "floor-"  # the folder of the cheapest model, priced untrained before the search


def trial_config(project, values: Mapping[str, Any], params: Mapping[str, Any]) -> Config:
    """A trial's configuration: the project's resolved options with the trial's parameters, validated.
    The driver (which trials are finished) and the worker (where a trial writes) both key trials by it."""
    return config.load(project, flags={**values, **params}, read_file=False, environ={})


def trial_key(values: Mapping[str, Any], dataset_sha256: str) -> str:
    """A trial's folder name under build/tune/: a hash of every resolved option it trains with and of
    the dataset, so a resumed run finds it and a changed project or dataset does not."""
    doc = json.dumps({"config": dict(values), "dataset": dataset_sha256}, sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Budget:
    ms_at_64mhz: float | None  # None: no latency limit
    ram_bytes: int
    flash_bytes: int

    def over(self, record: Mapping[str, Any]) -> list[str]:
        """What a priced trial exceeds, as short phrases (empty: within budget)."""
        over = []
        if self.ms_at_64mhz is not None and record["ms_at_64mhz"] > self.ms_at_64mhz:
            over.append(f"latency {record['ms_at_64mhz']:g} ms > {self.ms_at_64mhz:g} ms")
        if record["ram_bytes"] > self.ram_bytes:
            over.append(f"RAM {record['ram_bytes']:,} B > {self.ram_bytes:,} B")
        if record["flash_bytes"] > self.flash_bytes:
            over.append(f"flash {record['flash_bytes']:,} B > {self.flash_bytes:,} B")
        return over

    def to_json(self) -> dict:
        return {"ms_at_64mhz": self.ms_at_64mhz, "ram_bytes": self.ram_bytes, "flash_bytes": self.flash_bytes}


def score(record: Mapping[str, Any], budget: Budget) -> float:
    if record.get("status") != "priced":
        return float(record.get("float_val_accuracy") or 0.0) - UNPRICED_PENALTY
    return record["accuracy"] - (OVER_BUDGET_PENALTY if budget.over(record) else 0.0)


def judged(records: Iterable[Mapping[str, Any]], budget: Budget) -> list[dict]:
    """Each record with `within_budget` (None when not priced) and `over_budget` filled in for `budget`."""
    out = []
    for r in records:
        r = dict(r)
        if r.get("status") == "priced":
            over = budget.over(r)
            r.update(within_budget=not over, over_budget=over)
        else:
            r.update(within_budget=None, over_budget=[])
        out.append(r)
    return out


def pareto(records: Iterable[Mapping[str, Any]]) -> list[dict]:
    """The priced trials no other beats on both accuracy (higher) and instructions per inference
    (lower), cheapest first."""
    priced = [r for r in records if r.get("status") == "priced"]

    def dominated(r):
        return any(o["accuracy"] >= r["accuracy"] and o["instructions_per_inference"] <= r["instructions_per_inference"]
                   and (o["accuracy"] > r["accuracy"] or o["instructions_per_inference"] < r["instructions_per_inference"])
                   for o in priced)

    front = sorted((r for r in priced if not dominated(r)),
                   key=lambda r: (r["instructions_per_inference"], -r["accuracy"], r["key"]))
    out, seen = [], set()
    for r in front:  # equal accuracy and instructions: keep one
        point = (r["accuracy"], r["instructions_per_inference"])
        if point not in seen:
            seen.add(point)
            out.append({k: r[k] for k in ("key", "accuracy", "instructions_per_inference", "ms_at_64mhz",
                                           "ram_bytes", "flash_bytes", "within_budget")})
    return out


def best(records: Iterable[Mapping[str, Any]]) -> dict | None:
    """The most accurate judged trial within budget; ties go to fewer instructions, then less RAM and flash."""
    fits = [r for r in records if r.get("within_budget")]
    if not fits:
        return None
    return dict(min(fits, key=lambda r: (-r["accuracy"], r["instructions_per_inference"], r["ram_bytes"],
                                         r["flash_bytes"], r["key"])))
