import json

from tinyml.cli import main
from tinyml.collect.dataset import load

from conftest import one_error_line


def test_demo_leaves_every_artifact(demo_project):
    build = demo_project / "build"
    for name in ("model.keras", "history.json", "model_int8.tflite", "quantize.json", "inspect.json",
                 "report.json", "confusion.png", "training.png", "firmware/platformio.ini",
                 "firmware/src/main.cpp", "firmware/src/model.cc", "firmware/src/model.h"):
        assert (build / name).is_file(), name
    for png in ("confusion.png", "training.png"):
        assert (build / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (demo_project / "tinyml.toml").is_file()
    assert len(load(demo_project / "data").recordings) == 12 * 5


def test_report_holds_the_numbers(demo_project):
    report = json.loads((demo_project / "build" / "report.json").read_text())
    labels = report["confusion_int8"]["labels"]
    assert labels == ["idle", "punch", "flex", "wave", "circle"]
    matrix = report["confusion_int8"]["matrix"]
    assert len(matrix) == len(labels) and all(len(row) == len(labels) for row in matrix)
    correct = sum(matrix[i][i] for i in range(len(labels)))
    assert abs(correct / report["accuracy"]["test_windows"] - report["accuracy"]["int8"]) < 1e-9
    assert len(report["training"]["curves"]["loss"]) == report["training"]["epochs_run"]
    fw = report["firmware"]
    assert report["model"]["arena_bytes"] == fw["arena_host_bytes"] > 0
    assert fw["arena_bytes"] > fw["arena_measured_bytes"] > 0
    if fw["arena_measured_on"] == "board":  # the board's library on the emulated core, run with that arena
        tflm = report["emulator_tflm"]
        assert tflm["outputs_match_host"] and tflm["arena_reserved_bytes"] == fw["arena_bytes"]


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--small", "--dir", str(tmp_path)]) == 2
    assert "--dir" in one_error_line(capsys.readouterr().err)
