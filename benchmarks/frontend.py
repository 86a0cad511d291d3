"""The C log-mel front end (firmware/frontend/, compiled for the host) against librosa, on real speech.

    python benchmarks/frontend.py [WAV ...]

Without arguments: yes, no, noise and silence from ../shared/reference/micro_speech/
(16 kHz, 16-bit mono, 1 s). Per clip: the largest and mean |C - librosa| of the
log-mel features, how many of the model's int8 input bytes are identical
(scale 0.0627, zero point 92: the feature range [log(1e-6), 2.17] in 256 steps),
and the time per clip of each, measured in the same run (best of 20; the C side
includes one ctypes call per frame).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CLIPS = REPO.parent / "shared" / "reference" / "micro_speech"
SCALE, ZERO_POINT = 0.0627, 92


def main(argv: list[str]) -> int:
    from run import best_of  # benchmarks/run.py, beside this script

    from tinyml.codegen.frontend import HostFrontend
    from tinyml.evaluate.wav import read_wav
    from tinyml.train.frontend import FrontendParams, logmel, quantize_features

    wavs = [Path(a) for a in argv] or [CLIPS / f"{name}_1000ms.wav" for name in ("yes", "no", "noise", "silence")]
    missing = [str(p) for p in wavs if not p.is_file()]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)}")
    params = FrontendParams().checked()
    logmel(read_wav(wavs[0], params.sample_rate), params)  # librosa's first call compiles with numba: keep it out of the timing
    with tempfile.TemporaryDirectory() as tmp:
        host = HostFrontend(params, SCALE, ZERO_POINT, Path(tmp))
        print(f"front end: {params.sample_rate} Hz, window {params.window}, hop {params.hop}, FFT {params.fft_size}, "
              f"{params.mel_bands} mel bands; int8 scale {SCALE}, zero point {ZERO_POINT}\n")
        print("| clip | frames | max abs diff | mean abs diff | int8 identical | C ms/clip | librosa ms/clip "
              "| librosa/C |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for path in wavs:
            pcm = read_wav(path, params.sample_rate)
            want, got = logmel(pcm, params), host.features(pcm)
            diff = np.abs(got.astype(np.float64) - want)
            same = int(np.sum(host.quantized(pcm) == quantize_features(want, SCALE, ZERO_POINT)))
            c_s = best_of(lambda: host.features(pcm), repeat=20)
            librosa_s = best_of(lambda: logmel(pcm, params), repeat=20)
            print(f"| {path.name} | {len(want)} | {diff.max():.3g} | {diff.mean():.3g} | {same} / {want.size} | "
                  f"{c_s * 1e3:.3f} | {librosa_s * 1e3:.3f} | {librosa_s / c_s:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
