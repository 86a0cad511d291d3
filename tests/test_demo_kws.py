"""`tinyml demo --task kws --small`: every stage on built-in speech, the real recordings classified and measured,
the KWS firmware on QEMU agreeing with the host."""

import json
import shutil

import pytest

from tinyml.cli import main

from conftest import tool

CLIPS = ("yes", "no", "noise", "silence")


@pytest.fixture(scope="module")
def kws_demo(tmp_path_factory, reference):
    tool("espeak-ng")
    tool("flite")
    tool("festival")
    tool("qemu-system-arm")
    root = tmp_path_factory.mktemp("kws") / "demo"
    wavs = [str(reference / "micro_speech" / f"{c}_1000ms.wav") for c in CLIPS]
    words = tmp_path_factory.mktemp("words")  # the recordings as folders of spoken words, for --wav-dir
    for clip, folder in zip(CLIPS, ("yes", "no", "_silence_", "_silence_")):
        (words / folder).mkdir(exist_ok=True)
        shutil.copy(reference / "micro_speech" / f"{clip}_1000ms.wav", words / folder)
    assert main(["--quiet", "demo", "--task", "kws", "--small", "--dir", str(root), "--wav", *wavs,
                 "--wav-dir", str(words)]) == 0
    return root, json.loads((root / "build" / "report.json").read_text())


@pytest.mark.slow
def test_every_artifact_and_figure(kws_demo):
    root, report = kws_demo
    build = root / "build"
    for name in ("model.keras", "model_int8.tflite", "model_int8_qat.tflite", "quantize.json", "quantize_qat.json",
                 "report.json", "confusion.png", "training.png", "firmware/platformio.ini",
                 "firmware/src/frontend/tinyml_frontend_tables.c", "firmware/src/kws/tinyml_kws.c"):
        assert (build / name).is_file(), name
    assert 'task = "kws"' in (root / "tinyml.toml").read_text()
    assert report["task"] == "kws" and sorted(report["dataset"]["labels"]) == ["no", "silence", "unknown", "yes"]
    assert report["confusion_int8"]["labels"] == ["silence", "unknown", "yes", "no"]  # model output order


@pytest.mark.slow
def test_accuracies_are_the_confusion_matrices(kws_demo):
    _, report = kws_demo
    acc = report["accuracy"]
    for key, matrix in (("int8", report["confusion_int8"]["matrix"]), ("int8_qat", report["confusion_int8_qat"]["matrix"])):
        assert sum(map(sum, matrix)) == acc["test_windows"] == report["dataset"]["splits"]["test"]
        assert abs(sum(matrix[i][i] for i in range(4)) / acc["test_windows"] - acc[key]) < 1e-9


@pytest.mark.slow
def test_real_recordings_get_an_answer_from_both_int8_models(kws_demo):
    _, report = kws_demo
    for mode in ("ptq", "qat"):
        results = report["recordings"][mode]
        assert [r["wav"].rsplit("/", 1)[-1] for r in results] == [f"{c}_1000ms.wav" for c in CLIPS]
        for r in results:
            assert r["label"] == max(r["scores"], key=r["scores"].get)


@pytest.mark.slow
def test_emulated_firmware_agrees_with_the_host(kws_demo):
    _, report = kws_demo
    e = report["emulator"]
    assert e["detections_match"] and e["timing_match"]
    assert e["scores_identical_fraction"] == 1.0 and e["inferences"] > 0
    assert e["instruction_counter"] == "QEMU plugin, exact"
    assert e["frontend_instructions_per_frame"] > 0 and e["network_instructions_per_inference"] > 0
    assert [s["wav"] for s in e["streams"]] == [f"{c}_1000ms.wav" for c in CLIPS]


@pytest.mark.slow
def test_the_wav_dir_is_measured_with_both_models_as_evaluate_does(kws_demo, capsys):
    root, report = kws_demo
    assert set(report["wav_dir"]) == {"ptq", "qat"}
    for mode, model in (("ptq", "model_int8.tflite"), ("qat", "model_int8_qat.tflite")):
        r = report["wav_dir"][mode]
        assert r["clips"] == 4 and sum(map(sum, r["confusion"])) == 4
        assert main(["evaluate", str(root / "build" / model), "--wav-dir", r["dir"], "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["confusion"] == r["confusion"] and again["balanced_accuracy"] == r["balanced_accuracy"]

