"""`tinyml tune`: the search space, the Pareto front and the choice of the best (plain data), then a tiny
search on a real local Ray instance (train, int8, TFLM, QEMU), its resume, --json, --apply and budgets no
model can meet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import one_error_line, tool
from tinyml import config
from tinyml.cli import main
from tinyml.errors import BadInput
from tinyml.tune import space as tune_space
from tinyml.tune.space import Budget

EPOCHS = 4
TRIALS = 3


def _record(key, accuracy, instructions, ram=1000, flash=10_000, status="priced"):
    return {"key": key, "status": status, "parameters": {}, "accuracy": accuracy,
            "instructions_per_inference": instructions, "ms_at_64mhz": instructions / 64_000,
            "ram_bytes": ram, "flash_bytes": flash}


def test_the_cnn_shape_options_default_to_the_model_tinyml_always_built():
    from tinyml.train.model import CNN_OPTIONS

    assert {name: config.option(f"model.{name}").default for name in CNN_OPTIONS} == {
        "conv_layers": 3, "filters": 16, "filters_step": 8, "kernel": 5, "last_kernel": 3, "dense_units": 32}


def test_the_space_holds_option_values_and_the_projects_own(tmp_path):
    cfg = config.load(tmp_path, flags={"window.size": 100, "model.filters": 12})
    space = {p.key: p.choices for p in tune_space.space(cfg, shortest_recording=110)}
    assert all(config.option(key) for key in space)  # every parameter is an option of the table
    assert 100 in space["window.size"] and 12 in space["model.filters"]
    assert max(space["window.size"]) <= 110  # no window longer than the recordings
    assert tune_space.baseline(cfg, tune_space.space(cfg))["window.size"] == 100
    floor = tune_space.floor(cfg, tune_space.space(cfg))
    assert floor["model.conv_layers"] == 1 and floor["window.size"] == 48
    with pytest.raises(BadInput, match="at least 1"):
        tune_space.with_value(cfg, {"model.conv_layers": 0})
    with pytest.raises(BadInput, match="window.size"):
        tune_space.space(cfg, shortest_recording=20)
    kws = config.load(tmp_path, flags={"project.task": "kws"})
    assert {p.key for p in tune_space.space(kws)} == {"frontend.mel_bands", "model.architecture", "model.learning_rate"}


def test_trial_keys_follow_every_option_and_the_data(tmp_path):
    cfg = config.load(tmp_path)
    key = tune_space.trial_key(cfg.values, "abc")
    assert key == tune_space.trial_key(dict(cfg.values), "abc")
    assert key != tune_space.trial_key(cfg.replace(model__epochs=3).values, "abc")
    assert key != tune_space.trial_key(cfg.values, "abd")


def test_pareto_front_and_best():
    records = [_record("a", 0.90, 1000), _record("b", 0.95, 2000), _record("c", 0.80, 3000),  # c: dominated by a, b
               _record("d", 0.99, 9000, ram=300_000), _record("e", 0.95, 2500),  # e: dominated by b
               _record("f", 0.97, 5000), {"key": "g", "status": "stopped", "float_val_accuracy": 0.99}]
    budget = Budget(ms_at_64mhz=None, ram_bytes=256 * 1024, flash_bytes=960 * 1024)
    judged = tune_space.judged(records, budget)
    front = tune_space.pareto(judged)
    assert [p["key"] for p in front] == ["a", "b", "f", "d"]
    assert not judged[3]["within_budget"] and judged[3]["over_budget"] == ["RAM 300,000 B > 262,144 B"]
    assert judged[6]["within_budget"] is None
    assert tune_space.best(judged)["key"] == "f"  # d is more accurate but over budget; g was never priced
    fast = tune_space.judged(records, Budget(ms_at_64mhz=2500 / 64_000, ram_bytes=256 * 1024, flash_bytes=960 * 1024))
    assert tune_space.best(fast)["key"] == "b"  # b and e tie on accuracy: fewer instructions wins
    assert tune_space.best(tune_space.judged(records, Budget(0.001, 1, 1))) is None
    assert tune_space.score(judged[3], budget) == pytest.approx(0.99 - 1)
    assert tune_space.score(judged[6], budget) == pytest.approx(0.99 - 2)


def test_bad_budgets_and_counts_are_one_line(tmp_path, capsys):
    assert main(["-q", "init", str(tmp_path)]) == 0
    capsys.readouterr()
    for args in (["--budget-ms", "0"], ["--ram-kb", "-1"], ["--trials", "0"]):
        assert main(["tune", "-C", str(tmp_path), *args]) == 2
        assert args[0] in one_error_line(capsys.readouterr().err)
    assert main(["tune", "-C", str(tmp_path)]) == 2  # no dataset yet
    assert "tinyml collect" in one_error_line(capsys.readouterr().err)


def _dominates(o, r):
    return (o["accuracy"] >= r["accuracy"] and o["instructions_per_inference"] <= r["instructions_per_inference"]
            and (o["accuracy"] > r["accuracy"] or o["instructions_per_inference"] < r["instructions_per_inference"]))


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A tiny search: 6 recordings per gesture, 4 epochs, 3 trials on a local Ray instance."""
    tool("qemu-system-arm")
    tool("arm-none-eabi-gcc")
    from tinyml.collect.synthetic import write_gestures

    root = tmp_path_factory.mktemp("tune") / "project"
    assert main(["-q", "init", str(root)]) == 0
    write_gestures(root / "data", per_class=6, seed=1234)
    assert main(["-q", "tune", "-C", str(root), "--trials", str(TRIALS), "--epochs", str(EPOCHS), "--cpus", "2"]) == 0
    return root


