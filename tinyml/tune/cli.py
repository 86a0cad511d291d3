"""`tinyml tune`: search the task's model family under the board's budget on Ray Tune.

Optuna (through Ray Tune's OptunaSearch) proposes each trial's parameters; ASHA stops trials whose
validation accuracy trails at its rungs. Every trial that trains to the end is priced exactly
(tinyml/tune/trial.py): int8 PTQ, accuracy in the TFLM interpreter on the validation split, the AOT C
model run on QEMU's Cortex-M4 for instructions per inference, flash and RAM. Trials over budget are
marked and never chosen. Ray is imported only when the command runs, so `tinyml --help` stays instant.
See docs/tune.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tinyml import config
from tinyml.errors import expected
from tinyml.project_cli import add_option_flags, flags_of

DEFAULT_TRIALS = 20


def add_arguments(p) -> None:
    p.add_argument("-C", "--project", default=".", help="project folder (default: .)")
    p.add_argument("--trials", type=int, default=DEFAULT_TRIALS,
                   help=f"trials in the search, counting those an earlier run of it finished (default: {DEFAULT_TRIALS})")
    p.add_argument("--budget-ms", type=float, help="latency budget: milliseconds per inference at 64 MHz, one "
                   "instruction per cycle (default: none)")
    p.add_argument("--ram-kb", type=float, help="RAM budget in KiB: static RAM plus stack (default: the board's, 256)")
    p.add_argument("--flash-kb", type=float, help="flash budget in KiB (default: the board's application space, 960)")
    p.add_argument("--address", help="an existing Ray cluster to run on, as `ray start --head` prints it "
                   "(e.g. 127.0.0.1:6379); default: a local Ray instance started for this search")
    p.add_argument("--cpus", type=int, help="CPUs of the local Ray instance, one trial on each (default: all)")
    p.add_argument("--json", action="store_true", help="print build/tune.json")
    p.add_argument("--apply", action="store_true", help="write the best trial's settings into tinyml.toml")
    add_option_flags(p, ["model.epochs"])


def _budget(args, cfg):
    from tinyml.host.platformio import BUDGETS
    from tinyml.tune.space import Budget

    for flag, value in (("--budget-ms", args.budget_ms), ("--ram-kb", args.ram_kb), ("--flash-kb", args.flash_kb)):
        if value is not None and not value > 0:
            raise expected(f"{flag} to be a positive number", repr(value))
    board = BUDGETS[cfg["project.board"]]
    return Budget(ms_at_64mhz=args.budget_ms,
                  ram_bytes=board["ram"] if args.ram_kb is None else int(args.ram_kb * 1024),
                  flash_bytes=board["flash"] if args.flash_kb is None else int(args.flash_kb * 1024))


def run(args, reporter) -> int:
    from tinyml.artifacts import sha256_file
    from tinyml.collect.dataset import MANIFEST, load
    from tinyml.paths import ProjectPaths
    from tinyml.tune import space as tune_space
    from tinyml.tune.study import Study

    if args.trials < 1:
        raise expected("--trials of at least 1", args.trials)
    if args.cpus is not None and (args.cpus < 1 or args.address):
        raise expected("--cpus of at least 1, for the local Ray instance only", f"--cpus {args.cpus}"
                       + (f" with --address {args.address}" if args.address else ""))
    root = Path(args.project).resolve()
    cfg = config.load(root, flags=flags_of(args), require_file=True)
    paths = ProjectPaths(root)
    budget = _budget(args, cfg)
    dataset = load(paths.data)
    shortest = min((r.samples for r in dataset.recordings if r.split in ("train", "val")), default=None)
    params = tune_space.space(cfg, shortest if cfg["project.task"] == "gesture" else None)
    study = Study(paths.build, cfg, params, sha256_file(paths.data / MANIFEST), budget)
    study.load()
    todo = max(0, args.trials - len(study.finished()))
    from tinyml.tune import runner as tune_ray  # Ray and Optuna: only now

    job = {"project": str(root), "data": str(paths.data), "tune_dir": str(study.dir), "values": dict(cfg.values),
           "dataset_sha256": study.dataset_sha256, "budget": budget.to_json(), "threads": tune_ray.CPUS_PER_TRIAL}
    with tune_ray.ray_session(args.address, args.cpus) as engine:
        study.engine = {**engine, **tune_ray.engine(cfg, args.trials)}
        check_floor(study, params, job, reporter)
        reporter.info(f"tune: {args.trials} trials ({len(study.finished())} finished by an earlier run, {todo} to run), "
                      f"up to {cfg['model.epochs']} epochs each, on Ray {engine['ray']} ({engine['address']}, "
                      f"{engine['cpus']} CPUs) with {study.engine['search_algorithm']} and ASHA")
        if todo:
            tune_ray.search(study, params, job, todo, args.trials, lambda r: trial_line(r, budget), reporter)
    study.write()
    study.plot()
    doc = study.document()
    if doc["best"] is None and not study.interrupted:
        raise expected("a trial within the budget", f"none of {len(doc['trials'])} trials "
                       f"({sum(t['status'] == 'priced' for t in doc['trials'])} priced; {study.json_path})",
                       "Run more (--trials) or raise the budget; nothing was chosen.")
    if args.apply and doc["best"]:
        apply(root, doc["best"])
        reporter.info(f"wrote the best trial's settings into {root / config.CONFIG_FILE}; `tinyml train` and "
                      "`tinyml quantize` rebuild the project's model with them")
    print(json.dumps(doc, indent=2) if args.json else summary(doc, study, applied=args.apply))
    if study.interrupted:
        reporter.info(f"tune: stopped after {study.ran} of {todo} trials; the finished ones are in {study.json_path}, "
                      "and the same command resumes")
        return 130
    return 0


def check_floor(study, params, job: dict, reporter) -> None:
    """Price the cheapest model of the space first: if it is over budget, so is every trial, and nothing
    is searched."""
    from tinyml.tune import space as tune_space
    from tinyml.tune.runner import remote
    from tinyml.tune.trial import price_floor

    if study.floor is None:
        reporter.info("tune: pricing the cheapest model of the space (untrained) against the budget")
        study.set_floor({**remote(price_floor, tune_space.floor(study.cfg, params), job), "finished_at": time.time()})
    over = study.budget.over(study.floor)
    if over:
        study.write()
        raise expected("a budget that the cheapest model of the search space meets",
                       f"{'; '.join(over)} for {describe(study.floor['parameters'])} "
                       f"({study.floor['instructions_per_inference']:,} instructions, RAM {study.floor['ram_bytes']:,} B, "
                       f"flash {study.floor['flash_bytes']:,} B)",
                       "Raise --budget-ms, --ram-kb or --flash-kb; nothing was searched or chosen.")


def describe(parameters: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in parameters.items())


def trial_line(r: dict, budget) -> str:
    if r["status"] == "stopped":
        return f"stopped early by ASHA after {r['epochs_run']} epochs (val accuracy {r['float_val_accuracy']:.3f})"
    if r["status"] == "failed":
        return f"failed: {r['error']}"
    over = budget.over(r)
    return (f"int8 accuracy {r['accuracy']:.3f}, {r['instructions_per_inference']:,} instructions "
            f"({r['ms_at_64mhz']:.3f} ms at 64 MHz), RAM {r['ram_bytes']:,} B, flash {r['flash_bytes']:,} B, "
            + ("within budget" if not over else "OVER BUDGET: " + "; ".join(over))
            + f" [{describe(_short(r['parameters']))}] {r['seconds']:.0f} s")


def _short(parameters: dict) -> dict:
    """model.* parameters by their name alone."""
    return {k.split(".", 1)[1] if k.startswith("model.") else k: v for k, v in parameters.items()}


def summary(doc: dict, study, applied: bool = False) -> str:
    trials = doc["trials"]
    count = {s: sum(t["status"] == s for t in trials) for s in ("priced", "stopped", "failed")}
    e, b = doc["engine"], doc["budget"]
    latency = "no latency limit" if b["ms_at_64mhz"] is None else f"latency {b['ms_at_64mhz']:g} ms at 64 MHz"
    lines = [f"tinyml tune: {len(trials)} trials ({count['priced']} priced, {count['stopped']} stopped early by ASHA, "
             f"{count['failed']} failed) on Ray {e['ray']} ({e['address']}, {e['cpus']} CPUs), {e['search_algorithm']}",
             f"  budget: {latency}, RAM {b['ram_bytes']:,} B, flash {b['flash_bytes']:,} B",
             "  Pareto front (int8 accuracy on validation in TFLM vs instructions per inference on QEMU):",
             pareto_table(doc)]
    best = doc["best"]
    if best:
        lines.append(f"  best within budget: {best['key']} {trial_line(best, study.budget)}")
        base = next((t for t in trials if t["baseline"]), None)
        if base and base["status"] == "priced" and base["key"] != best["key"]:
            lines.append(f"  the project's model: {base['key']} {trial_line(base, study.budget)}")
        changes = {k: v for k, v in best["parameters"].items() if study.cfg[k] != v}
        if not changes:
            lines.append("  the project's settings are the best")
        elif applied:
            lines.append(f"  applied to tinyml.toml: {describe(changes)}")
        else:
            lines.append(f"  to make it the project's: the same command with --apply (no trial is rerun), or set "
                         f"{describe(changes)} in tinyml.toml")
    lines.append(f"  {study.json_path}, {study.plot_path}")
    return "\n".join(lines)


def pareto_table(doc: dict) -> str:
    by_key = {t["key"]: t for t in doc["trials"]}
    head = f"    {'trial':<12} {'accuracy':>8} {'instructions':>12} {'ms@64MHz':>9} {'RAM B':>8} {'flash B':>8} fits  parameters"
    rows = [head]
    for p in doc["pareto"]:
        t = by_key[p["key"]]
        rows.append(f"    {t['key']:<12} {t['accuracy']:>8.3f} {t['instructions_per_inference']:>12,} "
                    f"{t['ms_at_64mhz']:>9.3f} {t['ram_bytes']:>8,} {t['flash_bytes']:>8,} "
                    f"{'yes' if t['within_budget'] else 'NO ':<4}  {describe(_short(t['parameters']))}")
    return "\n".join(rows)


def apply(root: Path, best: dict) -> None:
    """Write the best trial's parameters into tinyml.toml (every option rendered, as `tinyml init` does)."""
    from tinyml.artifacts import write_text

    values = dict(config.load(root, environ={}, require_file=True).values)  # the file and defaults only
    values.update(best["parameters"])
    config.load(root, flags=values, environ={}, read_file=False)  # validated as a whole
    write_text(root / config.CONFIG_FILE, config.render_toml(values))
