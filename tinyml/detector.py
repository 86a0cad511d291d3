"""The keyword detector: how the device app (firmware/kws/) turns a stream into detections, and the
model it can run. The host reference of the stream (evaluate/kws_stream.py), the generated firmware
(codegen/kws.py) and the emulated device (evaluate/emulate_kws.py) share it.

The device (firmware/kws/tinyml_kws.c) and this module follow one definition:

* Audio arrives as int16 samples, in chunks of any size. The app keeps the last
  `fft_size` samples (zeros before the stream starts). After every `hop` new
  samples (hop k = 1, 2, ...) it computes one feature frame from those samples
  and appends it (float32 log-mel) to a window of the last `frames` frames.
  Before the first hop the window holds the features of an all-zero frame in
  every row.
  On the host, frame k-1 of librosa's log-mel over
  `concat(zeros(fft_size - hop), stream)` is exactly those samples.
* Every `infer_every` hops the model runs on the window, normalized
  (`frontend.normalize`: each band's mean over the window removed) and
  quantized to its int8 input. Its int8 softmax output
  (scale 1/256, zero point -128) becomes scores 0..255 (q + 128). The last
  `average` score vectors are kept; a label's smoothed score is their integer
  mean (sum // count of vectors held).
* The label with the highest smoothed score (the lowest index on a tie) is
  detected when it is a keyword (not "silence" or "unknown"), its smoothed score
  is at least `threshold`, and at least `suppression_ms` of stream time have
  passed since the previous detection. Stream time at hop k is
  k * hop * 1000 // sample_rate milliseconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tinyml import config
from tinyml.config import NOT_KEYWORDS, default
from tinyml.errors import expected

OUTPUT_SCALE = 1.0 / 256.0  # an int8 softmax: scores q + 128 in 0..255
OUTPUT_ZERO_POINT = -128
MAX_AVERAGE = 16  # TM_KWS_MAX_AVERAGE in firmware/kws/tinyml_kws.h: the device's score history


@dataclass(frozen=True)
class StreamParams:
    """How the device turns a stream of model outputs into detections.

    infer_every     hops (feature frames) between inferences: 25 with a 20 ms hop runs the
                    model every 500 ms on the last second of audio
    average         inferences whose scores are averaged (integer mean) before deciding
    threshold       smoothed score, 0..255 (255 = probability 1), a keyword needs
    suppression_ms  stream time after a detection during which no other one is reported
    """

    infer_every: int = default("kws.infer_every", "kws")
    average: int = default("kws.average", "kws")
    threshold: int = default("kws.threshold", "kws")
    suppression_ms: int = default("kws.suppression_ms", "kws")

    def checked(self) -> "StreamParams":
        if self.infer_every < 1:
            raise expected("kws.infer_every of at least 1 hop", self.infer_every)
        if not 1 <= self.average <= MAX_AVERAGE:
            raise expected(f"kws.average in 1..{MAX_AVERAGE} inferences", self.average)
        if not 0 <= self.threshold <= 255:
            raise expected("kws.threshold in 0..255", self.threshold)
        if self.suppression_ms < 0:
            raise expected("kws.suppression_ms of at least 0", self.suppression_ms)
        return self

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Detection:
    label: str
    score: int  # smoothed, 0..255
    time_ms: int
    inference: int  # index of the inference that decided it, from 0

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Inference:
    index: int  # from 0
    hop: int  # hop index k (from 1)
    time_ms: int
    scores: tuple[int, ...]  # the model's int8 output
    smoothed: tuple[int, ...]  # 0..255

    def to_json(self) -> dict:
        return asdict(self)


def time_ms(hop_index: int, hop: int, sample_rate: int) -> int:
    return hop_index * hop * 1000 // sample_rate


def keyword_mask(labels: list[str]) -> list[bool]:
    return [label not in NOT_KEYWORDS for label in labels]


@dataclass
class Detector:
    """Smoothing and detection over a sequence of int8 score vectors (the pure logic)."""

    labels: list[str]
    params: StreamParams
    _history: list[list[int]] = field(default_factory=list, init=False, repr=False)  # uint8 scores held
    _last_ms: int | None = field(default=None, init=False, repr=False)  # of the last detection
    _count: int = field(default=0, init=False, repr=False)  # inferences so far

    def update(self, hop_index: int, stream_ms: int, scores) -> tuple[Inference, Detection | None]:
        raw = tuple(int(v) for v in scores)
        if len(raw) != len(self.labels):
            raise expected(f"{len(self.labels)} scores (one per label)", len(raw))
        self._history.append([v - OUTPUT_ZERO_POINT for v in raw])
        del self._history[:-self.params.average]
        n = len(self._history)
        smoothed = tuple(sum(h[i] for h in self._history) // n for i in range(len(raw)))
        inference = Inference(self._count, hop_index, stream_ms, raw, smoothed)
        self._count += 1
        best = max(range(len(smoothed)), key=lambda i: (smoothed[i], -i))
        detection = None
        if (self.labels[best] not in NOT_KEYWORDS and smoothed[best] >= self.params.threshold
                and (self._last_ms is None or stream_ms - self._last_ms >= self.params.suppression_ms)):
            detection = Detection(self.labels[best], smoothed[best], stream_ms, inference.index)
            self._last_ms = stream_ms
        return inference, detection


def check_kws_model(info, fe_params, labels: list[str], name: str = "the model") -> dict:
    """Refuse (one line) a model the KWS app cannot run; return its input and output quantization.

    The app needs one int8 input [1, frames, mel_bands, 1] for the front-end settings, and one int8
    softmax output [1, labels] quantized with scale 1/256 and zero point -128."""
    if getattr(fe_params, "kind", "logmel") != "logmel":
        raise expected("frontend.kind = \"logmel\" for the on-device keyword-spotting app",
                       repr(fe_params.kind), "The device computes the log-mel front end in C.")
    want_in = [1, fe_params.frames, fe_params.mel_bands, 1]
    if len(info.inputs) != 1 or len(info.outputs) != 1:
        raise expected("a KWS model with one input and one output",
                       f"{len(info.inputs)} input(s), {len(info.outputs)} output(s) in {name}")
    t_in, t_out = info.input_tensors()[0], info.output_tensors()[0]
    if t_in.dtype != "INT8" or list(t_in.shape) != want_in:
        raise expected(f"a KWS model input int8 {want_in} (frames x mel bands of the front end)",
                       f"{t_in.dtype.lower()} {list(t_in.shape)} in {name}",
                       "Train it with the same frontend settings, or pass them.")
    if t_out.dtype != "INT8" or list(t_out.shape) != [1, len(labels)]:
        raise expected(f"a KWS model output int8 [1, {len(labels)}] (one score per label)",
                       f"{t_out.dtype.lower()} {list(t_out.shape)} in {name}")
    s_in, z_in = _quantization(t_in)
    s_out, z_out = _quantization(t_out)
    if s_in is None or s_out is None or abs(s_out - OUTPUT_SCALE) > 1e-9 or z_out != OUTPUT_ZERO_POINT:
        raise expected("an int8 softmax output quantized with scale 1/256 and zero point -128",
                       f"scale {s_out}, zero point {z_out} in {name}",
                       "End the model with a softmax and quantize it with `tinyml quantize`.")
    return {"input_scale": s_in, "input_zero_point": z_in, "output_scale": s_out, "output_zero_point": z_out}


def _quantization(tensor) -> tuple[float | None, int | None]:
    """(scale, zero point) of a per-tensor quantized tensor; (None, None) otherwise."""
    if len(tensor.scales) != 1:
        return None, None
    return float(tensor.scales[0]), int(tensor.zero_points[0]) if tensor.zero_points else 0


def stream_params(cfg) -> StreamParams:
    """The [kws] section of a project's configuration."""
    return StreamParams(infer_every=cfg["kws.infer_every"], average=cfg["kws.average"],
                        threshold=cfg["kws.threshold"], suppression_ms=cfg["kws.suppression_ms"]).checked()


def project_stream_params(root) -> StreamParams:
    """[kws] of the project in `root` when it is a kws project; otherwise the defaults (and any
    TINYML_KWS_* variables): a KWS model can be generated or emulated from any folder."""
    cfg = config.load(root)
    if cfg["project.task"] != "kws":
        cfg = config.load(root, flags={"project.task": "kws"}, read_file=False)
    return stream_params(cfg)
