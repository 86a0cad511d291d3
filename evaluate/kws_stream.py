"""Keyword spotting on a stream: the host reference of what the device app does, through librosa's
log-mel, the TFLM interpreter and the detector (tinyml/detector.py, which states the definition both
follow).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyml.detector import Detector, StreamParams, check_kws_model, time_ms
from tinyml.log import SILENT
from tinyml.quantize import flatbuffer
from tinyml.quantize.tflm import Runner
from tinyml.train.frontend import logmel, normalized, quantize_features

LEAD_MS, TAIL_MS = 500, 1000  # zeros streamed before and after a recording (pad_for_stream)


def pad_for_stream(pcm: np.ndarray, fe_params, lead_ms: int = LEAD_MS, tail_ms: int = TAIL_MS) -> np.ndarray:
    """What is streamed for one recording: `lead_ms` of zeros, the recording, `tail_ms` of zeros.

    With a 1 s clip and 1 s model windows the word passes through whole windows, and the
    tail lets the smoothed scores fall back before the stream ends."""
    pcm = np.asarray(pcm, dtype=np.int16).reshape(-1)
    lead = np.zeros(fe_params.sample_rate * lead_ms // 1000, dtype=np.int16)
    tail = np.zeros(fe_params.sample_rate * tail_ms // 1000, dtype=np.int16)
    return np.concatenate([lead, pcm, tail])


def stream_logmel(pcm: np.ndarray, fe_params) -> tuple[np.ndarray, np.ndarray]:
    """(float32 log-mel of hops 1..K, the log-mel of an all-zero frame) for a stream.

    Row k-1 is the frame the device computes after its k-th hop: the last fft_size samples,
    zeros before the stream started."""
    pcm = np.asarray(pcm, dtype=np.int16).reshape(-1)
    hop, n_fft = fe_params.hop, fe_params.fft_size
    hops = len(pcm) // hop
    if hop <= n_fft:
        padded = np.concatenate([np.zeros(n_fft - hop, dtype=np.int16), pcm])
    else:  # only the last fft_size samples of each hop are ever read
        padded = pcm[hop - n_fft:]
    silent = logmel(np.zeros(n_fft, dtype=np.int16), fe_params)[0]
    if hops == 0:
        return np.zeros((0, fe_params.mel_bands), dtype=np.float32), silent
    # librosa frames [t*hop, t*hop + n_fft) of `padded`: exactly `hops` of them in this length
    return logmel(padded[:n_fft + (hops - 1) * hop], fe_params), silent


def window_input(frames: np.ndarray, fe_params, scale: float, zero_point: int) -> np.ndarray:
    """The model's int8 input for a window of float log-mel frames (oldest first), as the device builds it
    at each inference: normalized (frontend.normalize), then quantized."""
    return quantize_features(normalized(frames, fe_params), scale, zero_point)


def stream_host(pcm: np.ndarray, model_bytes: bytes, labels: list[str], fe_params,
                stream_params: StreamParams | None = None, reporter=SILENT) -> dict:
    """Stream `pcm` through librosa's log-mel, the TFLM interpreter and the detector.

    Returns {"hops": K, "inferences": [Inference], "detections": [Detection]}."""

    stream_params = (stream_params or StreamParams()).checked()
    quant = check_kws_model(flatbuffer.parse(model_bytes, Path("model.tflite")), fe_params, list(labels))
    scale, zero = quant["input_scale"], quant["input_zero_point"]
    runner = Runner(model_bytes)
    feats, silent = stream_logmel(pcm, fe_params)
    frames = fe_params.frames
    rows = np.concatenate([np.repeat(silent[None, :], frames, axis=0), feats])
    detector = Detector(list(labels), stream_params)
    inferences, detections = [], []
    every = range(stream_params.infer_every, len(feats) + 1, stream_params.infer_every)
    for n, k in enumerate(every, 1):
        scores = runner.invoke(window_input(rows[k:k + frames], fe_params, scale, zero)).reshape(-1)
        if n % 100 == 0 or n == len(every):
            reporter.progress("inferences", n, len(every))
        inference, detection = detector.update(k, time_ms(k, fe_params.hop, fe_params.sample_rate), scores)
        inferences.append(inference)
        if detection:
            detections.append(detection)
    return {"hops": len(feats), "inferences": inferences, "detections": detections}
