"""Streaming quality of the whole keyword detector, as users of wake-word engines judge it.

`tinyml evaluate MODEL --stream-dir DIR` (and `tinyml emulate MODEL --stream-dir DIR` for the device)
join every recording of DIR (one folder per spoken word, as for --wav-dir) into one long stream,
seeded: the recordings in a random order, each after a gap of GAP_S seconds filled with a quieter
piece of a `_silence_` recording (or zeros when there is none). The detector (smoothing, threshold,
suppression; tinyml/detector.py) runs over the whole stream, and its detections are scored:

- a keyword recording is accepted when a detection of its label comes while the scores it rests on
  can hold it: after its first sample, and at most one window (frontend.clip_ms) plus the smoothing
  (the `kws.average - 1` inferences before, `kws.infer_every` hops apart) after its last; one
  detection accepts one recording;
- every other detection is a false accept, whether it came during another word, a keyword of
  another label or noise;
- false reject rate = keyword recordings not accepted / keyword recordings; false accepts per hour
  of stream.

The model's scores do not depend on the threshold, so one pass gives the whole sweep: the detector
is run again on the same scores for each threshold of THRESHOLDS (a DET-style table).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from tinyml.config import NOT_KEYWORDS
from tinyml.detector import Detector, StreamParams
from tinyml.errors import expected
from tinyml.evaluate.kws_stream import LEAD_MS, pad_for_stream, stream_host
from tinyml.evaluate.wav import read_wav
from tinyml.evaluate.wav_dir import labelled_wavs
from tinyml.log import SILENT

GAP_S = (1.0, 2.0)  # seconds between recordings: longer than the default suppression, so no keyword hides another
BED_DB = (-30.0, -10.0)  # the gaps' noise, relative to the silence recording it is cut from
THRESHOLDS = (96, 128, 144, 160, 176, 192, 208, 224, 240, 255)


@dataclass(frozen=True)
class Placed:
    """One recording in the stream, in samples from the stream's start."""

    wav: str  # relative to DIR
    word: str
    label: str
    start: int
    end: int  # one past its last sample

    def to_json(self) -> dict:
        return asdict(self)


def build_stream(root: Path, labels: list[str], mapping: dict[str, str], sample_rate: int,
                 seed: int) -> tuple[np.ndarray, list[Placed]]:
    """Every recording of `root` in one int16 stream, seeded; returns (pcm, the recordings' places)."""
    items, word_label = labelled_wavs(root, labels, mapping)
    rng = np.random.default_rng(seed)
    clips = [read_wav(path, sample_rate) for path, _ in items]
    beds = [clip for clip, (_, word) in zip(clips, items) if word_label[word] == "silence" and len(clip)]
    parts, placed, at = [], [], 0
    for i in rng.permutation(len(items)):
        gap = int(rng.uniform(*GAP_S) * sample_rate)
        if beds:
            bed = beds[int(rng.integers(len(beds)))]
            piece = np.resize(np.roll(bed, -int(rng.integers(len(bed)))), gap)  # repeated when shorter
            parts.append(np.round(piece * 10 ** (rng.uniform(*BED_DB) / 20)).astype(np.int16))
        else:
            parts.append(np.zeros(gap, dtype=np.int16))
        at += gap
        path, word = items[i]
        parts.append(clips[i])
        placed.append(Placed(str(path.relative_to(root)), word, word_label[word], at, at + len(clips[i])))
        at += len(clips[i])
    return np.concatenate(parts), placed


