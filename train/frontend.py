"""Audio front ends: 16-bit PCM -> the feature frames a keyword-spotting model sees.

Two choices, named by `frontend.kind` in tinyml.toml:

* `logmel` (ours): librosa's mel power spectrogram, `log(max(mel, floor))`. The
  device computes the same thing in C (firmware/frontend/), from tables that
  codegen exports out of librosa's own window and mel filterbank, so training
  and the board share one definition. Framing is librosa's with `center=False`:
  frame t holds samples [t*hop, t*hop + fft_size), the `window`-long Hann
  window centred inside it (librosa pads the window to fft_size).
* `tflm`: TFLM's micro_speech audio preprocessor (`audio_preprocessor_int8.tflite`,
  TFLM Signal ops), run in the TFLM interpreter on 30 ms frames 20 ms apart. Its
  int8 output is the pretrained micro_speech model's input as it is.

Audio is int16; it becomes float as sample / 32768.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinyml.artifacts import json_type, read_provenance
from tinyml.config import default
from tinyml.errors import BadInput, expected, require_file
from tinyml.paths import sidecar

KINDS = ("logmel", "tflm")
NORMALIZE = ("mean", "none")


@dataclass(frozen=True)
class FrontendParams:
    kind: str = default("frontend.kind", "kws")
    sample_rate: int = default("project.sample_rate", "kws")
    window_ms: float = default("frontend.window_ms", "kws")
    hop_ms: float = default("frontend.hop_ms", "kws")
    fft_size: int = default("frontend.fft_size", "kws")
    mel_bands: int = default("frontend.mel_bands", "kws")
    fmin: float = default("frontend.fmin", "kws")
    fmax: float = default("frontend.fmax", "kws")
    log_floor: float = default("frontend.log_floor", "kws")  # mel power floor before the log (audio in [-1, 1))
    clip_ms: int = default("frontend.clip_ms", "kws")  # the model sees this much audio
    # Raw features unless asked: a project's default ("mean": each band's mean over the window removed)
    # is the option table's, which project_frontend passes.
    normalize: str = "none"

    @property
    def window(self) -> int:
        return round(self.sample_rate * self.window_ms / 1000)

    @property
    def hop(self) -> int:
        return round(self.sample_rate * self.hop_ms / 1000)

    @property
    def span(self) -> int:
        """Samples one feature frame reads."""
        return self.fft_size if self.kind == "logmel" else self.window

    @property
    def clip_samples(self) -> int:
        return self.sample_rate * self.clip_ms // 1000

    @property
    def frames(self) -> int:
        """Feature frames in one clip (the model input's rows)."""
        return 1 + (self.clip_samples - self.span) // self.hop

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.frames, self.mel_bands, 1)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> "FrontendParams":
        """Parameters as `to_json` wrote them (a missing field takes its default), refused in one line
        if a field has the wrong type or is out of range."""
        if not isinstance(doc, dict):
            raise expected("the front end as a JSON object of frontend.* values", json_type(doc))
        values = {}
        for name, f in cls.__dataclass_fields__.items():
            if name not in doc:
                continue
            value, want = doc[name], type(f.default)  # str, int or float
            if want is float and type(value) is int:
                value = float(value)
            if type(value) is not want or (want is float and not math.isfinite(value)):
                raise expected(f"frontend.{name} as a finite {want.__name__}" if want is float else
                               f"frontend.{name} as {'a string' if want is str else 'an integer'}", repr(value))
            values[name] = value
        # a model from before the option has none in its sidecar: it learned raw log-mel (the default)
        params = cls(**values)
        for name, low, high in (("sample_rate", 1, 384_000), ("fft_size", 16, 1 << 16), ("clip_ms", 1, 60_000),
                                ("mel_bands", 1, params.fft_size // 2 + 1)):
            if not low <= getattr(params, name) <= high:
                raise expected(f"frontend.{name} in {low}..{high}", getattr(params, name))
        return params.checked()

    @classmethod
    def from_config(cls, cfg) -> "FrontendParams":
        values = {name: cfg[f"frontend.{name}"] for name in cls.__dataclass_fields__ if name != "sample_rate"}
        if values["kind"] == "tflm":  # TFLM's preprocessor has its own gain control: normalize is for logmel
            values["normalize"] = "none"
        return cls(sample_rate=cfg["project.sample_rate"], **values).checked()

    def checked(self) -> "FrontendParams":
        if self.kind not in KINDS:
            raise expected(f"frontend.kind in {{{', '.join(KINDS)}}}", repr(self.kind))
        if self.fft_size & (self.fft_size - 1) or self.fft_size < 16:
            raise expected("frontend.fft_size to be a power of two, at least 16", self.fft_size)
        if not 0 < self.window <= self.fft_size:
            raise expected(f"frontend.window_ms to give 1..fft_size={self.fft_size} samples",
                           f"{self.window} samples ({self.window_ms} ms at {self.sample_rate} Hz)")
        if self.hop < 1:
            raise expected("frontend.hop_ms of at least one sample", self.hop_ms)
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise expected(f"0 <= frontend.fmin < frontend.fmax <= {self.sample_rate / 2:g} Hz",
                           f"fmin {self.fmin}, fmax {self.fmax}")
        if self.normalize not in NORMALIZE or (self.kind == "tflm" and self.normalize != "none"):
            raise expected("frontend.normalize = \"mean\" or \"none\" (logmel), \"none\" (tflm)",
                           f"{self.normalize!r} with frontend.kind = {self.kind!r}",
                           "Set frontend.normalize in tinyml.toml.")
        if self.log_floor <= 0:
            raise expected("frontend.log_floor > 0", self.log_floor)
        if self.clip_samples < self.span:
            raise expected(f"frontend.clip_ms to hold one frame ({self.span} samples)", f"{self.clip_ms} ms")
        if self.kind == "tflm" and (self.sample_rate, self.window, self.hop, self.mel_bands) != (16000, 480, 320, 40):
            raise expected("the TFLM front end's fixed framing (16 kHz, 30 ms window, 20 ms hop, 40 bands)",
                           f"{self.sample_rate} Hz, {self.window_ms} ms, {self.hop_ms} ms, {self.mel_bands} bands",
                           "Use frontend.kind = \"logmel\" for other settings.")
        return self


def to_float(pcm: np.ndarray) -> np.ndarray:
    return np.asarray(pcm, dtype=np.int16).astype(np.float32) / np.float32(32768.0)


def window(params: FrontendParams) -> np.ndarray:
    """librosa's periodic Hann window, centred in fft_size (float32)."""
    import librosa

    w = librosa.filters.get_window("hann", params.window, fftbins=True)
    return librosa.util.pad_center(w, size=params.fft_size).astype(np.float32)


def mel_matrix(params: FrontendParams) -> np.ndarray:
    """librosa's mel filterbank (Slaney scale and area normalization), [mel_bands, fft_size/2 + 1] float32."""
    import librosa

    return librosa.filters.mel(sr=params.sample_rate, n_fft=params.fft_size, n_mels=params.mel_bands,
                               fmin=params.fmin, fmax=params.fmax, dtype=np.float32)


def mel_power(pcm: np.ndarray, params: FrontendParams) -> np.ndarray:
    """Mel power spectrogram of every whole frame of `pcm`, [frames, mel_bands] float32 (librosa)."""
    import librosa

    y = to_float(pcm)
    if len(y) < params.fft_size:
        raise expected(f"at least {params.fft_size} samples of audio", f"{len(y)}")
    spec = librosa.feature.melspectrogram(
        y=y, sr=params.sample_rate, n_fft=params.fft_size, win_length=params.window, hop_length=params.hop,
        window="hann", center=False, power=2.0, n_mels=params.mel_bands, fmin=params.fmin, fmax=params.fmax)
    return spec.T.astype(np.float32)


def logmel(pcm: np.ndarray, params: FrontendParams) -> np.ndarray:
    """The `logmel` features: log(max(mel power, log_floor)), [frames, mel_bands] float32."""
    return np.log(np.maximum(mel_power(pcm, params), np.float32(params.log_floor))).astype(np.float32)


def normalized(features: np.ndarray, params: FrontendParams) -> np.ndarray:
    """One model window of features [frames, mel_bands] as the model sees them (float32): with
    `normalize = "mean"`, each band's mean over the window taken away. A gain on the audio adds the same
    constant to every log-mel value of the window, and a microphone's response a constant per band, so
    neither reaches the model. The device does the same arithmetic in float32: a sum of the frames
    oldest first, divided by their number, then subtracted."""
    f = np.asarray(features, dtype=np.float32)
    if params.normalize == "none":
        return f
    total = np.zeros(f.shape[1], dtype=np.float32)
    for row in f:  # in order, one float32 add per frame, as the C loop
        total += row
    return f - total / np.float32(len(f))


def clip_features(pcm: np.ndarray, params: FrontendParams) -> np.ndarray:
    """A recording's model input before quantization: one clip's log-mel, normalized, [frames, mel_bands]."""
    return normalized(logmel(fit_clip(pcm, params), params), params)


def quantize_features(features: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The model's int8 input: rint(x / scale) + zero_point, clamped, in float32 as the C front end does it
    (round half to even, like rintf in the default rounding mode)."""
    q = np.rint(np.asarray(features, dtype=np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def fit_clip(pcm: np.ndarray, params: FrontendParams) -> np.ndarray:
    """Zero-pad or centre-crop a recording to exactly one clip."""
    pcm = np.asarray(pcm, dtype=np.int16).reshape(-1)
    n = params.clip_samples
    if len(pcm) >= n:
        start = (len(pcm) - n) // 2
        return pcm[start:start + n]
    out = np.zeros(n, dtype=np.int16)
    out[:len(pcm)] = pcm
    return out


class TflmFrontend:
    """TFLM's micro_speech audio preprocessor in the TFLM interpreter: int16 frames -> int8 features.

    The preprocessor keeps state between frames (noise estimate, gain control), so each clip
    starts from a fresh interpreter, as micro_speech's own evaluation does."""

    def __init__(self, model_path: Path):
        self.model_path = require_file(model_path, "TFLM's audio_preprocessor_int8.tflite",
                                       "Pass --preprocessor with its path.")
        self.raw = Path(self.model_path).read_bytes()

    def clip(self, pcm: np.ndarray, params: FrontendParams) -> np.ndarray:
        from tflite_micro import runtime

        interp = runtime.Interpreter.from_bytes(self.raw)
        pcm = np.asarray(pcm, dtype=np.int16)
        frames = []
        for f in range(1 + (len(pcm) - params.window) // params.hop):
            interp.set_input(pcm[f * params.hop:f * params.hop + params.window].reshape(1, -1), 0)
            interp.invoke()
            frames.append(interp.get_output(0).reshape(-1).copy())
        return np.stack(frames).astype(np.int8)


def model_frontend(model_path: Path, cfg) -> FrontendParams | None:
    """The front end a keyword-spotting model was trained with: its sidecar's, else the project's
    (None outside a kws project). A model keeps the features it learned from, whatever the project
    file says now."""
    if cfg["project.task"] != "kws":
        return None
    meta = read_audio_meta(model_path)
    return meta[1] if meta else FrontendParams.from_config(cfg)


def audio_meta(labels: list[str], params: FrontendParams) -> dict:
    """What a keyword-spotting model carries in its provenance sidecar (`extra` of write_provenance)."""
    return {"task": "kws", "labels": list(labels), "frontend": params.to_json()}


def read_audio_meta(model_path: Path) -> tuple[list[str], FrontendParams] | None:
    """(labels, front-end parameters) recorded beside a model by `tinyml train`/`quantize`, or None
    (no sidecar, or one of a model that is not for keyword spotting). A sidecar that cannot be read,
    or whose labels or front end are not what tinyml writes, is refused in one line."""
    doc = read_provenance(model_path)
    if doc is None or doc.get("task") != "kws":
        return None
    meta = sidecar(Path(model_path))
    todo = f"Fix '{meta.name}' or delete it, and quantize the model again to write it."
    labels = doc.get("labels")
    if not isinstance(labels, list) or not all(isinstance(v, str) and v for v in labels) \
            or len(set(labels)) != len(labels) or len(labels) < 2:
        raise expected("\"labels\": at least two distinct names, in model output order",
                       f"{labels!r:.200} in '{meta}'", todo)
    if "frontend" not in doc:
        raise expected("\"frontend\": the front end the model was trained with", f"none in '{meta}'", todo)
    try:
        params = FrontendParams.from_json(doc["frontend"])
    except BadInput as exc:
        raise BadInput(f"{exc} In '{meta}'. {todo}") from None
    return labels, params
