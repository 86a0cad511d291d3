"""The Ray side of `tinyml tune`: the Ray instance or cluster, Optuna through Ray Tune's OptunaSearch,
ASHA, and the callback that keeps each trial as it finishes. Imported only when `tinyml tune` runs.
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import optuna
import ray
from ray import tune
from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler
from ray.tune.search.optuna import OptunaSearch

from tinyml.errors import TinymlError, expected
from tinyml.tune import space as tune_space
from tinyml.tune.trial import run_trial

CPUS_PER_TRIAL = 1  # and one TensorFlow thread: trials run side by side, one per core
ASHA_REDUCTION = 3


@contextmanager
def ray_session(address: str | None, cpus: int | None) -> Iterator[dict]:
    """A local Ray instance for this search (quiet, no dashboard), or the cluster at `address`."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's classic reporter, which verbose=0 silences
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no CSV/TensorBoard files per trial
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:  # "local": a new instance even when `ray start` left one running on this machine
            ray.init(address="local", num_cpus=cpus or os.cpu_count(), include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError, ray.exceptions.RayError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise expected(f"a Ray cluster at --address {address}" if address else "a local Ray instance to start",
                       first, "Start one with `ray start --head` and pass the address it prints; a cluster with "
                       "token authentication (the default of `ray start`) also needs RAY_AUTH_MODE=token here."
                       if address else "Check /tmp/ray and the free memory.") from None
    logging.getLogger("ray.tune").setLevel(logging.CRITICAL)  # failed trials are reported as they finish
    try:
        yield {"ray": ray.__version__, "address": address or "local",
               "cpus": int(ray.cluster_resources().get("CPU", 0)),
               "nodes": sum(1 for n in ray.nodes() if n.get("Alive"))}
    finally:
        ray.shutdown()


def startup_trials(trials: int) -> int:
    """Trials Optuna's TPE draws at random before it models the results."""
    return min(10, max(3, trials // 3))


def grace_period(epochs: int) -> int:
    """Epochs every trial trains before ASHA may stop it."""
    return min(epochs, max(3, epochs // 8))


def engine(cfg, trials: int) -> dict:
    epochs = cfg["model.epochs"]
    return {"optuna": optuna.__version__,
            "search_algorithm": f"OptunaSearch (TPE, seed {cfg['project.seed']}, {startup_trials(trials)} random "
                                "trials first)",
            "scheduler": f"ASHA on val_accuracy per epoch (grace {grace_period(epochs)} epochs, reduction "
                         f"{ASHA_REDUCTION}, at most {epochs})"}


def remote(fn, *args):
    """Run `fn` as a Ray task on one CPU; a known error comes back as itself, in one line."""
    try:
        return ray.get(ray.remote(num_cpus=CPUS_PER_TRIAL)(fn).remote(*args))
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, TinymlError):
            raise exc.cause from None
        raise


class Asha(AsyncHyperBandScheduler):
    """ASHA, judging validation accuracy at its rungs, that stops a trial only when a finished trial
    already beats it on both counts (no more MACs, a higher accuracy): ASHA alone compares accuracy
    only, and would stop the cheap models a Pareto front is made of. It never stops the project's own
    model, the baseline every other trial is compared with, and it remembers which trials it stopped."""

    def __init__(self, study, baseline: dict, **kwargs):
        super().__init__(**kwargs)
        self.study = study
        self.baseline = baseline
        self.stopped: set[str] = set()

    def on_trial_result(self, controller, trial, result):
        action = super().on_trial_result(controller, trial, result)
        if action == TrialScheduler.STOP:
            if trial.config == self.baseline or not self.beaten(result):
                return TrialScheduler.CONTINUE
            self.stopped.add(trial.trial_id)
        return action

    def beaten(self, result: dict) -> bool:
        macs, accuracy = result.get("macs"), result.get("val_accuracy")
        return macs is not None and any(r["status"] == "priced" and r["macs"] <= macs and r["accuracy"] > accuracy
                                        for r in self.study.records.values())


class Progress(tune.Callback):
    """Keeps each finished trial (its trial.json, then tune.json) and says so, as trials finish."""

    def __init__(self, study, scheduler: Asha, todo: int, line, reporter):
        self.study, self.scheduler, self.todo, self.line, self.reporter = study, scheduler, todo, line, reporter

    def __getstate__(self):
        # Ray Tune pickles its callbacks for Tuner.restore, which tinyml never uses (a resumed search reads
        # build/tune/); the reporter's stream may not pickle.
        return {}

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        if "record" in result:
            record = json.loads(result["record"])
        elif trial.trial_id in self.scheduler.stopped:
            record = {"key": self.study.key(trial.config), "status": "stopped", "parameters": dict(trial.config),
                      "float_val_accuracy": result.get("val_accuracy"), "epochs_run": result.get("epoch")}
        else:  # ended by Ctrl-C: not finished, so a resumed search trains it
            return
        self.keep(record, result)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.keep({"key": self.study.key(trial.config), "status": "failed", "parameters": dict(trial.config),
                   "error": _last_line(trial.error_file)}, trial.last_result or {})

    def keep(self, record: dict, result: dict) -> None:
        reused = record.get("reused", False)
        record.update(node_ip=result.get("node_ip"), finished_at=time.time())
        self.study.add(record)
        self.study.ran += 1
        self.reporter.info(f"trial {self.study.ran}/{self.todo} {record['key']}: {self.line(record)}"
                           + (" (finished by an earlier run, not retrained)" if reused else ""))


def _last_line(path) -> str:
    try:
        lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    except (OSError, TypeError):
        return "unknown error (no error file)"
    return lines[-1][:300] if lines else "unknown error"


def search(study, params, job: dict, todo: int, trials: int, line, reporter) -> None:
    """Run `todo` more trials; Optuna starts from what the finished ones scored, the project's model first."""
    cfg = study.cfg
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = tune_space.baseline(cfg, params)
    searcher = OptunaSearch(
        space=OptunaSearch.convert_search_space({p.key: tune.choice(list(p.choices)) for p in params}),
        metric="score", mode="max",
        points_to_evaluate=[] if study.baseline_key in study.records else [base],
        sampler=optuna.samplers.TPESampler(seed=cfg["project.seed"], n_startup_trials=startup_trials(trials)))
    for record in study.finished():
        searcher.add_evaluated_point(record["parameters"], tune_space.score(record, study.budget))
    epochs = cfg["model.epochs"]
    scheduler = Asha(study, base, time_attr="epoch", metric="val_accuracy", mode="max", max_t=epochs,
                     grace_period=grace_period(epochs), reduction_factor=ASHA_REDUCTION, stop_last_trials=False)
    trainable = tune.with_resources(tune.with_parameters(run_trial, job=job), {"cpu": CPUS_PER_TRIAL})
    tuner = tune.Tuner(trainable,
                       tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=todo),
                       run_config=tune.RunConfig(name="search", storage_path=str(study.dir / ".ray"), verbose=0,
                                                 callbacks=[Progress(study, scheduler, todo, line, reporter)]))
    tuner.fit()
    study.interrupted = study.ran < todo
