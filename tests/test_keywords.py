import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import tool
from tinyml.collect import keywords as kw
from tinyml.collect import voices
from tinyml.collect.dataset import load
from tinyml.errors import TinymlError

PER_CLASS = 8  # 6 train, 1 val, 1 test per label


@pytest.fixture(scope="module")
def espeak_ng():
    return tool("espeak-ng")


@pytest.fixture(scope="module")
def synthesizers():
    return [tool(name) for name in ("flite", "festival")]


@pytest.fixture(scope="module")
def tiny(espeak_ng, synthesizers, tmp_path_factory):
    return kw.write_keywords(tmp_path_factory.mktemp("kw") / "a", per_class=PER_CLASS, seed=7)


def test_tiny_dataset_loads_with_every_label_as_one_second_at_16_khz(tiny):
    ds = load(tiny)
    assert ds.labels == sorted(kw.KEYWORD_LABELS)
    assert (ds.sensor, ds.sample_rate) == ("mic", 16000)
    for label in kw.KEYWORD_LABELS:
        splits = [r.split for r in ds.recordings if r.label == label]
        assert (splits.count("train"), splits.count("val"), splits.count("test")) == (6, 1, 1)
    for rec in ds.recordings:
        x = ds.read(rec)
        assert rec.samples == 16000 and x.shape == (16000, 1)
        assert np.max(np.abs(x)) < 1.0  # nothing clipped


def test_same_seed_same_bytes_other_seed_other_bytes(tiny, tmp_path):
    kw.write_keywords(tmp_path / "b", per_class=PER_CLASS, seed=7)
    kw.write_keywords(tmp_path / "c", per_class=PER_CLASS, seed=8)
    a, b, c = ((d / "manifest.json").read_text() for d in (tiny, tmp_path / "b", tmp_path / "c"))
    assert a == b
    assert a != c


def _logspec(x: np.ndarray) -> np.ndarray:
    """Log power in 24 log-spaced bands, 32 ms frames every 10 ms."""
    frames = np.lib.stride_tricks.sliding_window_view(x, 512)[::160] * np.hanning(512)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    edges = np.geomspace(3, 256, 25).astype(int)
    return np.log(np.stack([power[:, a:b].sum(1) for a, b in zip(edges[:-1], edges[1:])], axis=1) + 1e-10)


def _match(clip: np.ndarray, word: np.ndarray) -> float:
    """How well the word's spectrogram shows up somewhere in the clip's (best normalized correlation over
    time shifts, each band's mean removed so a background's colour does not count)."""
    c, w = _logspec(clip), _logspec(np.concatenate([np.zeros(256), word, np.zeros(256)]))
    w = w - w.mean(0)
    best = -1.0
    for lag in range(len(c) - len(w) + 1):
        part = c[lag:lag + len(w)] - c[lag:lag + len(w)].mean(0)
        best = max(best, float((part * w).sum() / np.sqrt((part * part).sum() * (w * w).sum())))
    return best


def test_spoken_clips_hold_their_word_and_silence_clips_hold_none(tiny, espeak_ng, synthesizers):
    ds = load(tiny)
    recipes = {r.name: r for r in kw.plan(PER_CLASS, 7)}
    clip = {r.file.rsplit("/", 1)[-1][:-4]: ds.read(r)[:, 0].astype(np.float64) for r in ds.recordings}
    silence = [clip[r.name] for r in recipes.values() if r.label == "silence"]
    own, other = [], []
    for name, recipe in recipes.items():
        if recipe.utterance is None:
            continue
        word = kw.speak_mixed([recipe.utterance], espeak_ng)[0]
        own.append(_match(clip[name], word))
        other.append(max(_match(s, word) for s in silence))
    assert len(own) == 3 * PER_CLASS
    assert np.mean(np.array(own) > np.array(other)) >= 0.9
    assert np.median(own) > 0.6 and np.median(other) < 0.45


def test_silence_is_made_without_espeak(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on the PATH
    ds = load(kw.write_keywords(tmp_path / "s", per_class=5, seed=1, labels=("silence",)))
    levels = [float(np.sqrt(np.mean(ds.read(r) ** 2))) for r in ds.recordings]
    assert ds.labels == ["silence"] and len(levels) == 5
    assert all(0 < level < 0.3 for level in levels)


def test_missing_espeak_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TinymlError) as err:
        kw.write_keywords(tmp_path / "d", per_class=3)
    message = str(err.value)
    assert "\n" not in message
    assert "espeak-ng" in message and "not installed" in message and "make setup" in message
    assert not (tmp_path / "d").exists()


def test_voices_are_installed_and_splits_share_no_variant(espeak_ng):
    listed = subprocess.run([espeak_ng, "--voices=variant"], capture_output=True, text=True, check=True).stdout
    files = set(re.findall(r"!v/(\S+)", listed))
    splits = list(kw.VARIANTS.values())
    for variants in splits:
        assert set(variants) - {""} <= files
    for i, a in enumerate(splits):
        for b in splits[i + 1:]:
            assert not set(a) & set(b)
    english = subprocess.run([espeak_ng, "--voices=en"], capture_output=True, text=True, check=True).stdout
    installed = {line.split()[1] for line in english.splitlines()[1:]}
    assert set(kw.ACCENTS) <= installed


