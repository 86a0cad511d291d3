"""Keyword spotting through the command line, as a user types it: `tinyml.cli.main([...])`.

TFLM's pretrained micro_speech model through the TFLM front end, bad input refused with one
line, the kws project configuration, the built-in espeak-ng data, and a tiny run of every stage
(train, quantize PTQ and QAT, evaluate --wav, codegen, emulate --wav) on that data.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import json
import tomllib
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import one_error_line, tool
from tinyml import config
from tinyml.cli import main

LABELS = ["silence", "unknown", "yes", "no"]
CLIPS = ("yes", "no", "noise", "silence")
MICRO_SPEECH_ANSWERS = ["yes", "no", "silence", "silence"]  # what TFLM's micro_speech says for CLIPS
PER_CLASS = 6  # 4 train, 1 val, 1 test per label


@pytest.fixture(autouse=True)
def _clean(tmp_path, monkeypatch):
    """Run each test in an empty folder (no tinyml.toml around) with no TINYML_* option set."""
    for opt in config.OPTIONS:
        monkeypatch.delenv(opt.env, raising=False)
    monkeypatch.chdir(tmp_path)


def _model(micro: Path) -> str:
    return str(micro / "micro_speech_quantized.tflite")


def _clips(micro: Path) -> list[str]:
    return [str(micro / f"{c}_1000ms.wav") for c in CLIPS]


def _write_wav(path: Path, channels: int = 1, rate: int = 16000, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(np.zeros(rate * channels, dtype=f"<i{width}").tobytes())
    return path


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# ---- TFLM's micro_speech through the TFLM front end ----


def test_micro_speech_answers_yes_no_silence_silence(micro, capsys):
    assert main(["evaluate", _model(micro), "--wav", *_clips(micro), "--frontend", "tflm",
                 "--labels", ",".join(LABELS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("front end: tflm")
    assert [line.split()[:2] for line in lines[1:]] == \
        [[f"{c}_1000ms.wav", answer] for c, answer in zip(CLIPS, MICRO_SPEECH_ANSWERS)]


def test_micro_speech_json_scores_are_probabilities_and_the_label_is_their_argmax(micro, capsys):
    assert main(["evaluate", _model(micro), "--wav", *_clips(micro), "--frontend", "tflm",
                 "--labels", ",".join(LABELS), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["frontend"]["kind"] == "tflm"
    assert [Path(r["wav"]).name for r in doc["results"]] == [f"{c}_1000ms.wav" for c in CLIPS]
    assert [r["label"] for r in doc["results"]] == MICRO_SPEECH_ANSWERS
    for r in doc["results"]:
        assert list(r["scores"]) == LABELS
        # an int8 softmax: each score is within 1/512 of its true value, then rounded to 4 digits
        assert sum(r["scores"].values()) == pytest.approx(1.0, abs=4 / 512 + 0.001)
        assert r["label"] == max(r["scores"], key=r["scores"].get) == LABELS[int(np.argmax(r["int8_scores"]))]
        assert r["score"] == r["scores"][r["label"]]
        assert r["seconds"] == 1.0
    assert doc["results"][0]["scores"]["yes"] > 0.9  # micro_speech is sure of the real "yes"


# ---- bad input: exit 2, one line on stderr, nothing written ----


def _bad_rate(micro, tmp):
    return ["--wav", str(_write_wav(tmp / "8k.wav", rate=8000)), "--frontend", "tflm", "--labels", ",".join(LABELS)]


def _stereo(micro, tmp):
    return ["--wav", str(_write_wav(tmp / "stereo.wav", channels=2)), "--frontend", "tflm",
            "--labels", ",".join(LABELS)]


def _8bit(micro, tmp):
    return ["--wav", str(_write_wav(tmp / "8bit.wav", width=1)), "--frontend", "tflm", "--labels", ",".join(LABELS)]


def _missing(micro, tmp):
    return ["--wav", _clips(micro)[0], str(tmp / "missing.wav"), "--frontend", "tflm", "--labels", ",".join(LABELS)]


def _not_wav(micro, tmp):
    (tmp / "notes.wav").write_text("not audio\n")
    return ["--wav", _clips(micro)[0], str(tmp / "notes.wav"), "--frontend", "tflm", "--labels", ",".join(LABELS),
            "--json"]


def _no_labels(micro, tmp):
    return ["--wav", _clips(micro)[0], "--frontend", "tflm"]


def _three_labels(micro, tmp):
    return ["--wav", _clips(micro)[0], "--frontend", "tflm", "--labels", "yes,no,other"]


def _no_preprocessor(micro, tmp):
    return ["--wav", _clips(micro)[0], "--frontend", "tflm", "--labels", ",".join(LABELS),
            "--preprocessor", str(tmp / "nowhere.tflite")]


@pytest.mark.parametrize("argv, fragment", [
    pytest.param(_bad_rate, "mono 16-bit 16000 Hz audio", id="8kHz"),
    pytest.param(_stereo, "2 channel(s)", id="stereo"),
    pytest.param(_8bit, "8-bit", id="8-bit"),
    pytest.param(_missing, "no such file", id="missing"),
    pytest.param(_not_wav, "a 16-bit PCM WAV file", id="not-a-wav"),
    pytest.param(_no_labels, "--labels", id="no-labels"),
    pytest.param(_three_labels, "4 outputs", id="wrong-label-count"),
    pytest.param(_no_preprocessor, "audio_preprocessor_int8.tflite", id="no-preprocessor"),
])
def test_bad_evaluate_input_is_one_line_and_exit_2(micro, tmp_path, capsys, argv, fragment):
    args = argv(micro, tmp_path)
    before = _files(tmp_path)
    assert main(["evaluate", _model(micro), *args]) == 2
    captured = capsys.readouterr()
    assert fragment in one_error_line(captured.err)
    assert captured.out == ""
    assert _files(tmp_path) == before


def test_logmel_on_micro_speech_is_refused(micro, capsys):
    assert main(["evaluate", _model(micro), "--wav", _clips(micro)[0], "--frontend", "logmel",
                 "--labels", ",".join(LABELS)]) == 2
    assert "logmel" in one_error_line(capsys.readouterr().err)


def test_emulate_wav_needs_a_kws_model_trained_by_tinyml(micro, tmp_path, capsys):
    assert main(["emulate", _model(micro), "--wav", _clips(micro)[0], "-o", str(tmp_path / "emu")]) == 2
    assert "keyword-spotting model trained by tinyml" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "emu").exists()


def test_demo_takes_wav_only_with_the_kws_task(micro, tmp_path, capsys):
    assert main(["demo", "--task", "gesture", "--wav", _clips(micro)[0], "--dir", str(tmp_path / "demo")]) == 2
    assert "--wav and --wav-dir only with --task kws" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "demo").exists()


# ---- configuration ----


def test_init_kws_writes_the_audio_sections_and_no_window(tmp_path, capsys):
    assert main(["init", "k", "--task", "kws"]) == 0
    doc = tomllib.loads((tmp_path / "k" / "tinyml.toml").read_text())
    assert list(doc) == ["project", "frontend", "kws", "model", "quantize", "codegen"]
    p = doc["project"]
    assert (p["task"], p["sensor"], p["labels"], p["sample_rate"]) == ("kws", "mic", LABELS, 16000)
    assert doc["frontend"]["kind"] == "logmel" and doc["frontend"]["mel_bands"] == 40
    assert doc["kws"] == {"infer_every": 25, "average": 2, "threshold": 160, "suppression_ms": 1000}
    assert doc["model"]["architecture"] == "dscnn_small"
    assert set(doc["quantize"]) == {"mode", "representative_samples", "qat_epochs"}
    loaded = config.load(tmp_path / "k", environ={})
    assert all(src.endswith("tinyml.toml") for src in loaded.sources.values() if src != "default")


def test_a_gesture_project_has_no_audio_sections(tmp_path):
    assert main(["init", "g"]) == 0
    doc = tomllib.loads((tmp_path / "g" / "tinyml.toml").read_text())
    assert "window" in doc and "frontend" not in doc and "kws" not in doc
    assert doc["project"]["task"] == "gesture" and doc["model"]["architecture"] == "cnn"


@pytest.mark.parametrize("task, architecture", [("kws", "cnn"), ("gesture", "dscnn")])
def test_a_model_of_the_other_task_is_refused_naming_both(tmp_path, capsys, task, architecture):
    (tmp_path / "tinyml.toml").write_text(f'[project]\ntask = "{task}"\n[model]\narchitecture = "{architecture}"\n')
    assert main(["collect", "--builtin", "keywords", "-o", "data"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "project.task" in line and "model.architecture" in line and f"'{architecture}'" in line
    assert not (tmp_path / "data").exists()


def test_an_environment_variable_overrides_the_kws_section(tmp_path, monkeypatch, capsys):
    assert main(["init", "k", "--task", "kws"]) == 0
    monkeypatch.setenv("TINYML_KWS_THRESHOLD", "99")
    cfg = config.load(tmp_path / "k")
    assert cfg["kws.threshold"] == 99 and cfg.sources["kws.threshold"] == "env TINYML_KWS_THRESHOLD"
    assert main(["init", "k2", "--task", "kws"]) == 0  # init writes the resolved value
    assert tomllib.loads((tmp_path / "k2" / "tinyml.toml").read_text())["kws"]["threshold"] == 99
    capsys.readouterr()
    monkeypatch.setenv("TINYML_KWS_THRESHOLD", "300")
    assert main(["init", "k3", "--task", "kws"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "kws.threshold" in line and "TINYML_KWS_THRESHOLD" in line and "255" in line
    assert not (tmp_path / "k3").exists()


# ---- built-in data and a tiny run of every stage ----


def _run(argv: list[str]) -> tuple[int, str]:
    """main(argv) with its stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A kws project with the built-in keywords, PER_CLASS clips per label."""
    tool("espeak-ng")
    root = tmp_path_factory.mktemp("kws") / "project"
    with pytest.MonkeyPatch.context() as mp:
        for opt in config.OPTIONS:
            mp.delenv(opt.env, raising=False)
        assert _run(["init", str(root), "--task", "kws"])[0] == 0
        code, out = _run(["--quiet", "collect", "-C", str(root), "--builtin", "keywords",
                          "--per-class", str(PER_CLASS), "-o", str(root / "data")])
    assert code == 0 and out.strip() == str(root / "data")
    return root


def test_builtin_keywords_is_a_loadable_mic_dataset(project):
    from tinyml.collect.dataset import load

    ds = load(project / "data")
    assert (ds.sensor, ds.sample_rate, ds.axes) == ("mic", 16000, ("pcm",))
    assert sorted(ds.labels) == sorted(LABELS)
    for label in LABELS:
        splits = [r.split for r in ds.recordings if r.label == label]
        assert (splits.count("train"), splits.count("val"), splits.count("test")) == (4, 1, 1)
    for rec in ds.recordings:
        x = ds.read(rec)
        assert x.shape == (16000, 1) and rec.file.endswith(".wav")
    loud = max(float(np.max(np.abs(ds.read(r)))) for r in ds.recordings if r.label == "yes")
    assert loud > 0.02  # a spoken word, not silence


@pytest.fixture(scope="module")
def trained(project) -> dict:
    """train --epochs 1, quantize (PTQ), quantize --mode qat --qat-epochs 1: their exit codes and stdout."""
    build = project / "build"
    steps = {"train": ["train", "-C", str(project), "--epochs", "1"],
             "ptq": ["quantize", "-C", str(project)],
             "qat": ["quantize", "-C", str(project), "--mode", "qat", "--qat-epochs", "1",
                     "-o", str(build / "model_qat.tflite")]}
    done = {}
    with pytest.MonkeyPatch.context() as mp:
        for opt in config.OPTIONS:
            mp.delenv(opt.env, raising=False)
        for name, argv in steps.items():
            done[name] = _run(["--quiet", *argv])
            if done[name][0] != 0:
                break
    return done


def _meta(model: Path) -> dict:
    return json.loads(model.with_name(model.name + ".meta.json").read_text())


@pytest.mark.slow
def test_train_and_quantize_record_labels_and_front_end(project, trained):
    build = project / "build"
    assert trained["train"] == (0, f"{build / 'model.keras'}\n")
    assert trained["ptq"] == (0, f"{build / 'model_int8.tflite'}\n")
    assert trained["qat"] == (0, f"{build / 'model_qat.tflite'}\n")
    frontend = tomllib.loads((project / "tinyml.toml").read_text())["frontend"]
    for name, mode in (("model.keras", None), ("model_int8.tflite", "ptq"), ("model_qat.tflite", "qat")):
        meta = _meta(build / name)
        assert (meta["task"], meta["labels"]) == ("kws", LABELS), name
        assert {k: meta["frontend"][k] for k in frontend} == frontend, name
        assert meta["frontend"]["sample_rate"] == 16000
        if mode:
            assert meta["mode"] == mode
    assert (build / "model_int8.tflite").read_bytes() != (build / "model_qat.tflite").read_bytes()
    # Each model's accuracy report beside it: the QAT run does not overwrite the PTQ one.
    assert json.loads((build / "quantize.json").read_text())["mode"] == "ptq"
    assert json.loads((build / "model_qat.quantize.json").read_text())["mode"] == "qat"


def _test_wavs(project: Path) -> list[str]:
    from tinyml.collect.dataset import load

    ds = load(project / "data")
    return [str(ds.root / r.file) for word in ("yes", "no") for r in ds.split("test") if r.label == word]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["model_int8.tflite", "model_qat.tflite"])
def test_evaluate_wav_takes_labels_and_front_end_from_beside_the_model(project, trained, capsys, model):
    """Run from a folder without tinyml.toml (a gesture project by default): all it knows comes from the sidecar."""
    assert trained["qat"][0] == 0
    path = project / "build" / model
    wavs = _test_wavs(project)
    assert len(wavs) == 2
    assert main(["evaluate", str(path), "--wav", *wavs, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["frontend"] == _meta(path)["frontend"] and doc["frontend"]["kind"] == "logmel"
    assert [r["wav"] for r in doc["results"]] == wavs
    for r in doc["results"]:
        assert list(r["scores"]) == LABELS
        assert r["label"] == LABELS[int(np.argmax(r["int8_scores"]))]
    assert main(["evaluate", str(path), "--wav", *wavs]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("front end: logmel") and len(lines) == 3
    assert [line.split()[1] for line in lines[1:]] == [r["label"] for r in doc["results"]]


@pytest.mark.slow
def test_a_front_end_other_than_the_models_is_refused(project, trained, micro, capsys):
    assert trained["ptq"][0] == 0
    assert main(["evaluate", str(project / "build" / "model_int8.tflite"), "--wav", *_test_wavs(project),
                 "--frontend", "tflm", "--preprocessor", str(micro / "audio_preprocessor_int8.tflite")]) == 2
    assert "logmel" in one_error_line(capsys.readouterr().err)


@pytest.mark.slow
def test_codegen_writes_the_kws_project_with_the_resolved_kws_settings(project, trained, tmp_path, monkeypatch,
                                                                       capsys):
    assert trained["ptq"][0] == 0
    monkeypatch.setenv("TINYML_KWS_THRESHOLD", "99")  # over the file's 160
    out = tmp_path / "fw"
    assert main(["codegen", str(project / "build" / "model_int8.tflite"), "-C", str(project), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    ini = configparser.ConfigParser()
    ini.read(out / "platformio.ini")
    assert {"env:nano33ble", "env:emulator"} <= set(ini.sections())
    assert ini["env:nano33ble"]["platform"] == "nordicnrf52"
    for sub in ("board/kws_nano33ble.cpp", "emulator/kws_main.c", "kws/tinyml_kws.c", "frontend/tinyml_frontend.c",
                "model/tinyml_model.c"):
        assert (out / "src" / sub).is_file(), sub
    header = (out / "src" / "kws" / "tinyml_kws_config.h").read_text()
    assert "#define TM_KWS_THRESHOLD 99u" in header
    assert '#define TM_KWS_LABEL_NAMES "silence", "unknown", "yes", "no"' in header


@pytest.mark.slow
def test_emulate_wav_runs_the_kws_firmware_and_matches_the_host(project, trained, tmp_path, capsys):
    tool("qemu-system-arm")
    tool("arm-none-eabi-gcc")
    assert trained["ptq"][0] == 0
    wavs = _test_wavs(project)[:1]
    assert main(["--quiet", "emulate", str(project / "build" / "model_int8.tflite"), "--wav", *wavs,
                 "-C", str(project), "-o", str(tmp_path / "emu"), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["detections_match"] and r["timing_match"] and r["scores_identical_fraction"] == 1.0
    assert r["labels"] == LABELS and r["stream_params"]["threshold"] == 160
    assert r["inferences"] == 5  # 2.5 s streamed (0.5 s lead, 1 s clip, 1 s tail), every 25 hops of 20 ms
    assert r["frontend_instructions_per_frame"] > 0 and r["network_instructions_per_inference"] > 0


@pytest.fixture
def word_folders(project, tmp_path) -> Path:
    """The project's test recordings as folders of spoken words: yes/, no/, _silence_/, and the unknown word."""
    import shutil

    from tinyml.collect.dataset import load

    ds = load(project / "data")
    root = tmp_path / "words"
    for r in ds.recordings:
        folder = {"silence": "_silence_", "unknown": "other"}.get(r.label, r.label)
        (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(ds.root / r.file, root / folder / Path(r.file).name)
    return root


@pytest.mark.slow
def test_stream_dir_scores_the_same_stream_on_the_host_and_the_emulated_device(project, trained, word_folders,
                                                                            tmp_path, monkeypatch, capsys):
    tool("qemu-system-arm")
    tool("arm-none-eabi-gcc")
    assert trained["ptq"][0] == 0
    # The one-epoch model answers silence or unknown; named yes and no instead, its answers are keywords
    import shutil

    model = tmp_path / "renamed.tflite"
    shutil.copy(project / "build" / "model_int8.tflite", model)
    meta = _meta(project / "build" / "model_int8.tflite")
    meta["labels"] = ["yes", "no", "silence", "unknown"]
    model.with_name(model.name + ".meta.json").write_text(json.dumps(meta))
    model = str(model)
    monkeypatch.setenv("TINYML_KWS_THRESHOLD", "0")
    assert main(["--quiet", "evaluate", model, "-C", str(project), "--stream-dir", str(word_folders), "--json"]) == 0
    host = json.loads(capsys.readouterr().out)
    assert host["recordings"] == 4 * PER_CLASS and len(host["placed"]) == host["recordings"]
    assert host["params"]["threshold"] == 0
    s = host["score"]
    assert s["keywords"] == 2 * PER_CLASS  # the folders' yes and no recordings
    assert s["false_accepts"] > 0  # most answers come outside the keyword recordings
    default = [r for r in host["sweep"] if r["threshold"] == 0]
    assert default and default[0]["false_reject_rate"] == s["false_reject_rate"]
    assert default[0]["false_accepts"] == s["false_accepts"]

    assert main(["--quiet", "emulate", model, "-C", str(project), "--stream-dir", str(word_folders),
                 "-o", str(tmp_path / "emu"), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["detections_match"] and r["scores_identical_fraction"] == 1.0
    q = r["stream_quality"]
    for side in ("device", "host"):
        assert {k: q[side]["score"][k] for k in ("keywords", "accepted", "false_accepts")} == \
            {k: s[k] for k in ("keywords", "accepted", "false_accepts")}, side
    assert abs(r["streams"][0]["samples"] / 16000 - host["minutes"] * 60) < 0.001  # the same stream


def test_a_model_keeps_the_front_end_recorded_beside_it(project, tmp_path):
    """evaluate and quantize read the model's clips through its own sidecar's front end: a model trained
    before frontend.normalize (none in its sidecar) is not fed the project's normalized features."""
    from tinyml.collect.dataset import load
    from tinyml.train.audio import clip_pcm
    from tinyml.train.frontend import FrontendParams, audio_meta, fit_clip, logmel, model_frontend
    from tinyml.train.inputs import project_windows

    cfg = config.load(project, environ={})
    assert cfg["frontend.normalize"] == "mean"
    old = tmp_path / "old.tflite"
    raw = FrontendParams.from_config(cfg).to_json()
    del raw["normalize"]
    old.with_name(old.name + ".meta.json").write_text(json.dumps(audio_meta(LABELS, FrontendParams.from_json(raw))))
    ds = load(project / "data")
    first = ds.split("test")[0]
    want_raw = logmel(fit_clip(clip_pcm(ds, first), FrontendParams.from_json(raw)), FrontendParams.from_json(raw))
    assert model_frontend(old, cfg).normalize == "none"
    old_windows = project_windows(cfg, ds, "test", model_frontend(old, cfg))
    np.testing.assert_array_equal(old_windows.x[0, ..., 0], want_raw)
    normalized = project_windows(cfg, ds, "test").x[0, ..., 0]
    np.testing.assert_allclose(normalized, want_raw - want_raw.mean(axis=0), atol=1e-4)