def score(detections: list[tuple[str, int]], placed: list[Placed], total_ms: int, sample_rate: int,
          window_ms: int, offset_ms: int = 0) -> dict:
    """False rejects and false accepts of `detections` [(label, stream time ms)]; `offset_ms` is where the
    stream of `placed` starts in the detections' time (the zeros streamed before it)."""
    keywords = [p for p in placed if p.label not in NOT_KEYWORDS]
    spans = [((p.start * 1000) // sample_rate + offset_ms, (p.end * 1000) // sample_rate + offset_ms + window_ms)
             for p in keywords]
    accepted = [False] * len(keywords)
    false_accepts = []
    for label, t in sorted(detections, key=lambda d: d[1]):
        hit = next((i for i, (p, (a, b)) in enumerate(zip(keywords, spans))
                    if not accepted[i] and p.label == label and a < t <= b), None)
        if hit is None:
            false_accepts.append({"label": label, "time_ms": t})
        else:
            accepted[hit] = True
    hours = total_ms / 3.6e6
    per_label = {}
    for label in dict.fromkeys(p.label for p in keywords):
        mine = [a for a, p in zip(accepted, keywords) if p.label == label]
        per_label[label] = {"recordings": len(mine), "false_reject_rate": 1 - sum(mine) / len(mine)}
    return {"keywords": len(keywords), "accepted": sum(accepted),
            "false_reject_rate": (1 - sum(accepted) / len(keywords)) if keywords else None,
            "false_accepts": len(false_accepts), "false_accepts_per_hour": len(false_accepts) / hours,
            "per_label": per_label, "false_accept_times": false_accepts}


def sweep(inferences, labels: list[str], params: StreamParams, placed: list[Placed], total_ms: int,
          sample_rate: int, window_ms: int, offset_ms: int = 0, thresholds=THRESHOLDS) -> list[dict]:
    """score() for the detector at each threshold, run again over the same inferences (tinyml.detector.Inference)."""
    rows = []
    for threshold in sorted(set(thresholds) | {params.threshold}):
        detector = Detector(list(labels), replace(params, threshold=threshold).checked())
        found = []
        for inf in inferences:
            _, detection = detector.update(inf.hop, inf.time_ms, inf.scores)
            if detection:
                found.append((detection.label, detection.time_ms))
        result = score(found, placed, total_ms, sample_rate, window_ms, offset_ms)
        rows.append({"threshold": threshold, "false_reject_rate": result["false_reject_rate"],
                     "false_accepts_per_hour": result["false_accepts_per_hour"],
                     "false_accepts": result["false_accepts"]})
    return rows


def check_frontend(params) -> None:
    if params.kind != "logmel":
        raise expected("a model of tinyml's logmel front end for --stream-dir (the device's detector)",
                       f"--frontend {params.kind}", "Use --wav-dir for other models.")


def reach_ms(params, stream_params: StreamParams) -> int:
    """How long after a recording's last sample a detection may still rest on it: the model's window
    and the inferences the smoothing averages."""
    return params.clip_ms + (stream_params.average - 1) * stream_params.infer_every * params.hop * 1000 \
        // params.sample_rate


def prepare(root: Path, labels: list[str], mapping: dict[str, str], params, seed: int,
            reporter=SILENT, where: str = "the host's detector") -> tuple[np.ndarray, list[Placed]]:
    """The stream of `root` (unpadded) for a logmel model, announced."""
    check_frontend(params)
    pcm, placed = build_stream(root, labels, mapping, params.sample_rate, seed)
    reporter.info(f"streaming {len(placed)} recordings ({len(pcm) / params.sample_rate / 60:.1f} min) through {where}")
    return pcm, placed


def report(detections, inferences, labels: list[str], placed: list[Placed], padded_samples: int, params,
           stream_params) -> dict:
    """score() at the detector's threshold and the sweep, for a stream padded by pad_for_stream."""
    common = dict(total_ms=padded_samples * 1000 // params.sample_rate, sample_rate=params.sample_rate,
                  window_ms=reach_ms(params, stream_params), offset_ms=LEAD_MS)
    return {"minutes": common["total_ms"] / 60000, "params": stream_params.to_json(),
            "score": score(detections, placed, **common),
            "sweep": sweep(inferences, labels, stream_params, placed, **common) if inferences is not None else None}


def host_quality(model_bytes: bytes, labels: list[str], params, stream_params: StreamParams, root: Path,
                 mapping: dict[str, str], seed: int, reporter=SILENT) -> dict:
    """The host detector (librosa, the TFLM interpreter, tinyml.detector.Detector) on `root`'s stream."""
    pcm, placed = prepare(root, labels, mapping, params, seed, reporter)
    padded = pad_for_stream(pcm, params)
    host = stream_host(padded, model_bytes, labels, params, stream_params, reporter)
    found = [(d.label, d.time_ms) for d in host["detections"]]
    return {"dir": str(root), "recordings": len(placed), "seed": seed,
            **report(found, host["inferences"], labels, placed, len(padded), params, stream_params),
            "placed": [p.to_json() for p in placed]}


def rate(value: float | None) -> str:
    """A rate for the tables: '-' when nothing was there to measure (no keyword recordings)."""
    return "-" if value is None else f"{value:.3f}"


def render(result: dict) -> str:
    s = result["score"]
    lines = [f"{result['recordings']} recordings of {result['dir']} in one stream of {result['minutes']:.1f} min "
             f"(seed {result['seed']}), the detector as on the device (threshold {result['params']['threshold']}, "
             f"average {result['params']['average']}, every {result['params']['infer_every']} hops, suppression "
             f"{result['params']['suppression_ms']} ms):",
             f"  false rejects {s['keywords'] - s['accepted']}/{s['keywords']} = {rate(s['false_reject_rate'])}"
             + "".join(f"; {k} {v['false_reject_rate']:.3f}" for k, v in s["per_label"].items()),
             f"  false accepts {s['false_accepts']} = {s['false_accepts_per_hour']:.1f} per hour",
             "  threshold  false rejects  false accepts/hour"]
    lines += [f"  {r['threshold']:>9}  {rate(r['false_reject_rate']):>13}  {r['false_accepts_per_hour']:>18.1f}"
              + ("  (default)" if r["threshold"] == result["params"]["threshold"] else "") for r in result["sweep"]]
    return "\n".join(lines)
