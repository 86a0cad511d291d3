"""`tinyml evaluate MODEL.tflite --wav FILE...`: what a keyword-spotting model answers for recordings.

Each WAV (16-bit mono at the front end's rate) is fitted to one clip, turned into features by the
chosen front end (`logmel`: librosa, quantized with the model's input parameters; `tflm`: TFLM's
micro_speech preprocessor, whose int8 output is the input as it is) and run through the int8 model
in the TFLM interpreter.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from tinyml.collect.dataset import read_wav_frames
from tinyml.errors import expected, require_file
from tinyml.quantize.tflm import Runner, dequantize
from tinyml.train.frontend import FrontendParams, TflmFrontend, clip_features, fit_clip, quantize_features
from tinyml.train.frontend import read_audio_meta

PREPROCESSOR = "audio_preprocessor_int8.tflite"


def read_wav(path: Path, sample_rate: int) -> np.ndarray:
    """A 16-bit mono WAV at `sample_rate`, as int16."""
    path = require_file(path, "a WAV recording")
    channels, width, rate, raw = read_wav_frames(path, str(path))
    if channels != 1 or width != 2 or rate != sample_rate:
        raise expected(f"mono 16-bit {sample_rate} Hz audio in '{path}'",
                       f"{channels} channel(s), {8 * width}-bit, {rate} Hz",
                       f"Convert it, e.g. `sox IN -r {sample_rate} -c 1 -b 16 OUT.wav`.")
    if len(raw) % 2:
        raise expected(f"whole 16-bit samples in '{path}'", f"{len(raw)} bytes of audio data (cut short?)")
    return np.frombuffer(raw, dtype="<i2").copy()


def model_features(pcm: np.ndarray, params: FrontendParams, runner: Runner, tflm: TflmFrontend | None) -> np.ndarray:
    """One clip -> the model's int8 input."""
    if params.kind == "tflm":
        return tflm.clip(fit_clip(pcm, params), params)
    q = runner.input["quantization_parameters"]
    return quantize_features(clip_features(pcm, params), float(q["scales"][0]), int(q["zero_points"][0]))


class Classifier:
    """One int8 keyword-spotting model in the TFLM interpreter, with its front end: 16-bit audio in,
    one answer out."""

    def __init__(self, model_path: Path, labels: list[str], params: FrontendParams, preprocessor: Path | None = None):
        model_path = require_file(model_path, "an int8 .tflite model")
        self.runner = Runner(model_path.read_bytes())
        self.labels, self.params = labels, params
        n_in = int(np.prod(self.runner.input["shape"]))
        if self.runner.input["dtype"] != np.int8 or n_in != params.frames * params.mel_bands:
            raise expected(f"a model taking {params.frames} x {params.mel_bands} int8 features ({params.kind} front end)",
                           f"input {list(self.runner.input['shape'])} {np.dtype(self.runner.input['dtype']).name}",
                           "Pass the model trained with these front-end settings.")
        n_out = int(np.prod(self.runner.output["shape"]))
        if n_out != len(labels):
            raise expected(f"a model scoring {len(labels)} classes ({', '.join(labels)})", f"{n_out} outputs",
                           "Pass --labels with one name per output.")
        self.tflm = TflmFrontend(preprocessor or model_path.parent / PREPROCESSOR) if params.kind == "tflm" else None
        qo = self.runner.output["quantization_parameters"]
        self._out_q = float(qo["scales"][0]), int(qo["zero_points"][0])

    def __call__(self, path: Path) -> dict:
        pcm = read_wav(Path(path), self.params.sample_rate)
        out = self.runner.invoke(model_features(pcm, self.params, self.runner, self.tflm)).reshape(-1)
        scores = dequantize(out, *self._out_q)
        best = int(np.argmax(out))
        return {"wav": str(path), "label": self.labels[best], "score": round(float(scores[best]), 4),
                "scores": {name: round(float(s), 4) for name, s in zip(self.labels, scores)},
                "int8_scores": [int(v) for v in out], "seconds": round(len(pcm) / self.params.sample_rate, 3)}


def classify_wavs(model_path: Path, wavs: list[Path], labels: list[str], params: FrontendParams,
                  preprocessor: Path | None = None) -> list[dict]:
    classify = Classifier(model_path, labels, params, preprocessor)
    return [classify(Path(path)) for path in wavs]


def resolve(model_path: Path, cfg, labels: list[str] | None, kind: str | None) -> tuple[list[str], FrontendParams]:
    """Labels and front end: what training recorded beside the model, else a kws project's tinyml.toml;
    --labels names the outputs of a model from elsewhere (such as TFLM's micro_speech, --frontend tflm).

    A front end other than the one the model learned from would feed it features it never saw and
    answer with confident nonsense, so that is refused, as is `logmel` for a model tinyml did not train
    (its input quantization was not fitted to our features)."""
    meta = read_audio_meta(model_path)
    if meta is not None:
        known_labels, params = meta
        if kind and kind != params.kind:
            raise expected(f"--frontend {params.kind}, the front end '{model_path.name}' was trained with",
                           f"--frontend {kind}", "Drop --frontend.")
        return (labels or known_labels), params
    if cfg["project.task"] == "kws" and kind == "tflm":
        tflm = replace(FrontendParams.from_config(cfg), kind="tflm", normalize="none").checked()
        return (labels or list(cfg["project.labels"])), tflm
    if not labels or kind != "tflm":
        raise expected("a keyword-spotting model trained by tinyml (labels and logmel front end recorded beside it), "
                       "or --labels with --frontend tflm for a model taking TFLM's micro_speech features",
                       f"'{model_path}' with neither", "Pass --labels NAME,... --frontend tflm.")
    return labels, FrontendParams(kind="tflm").checked()


def render(results: list[dict], params: FrontendParams) -> str:
    lines = [f"front end: {params.kind}; int8 model in the TFLM interpreter"]
    width = max(len(Path(r["wav"]).name) for r in results)
    for r in results:
        others = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["scores"].items(), key=lambda kv: -kv[1]))
        lines.append(f"  {Path(r['wav']).name:<{width}}  {r['label']:<10} ({others})")
    return "\n".join(lines)
