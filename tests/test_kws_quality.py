"""Streaming quality (evaluate/kws_quality.py): the stream built from folders of recordings, and the
scoring of detections against it: false rejects, false accepts per hour, the threshold sweep."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tinyml.detector import Inference, StreamParams
from tinyml.evaluate import kws_quality as q

LABELS = ["silence", "unknown", "yes", "no"]
RATE = 16000


def _wav(path: Path, pcm: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.astype("<i2").tobytes())


@pytest.fixture
def folders(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "clips"
    for word, n in (("yes", 3), ("no", 2), ("left", 2), ("_silence_", 2)):
        for i in range(n):
            _wav(root / word / f"{word}{i}.wav", (rng.normal(0, 1000, RATE - 500 * i)).astype(np.int16))
    return root


def test_the_stream_holds_every_recording_once_with_noise_between(folders):
    pcm, placed = q.build_stream(folders, LABELS, {}, RATE, seed=3)
    assert len(placed) == 9 and sorted(p.wav for p in placed) == sorted(
        str(p.relative_to(folders)) for p in folders.rglob("*.wav"))
    assert {p.word: p.label for p in placed} == {"yes": "yes", "no": "no", "left": "unknown", "_silence_": "silence"}
    ends = [0] + [p.end for p in placed]
    for prev_end, p in zip(ends, placed):
        gap = (p.start - prev_end) / RATE
        assert q.GAP_S[0] - 1e-3 <= gap <= q.GAP_S[1]
        assert 0 < np.abs(pcm[prev_end:p.start]).max() < 1000  # a quieter piece of a _silence_ recording
    assert len(pcm) == placed[-1].end
    again, placed_again = q.build_stream(folders, LABELS, {}, RATE, seed=3)
    assert np.array_equal(pcm, again) and placed == placed_again
    assert [p.wav for p in q.build_stream(folders, LABELS, {}, RATE, seed=4)[1]] != [p.wav for p in placed]


def test_without_silence_recordings_the_gaps_are_zeros(folders):
    pcm, placed = q.build_stream(folders, LABELS, {"_silence_": "unknown"}, RATE, seed=3)
    assert not pcm[:placed[0].start].any()


def _placed():
    # yes at 1..2 s, no at 4..5 s, an unknown word at 7..8 s, yes at 10..11 s (in samples)
    return [q.Placed("a", "yes", "yes", 1 * RATE, 2 * RATE), q.Placed("b", "no", "no", 4 * RATE, 5 * RATE),
            q.Placed("c", "left", "unknown", 7 * RATE, 8 * RATE), q.Placed("d", "yes", "yes", 10 * RATE, 11 * RATE)]


def test_a_detection_while_the_window_overlaps_its_keyword_accepts_it_once():
    placed = _placed()
    # offset 500 ms: the stream of `placed` begins half a second into the detections' time
    found = [("yes", 1500), ("yes", 3500), ("no", 4600), ("yes", 8000), ("yes", 10600), ("no", 10700)]
    r = q.score(found, placed, total_ms=3_600_000, sample_rate=RATE, window_ms=1000, offset_ms=500)
    # yes at 1500 ms is at the first yes's first sample (not after it); 3500 ms is its window's last moment
    assert (r["keywords"], r["accepted"]) == (3, 3)
    assert r["false_reject_rate"] == 0.0
    assert [(f["label"], f["time_ms"]) for f in r["false_accept_times"]] == [("yes", 1500), ("yes", 8000),
                                                                            ("no", 10700)]
    late = q.score([("yes", 3501)], placed, total_ms=3_600_000, sample_rate=RATE, window_ms=1000, offset_ms=500)
    assert (late["accepted"], late["false_accepts"]) == (0, 1)  # one millisecond after the window left
    assert r["false_accepts_per_hour"] == 3.0
    assert r["per_label"] == {"yes": {"recordings": 2, "false_reject_rate": 0.0},
                              "no": {"recordings": 1, "false_reject_rate": 0.0}}


def test_a_missed_or_mislabelled_keyword_is_a_false_reject():
    r = q.score([("no", 2000), ("yes", 3600)], _placed(), total_ms=1_800_000, sample_rate=RATE, window_ms=1000,
                offset_ms=500)
    # "no" during the first yes is a false accept; the yes at 3600 ms comes after its window left
    assert (r["accepted"], r["false_accepts"]) == (0, 2)
    assert r["false_reject_rate"] == 1.0 and r["false_accepts_per_hour"] == 4.0


def test_the_sweep_reruns_the_detector_on_the_same_scores():
    placed = _placed()
    params = StreamParams(infer_every=25, average=1, threshold=160, suppression_ms=1000)
    # scores 0..255 as int8 (q - 128): yes 200 at 2 s, no 150 at 5 s, yes 250 at 8 s (false), silence elsewhere
    peaks = {2000: (2, 200), 5000: (3, 150), 8000: (2, 250)}
    inferences = []
    for i, t in enumerate(range(500, 12_500, 500)):
        scores = [255, 0, 0, 0]
        if t in peaks:
            label, value = peaks[t]
            scores = [255 - value, 0, 0, 0]
            scores[label] = value
        inferences.append(Inference(i, t // 20, t, tuple(v - 128 for v in scores), ()))
    rows = {r["threshold"]: r for r in q.sweep(inferences, LABELS, params, placed, total_ms=3_600_000,
                                               sample_rate=RATE, window_ms=1000, offset_ms=0)}
    assert 160 in rows and set(q.THRESHOLDS) <= set(rows)
    assert (rows[128]["false_reject_rate"], rows[128]["false_accepts"]) == (pytest.approx(1 / 3), 1)  # no at 150
    assert (rows[160]["false_reject_rate"], rows[160]["false_accepts"]) == (pytest.approx(2 / 3), 1)
    assert (rows[208]["false_reject_rate"], rows[208]["false_accepts"]) == (1.0, 1)
    assert (rows[255]["false_reject_rate"], rows[255]["false_accepts"]) == (1.0, 0)