def test_each_split_speaks_only_its_own_variants_and_speakers(espeak_ng):
    engines = []
    for recipe in kw.plan(20, 3):
        if isinstance(recipe.utterance, kw.Utterance):
            variant = recipe.utterance.voice.partition("+")[2]
            assert variant in kw.VARIANTS[recipe.split]
            engines.append("espeak-ng")
        elif recipe.utterance is not None:
            assert (recipe.utterance.engine, recipe.utterance.voice) in voices.SPEAKERS[recipe.split]
            assert voices.SHIFT[0] <= recipe.utterance.shift <= voices.SHIFT[1]
            engines.append(recipe.utterance.engine)
    share = 1 - engines.count("espeak-ng") / len(engines)
    assert len(engines) == 60 and abs(share - kw.OTHER_VOICES_SHARE) < 0.2
    assert {"flite", "festival", "pico"} <= set(engines)


def test_flite_and_festival_voices_speak_and_splits_share_no_speaker(synthesizers):
    said = {}
    for split, speakers in voices.SPEAKERS.items():
        items = [voices.Spoken(engine, voice, "yes.", stretch=1.0, shift=1.0) for engine, voice in speakers]
        for (engine, voice), word in zip(speakers, kw.speak_others(items)):
            assert 0.2 * kw.SAMPLE_RATE < len(word) <= kw.MAX_WORD_S * kw.SAMPLE_RATE, voice
            assert np.max(np.abs(word)) == pytest.approx(1.0)
            said[(engine, voice)] = split
    assert len(said) == sum(map(len, voices.SPEAKERS.values()))  # no speaker in two splits


def test_pico_speaks_the_same_samples_whatever_it_spoke_before(synthesizers):
    yes = voices.Spoken("pico", "en-US", "yes.", stretch=1.1, shift=1.0)
    alone = voices.synthesize([yes])[0]
    after = voices.synthesize([voices.Spoken("pico", "en-US", "seven!", 1.3, 1.0), yes])[1]
    assert np.array_equal(alone, after) and 0.2 < np.max(np.abs(alone)) < 0.999  # and it does not clip


def test_a_pico_worker_that_dies_is_replaced_and_the_word_comes_out_the_same(synthesizers):
    from tinyml.collect import pico

    yes = voices.Spoken("pico", "en-GB", "yes?", stretch=0.9, shift=1.0)
    before = voices.synthesize([yes])[0]
    worker = pico._WORKER._proc
    assert worker is not None and worker.pid != os.getpid()  # Pico spoke in a process of its own
    worker.kill()
    worker.wait()
    assert np.array_equal(voices.synthesize([yes])[0], before)
    assert pico._WORKER._proc.pid != worker.pid
    with pytest.raises(TinymlError, match="voice"):
        pico.speak("xx-XX", 100, 60, "yes")


def test_a_shift_raises_the_pitch_and_shortens_the_word(synthesizers):
    low, high = kw.speak_others([voices.Spoken("flite", "rms", "no.", 1.0, 0.9), voices.Spoken("flite", "rms", "no.",
                                                                                             1.0, 1.2)])
    assert len(low) / len(high) == pytest.approx(1.2 / 0.9, rel=0.08)
    # the strongest low-frequency peak (the voice's pitch) moves up with the shift
    pitch = [np.argmax(np.abs(np.fft.rfft(w[:4096] * np.hanning(len(w[:4096]))))[5:80]) for w in (low, high)]
    assert pitch[1] > pitch[0]


def test_missing_flite_is_one_line_and_writes_nothing(espeak_ng, tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "espeak-ng").symlink_to(espeak_ng)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(TinymlError) as err:
        kw.write_keywords(tmp_path / "d", per_class=6)
    message = str(err.value)
    assert "\n" not in message and "not installed" in message and "make setup" in message
    assert "flite" in message or "festival" in message
    assert not (tmp_path / "d").exists()


def test_missing_ttspico_is_one_line_and_writes_nothing(espeak_ng, synthesizers, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ttspico", None)  # import ttspico now raises ImportError
    assert any(getattr(r.utterance, "engine", "") == "pico" for r in kw.plan(12, 1234))
    with pytest.raises(TinymlError) as err:
        kw.write_keywords(tmp_path / "d", per_class=12, seed=1234)
    message = str(err.value)
    assert "\n" not in message and "ttspico" in message and "make setup" in message
    assert not (tmp_path / "d").exists()


def test_unknown_words_are_neither_labels_nor_sound_like_them(espeak_ng):
    others, near = kw.unknown_words(("silence", "unknown", "yes", "no", "up"), espeak_ng)
    words = set(others) | set(near)
    assert not words & {"yes", "no", "up"}
    assert "know" not in words  # espeak-ng says it exactly like "no"
    assert {"down", "go", "yet", "now"} <= words


def test_a_long_word_is_spoken_faster_to_fit(espeak_ng):
    slow = kw.Utterance("backward.", "en-us", rate=40, pitch=50)
    word = kw.speak(slow, espeak_ng)
    assert 0.3 * kw.SAMPLE_RATE < len(word) <= kw.MAX_WORD_S * kw.SAMPLE_RATE
    assert np.max(np.abs(word)) == pytest.approx(1.0)


def test_labels_must_be_words(tmp_path):
    with pytest.raises(TinymlError, match="words"):
        kw.write_keywords(tmp_path / "d", per_class=3, labels=("silence", "yes<no>"))
    with pytest.raises(TinymlError, match="at least 3"):
        kw.write_keywords(tmp_path / "d", per_class=2)
