"""`tinyml evaluate MODEL --wav-dir DIR`: a keyword-spotting model on folders of real recordings.

TFLM's pretrained micro_speech model on the 953 real Speech Commands clips of the reference must
give the figures measured on it with TFLM's own tooling; a small folder built from the four
micro_speech recordings checks the word-to-label rules, --map and the JSON; bad input is one line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import need, one_error_line
from tinyml import config
from tinyml.cli import main

LABELS = "silence,unknown,yes,no"


@pytest.fixture(autouse=True)
def _clean(tmp_path, monkeypatch):
    for opt in config.OPTIONS:
        monkeypatch.delenv(opt.env, raising=False)
    monkeypatch.chdir(tmp_path)


def _evaluate(micro: Path, *args: str) -> list[str]:
    return ["evaluate", str(micro / "micro_speech_quantized.tflite"), "--frontend", "tflm", "--labels", LABELS, *args]


def test_micro_speech_on_the_real_speech_commands_clips(micro, reference, capsys):
    """The figures of the reference's README and issue 12, from TFLM's micro_speech through TFLM's front end."""
    clips = reference / "speech_commands_dev"
    need(clips.is_dir(), f"the Speech Commands clips are missing in {clips}")
    assert main(_evaluate(micro, "--wav-dir", str(clips), "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["clips"] == 953 == sum(map(sum, doc["confusion"]))
    per_class = {k: round(v, 2) for k, v in doc["per_class_accuracy"].items()}
    assert per_class == {"silence": 0.96, "unknown": 0.73, "yes": 0.97, "no": 0.89}
    assert round(doc["balanced_accuracy"], 2) == 0.89
    left = [c for c in doc["results"] if c["word"] == "left"]
    assert len(left) == doc["words"]["left"]["clips"] == 80
    assert doc["words"]["left"]["accuracy"] == sum(c["answer"] == "unknown" for c in left) / 80
    assert {w: v["label"] for w, v in doc["words"].items() if v["label"] != "unknown"} == \
        {"_silence_": "silence", "yes": "yes", "no": "no"}
    assert len(doc["results"]) == 953 and doc["results"][0]["wav"].startswith("_silence_/")


@pytest.fixture
def folders(micro, tmp_path) -> Path:
    """yes/ and no/ with their recordings, _silence_/ with noise and silence, dunno/ with the "yes" again."""
    root = tmp_path / "clips"
    for folder, clip in [("yes", "yes"), ("no", "no"), ("_silence_", "noise"), ("_silence_", "silence"),
                         ("dunno", "yes")]:
        (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(micro / f"{clip}_1000ms.wav", root / folder / f"{clip}.wav")
    (root / "README.md").write_text("not a folder of clips\n")
    (root / "yes" / "notes.txt").write_text("not a WAV\n")
    return root


def test_words_map_to_labels_and_the_table_shows_them(micro, folders, capsys):
    assert main(_evaluate(micro, "--wav-dir", str(folders))) == 0
    out = capsys.readouterr().out
    assert "5 recordings" in out
    # micro_speech answers yes, no, silence, silence; the "yes" in dunno/ counts as unknown and is wrong
    assert "balanced accuracy 0.750" in out and "accuracy 0.800" in out
    assert "dunno     -> unknown 0.000 of 1" in out
    assert "    yes       0       0       1       0  1.000 (1/1)" in out


def test_map_overrides_a_folder_and_json_has_every_clip(micro, folders, capsys):
    assert main(_evaluate(micro, "--wav-dir", str(folders), "--map", "dunno=yes", "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["balanced_accuracy"] == 1.0 and doc["per_class_accuracy"]["unknown"] is None
    assert doc["confusion"] == [[2, 0, 0, 0], [0, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]
    assert [(c["wav"], c["label"], c["answer"]) for c in doc["results"]] == [
        ("_silence_/noise.wav", "silence", "silence"), ("_silence_/silence.wav", "silence", "silence"),
        ("dunno/yes.wav", "yes", "yes"), ("no/no.wav", "no", "no"), ("yes/yes.wav", "yes", "yes")]


@pytest.mark.parametrize("args, fragment", [
    pytest.param(lambda d: ["--wav-dir", str(d / "nowhere")], "one folder of WAVs per spoken word", id="missing"),
    pytest.param(lambda d: ["--wav-dir", str(d / "yes")], "no WAVs in folders", id="no-folders"),
    pytest.param(lambda d: ["--wav-dir", str(d), "--map", "maybe=yes"], "--map words that are folders", id="map-word"),
    pytest.param(lambda d: ["--wav-dir", str(d), "--map", "dunno=perhaps"], "dunno -> perhaps", id="map-label"),
    pytest.param(lambda d: ["--wav-dir", str(d), "--map", "dunno"], "--map WORD=LABEL", id="map-syntax"),
    pytest.param(lambda d: ["--map", "dunno=yes", "--wav", str(d / "yes" / "yes.wav")],
                 "--map with --wav-dir or --stream-dir", id="map-alone"),
    pytest.param(lambda d: ["--stream-dir", str(d), "--wav", str(d / "yes" / "yes.wav")],
                 "Received: --wav and --stream-dir", id="stream-and-wav"),
    pytest.param(lambda d: ["--stream-dir", str(d)], "logmel front end for --stream-dir", id="stream-tflm"),
    pytest.param(lambda d: ["--wav-dir", str(d), "--wav", str(d / "yes" / "yes.wav")], "one of --wav, --wav-dir",
                 id="both"),
])
def test_bad_wav_dir_input_is_one_line_and_exit_2(micro, folders, capsys, args, fragment):
    assert main(_evaluate(micro, *args(folders))) == 2
    captured = capsys.readouterr()
    assert fragment in one_error_line(captured.err)
    assert captured.out == ""


def test_a_label_the_model_lacks_needs_a_map(micro, folders, capsys):
    labels = ["--labels", "quiet,other,yes,no"]
    assert main(["evaluate", str(micro / "micro_speech_quantized.tflite"), "--frontend", "tflm", *labels,
                 "--wav-dir", str(folders)]) == 2
    assert "_silence_ -> silence" in one_error_line(capsys.readouterr().err)
    assert main(["evaluate", str(micro / "micro_speech_quantized.tflite"), "--frontend", "tflm", *labels,
                 "--wav-dir", str(folders), "--map", "_silence_=quiet,dunno=other"]) == 0
    assert "balanced accuracy 0.750" in capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [
    (lambda d: ["--wav", str(d / "yes" / "yes.wav"), "--stream-dir", str(d)], "Expected --wav or --stream-dir"),
    (lambda d: ["--map", "dunno=yes"], "Expected --map with --stream-dir"),
], ids=["wav-and-stream", "map-alone"])
def test_bad_emulate_stream_input_is_one_line_and_exit_2(micro, folders, tmp_path, capsys, args, fragment):
    out = tmp_path / "emu"
    assert main(["emulate", str(micro / "micro_speech_quantized.tflite"), *args(folders), "-o", str(out)]) == 2
    assert fragment in one_error_line(capsys.readouterr().err)
    assert not out.exists()