def _trial_files(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in (root / "build" / "tune").glob("*/*")
            if p.name in ("trial.json", "model_int8.tflite")}


@pytest.mark.slow
def test_a_search_prices_every_finished_trial(searched):
    doc = json.loads((searched / "build" / "tune.json").read_text())
    assert doc["engine"]["address"] == "local" and doc["engine"]["ray"] and doc["engine"]["optuna"]
    assert "OptunaSearch" in doc["engine"]["search_algorithm"] and "ASHA" in doc["engine"]["scheduler"]
    assert len(doc["trials"]) == TRIALS
    space = doc["space"]
    for t in doc["trials"]:
        assert t["status"] in ("priced", "stopped")
        assert set(t["parameters"]) == set(space) and all(t["parameters"][k] in space[k] for k in space)
        if t["status"] == "priced":
            assert all(t[k] > 0 for k in ("instructions_per_inference", "ms_at_64mhz", "flash_bytes", "ram_bytes"))
            assert 0 <= t["accuracy"] <= 1 and t["within_budget"] is True
            assert (searched / t["model"]).is_file() and t["model"].endswith("model_int8.tflite")
            assert t["ms_at_64mhz"] == pytest.approx(t["instructions_per_inference"] / 64_000, abs=1e-3)
    baseline = [t for t in doc["trials"] if t["baseline"]]
    assert len(baseline) == 1 and baseline[0]["status"] == "priced"  # the project's model: never stopped early
    assert doc["floor"]["instructions_per_inference"] <= min(
        t["instructions_per_inference"] for t in doc["trials"] if t["status"] == "priced")
    priced = [t for t in doc["trials"] if t["status"] == "priced"]
    front = {p["key"] for p in doc["pareto"]}
    assert front and all(not any(_dominates(o, t) for o in priced) for t in priced if t["key"] in front)
    assert all(any(_dominates(o, t) for o in priced) or (t["accuracy"], t["instructions_per_inference"]) in
               {(p["accuracy"], p["instructions_per_inference"]) for p in doc["pareto"]} for t in priced)
    best = doc["best"]
    assert best["within_budget"] and best["accuracy"] == max(t["accuracy"] for t in priced if t["within_budget"])
    assert (searched / "build" / "tune.png").stat().st_size > 0


@pytest.mark.slow
def test_a_resumed_search_retrains_nothing_and_prints_json(searched, capsys):
    before = _trial_files(searched)
    capsys.readouterr()
    assert main(["tune", "-C", str(searched), "--trials", str(TRIALS), "--epochs", str(EPOCHS), "--json"]) == 0
    out = capsys.readouterr()
    assert f"{TRIALS} finished by an earlier run, 0 to run" in out.err
    assert json.loads(out.out) == json.loads((searched / "build" / "tune.json").read_text())
    assert _trial_files(searched) == before  # not one trial folder more, not one file rewritten


@pytest.mark.slow
def test_a_budget_no_model_meets_is_one_line_and_chooses_nothing(searched, capsys):
    capsys.readouterr()
    assert main(["-q", "tune", "-C", str(searched), "--trials", str(TRIALS), "--epochs", str(EPOCHS),
                 "--budget-ms", "0.001"]) == 2
    out = capsys.readouterr()
    assert "cheapest model" in one_error_line(out.err) and "0.001 ms" in out.err and out.out == ""
    doc = json.loads((searched / "build" / "tune.json").read_text())
    assert doc["best"] is None and all(t["within_budget"] is not True for t in doc["trials"])


@pytest.mark.slow
def test_apply_makes_the_best_trial_the_projects(searched, capsys):
    assert main(["-q", "tune", "-C", str(searched), "--trials", str(TRIALS), "--epochs", str(EPOCHS), "--apply"]) == 0
    best = json.loads((searched / "build" / "tune.json").read_text())["best"]
    cfg = config.load(searched)
    assert all(cfg[k] == v for k, v in best["parameters"].items())
