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


def test_a_model_evaluated_for_other_labels_is_refused(demo_project, tmp_path, capsys):
    """Both models record their task, labels and input; evaluate refuses a project whose labels differ
    (here only in order: the shapes match, so without the sidecar the outputs would be misread)."""
    model = demo_project / "build" / "model_int8.tflite"
    for artifact in (model, demo_project / "build" / "model.keras"):
        meta = json.loads(artifact.with_name(artifact.name + ".meta.json").read_text())
        assert meta["task"] == "gesture" and meta["labels"] == ["idle", "punch", "flex", "wave", "circle"]
        assert meta["window"]["size"] > 0 and meta["axes"] == ["ax", "ay", "az", "gx", "gy", "gz"]
    other = tmp_path / "other"
    other.mkdir()
    toml = (demo_project / "tinyml.toml").read_text()
    assert 'labels = ["idle", "punch", "flex", "wave", "circle"]' in toml
    (other / "tinyml.toml").write_text(toml.replace('labels = ["idle", "punch", "flex", "wave", "circle"]',
                                                    'labels = ["punch", "idle", "flex", "wave", "circle"]'))
    assert main(["evaluate", str(model), "-C", str(other), "--data", str(demo_project / "data")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "project.labels" in line and "model_int8.tflite.meta.json" in line
    assert main(["evaluate", str(model), "-C", str(demo_project), "--json"]) == 0
