"""The emulated streamer's signals, computed on the host: what every sample must be.

Mirrors firmware/emulator/streamer_main.c exactly (integer arithmetic with C's
wrap-around and truncating division), so a collection from the emulator can be
checked sample by sample.
"""

from __future__ import annotations

import numpy as np

# stream id -> (offsets, amplitudes, periods), per channel
SIGNALS = {
    1: ((120, -340, 8197, 15, -40, 7), (900, 700, 400, 2500, 1800, 3000), (119, 83, 238, 60, 97, 151)),
    2: ((0,), (9000,), (36,)),
    3: ((1800, -900, 3100), (300, 200, 150), (40, 55, 70)),
}
M32 = 0xFFFFFFFF


def _hash(n: np.ndarray, channel: int, stream: int) -> np.ndarray:
    n = n.astype(np.uint64)
    h = ((n * 73856093) & M32) ^ (((channel + 1) * 19349663) & M32) ^ ((stream * 83492791) & M32)
    h ^= h >> 13
    h = (h * 0x5BD1E995) & M32
    h ^= h >> 15
    return h


def expected(stream: int, count: int) -> np.ndarray:
    """The first `count` samples of a stream, int16 [count, channels]."""
    offsets, amplitudes, periods = SIGNALS[stream]
    n = np.arange(count, dtype=np.int64)
    out = np.empty((count, len(offsets)), dtype=np.int64)
    for c, (o, a, p) in enumerate(zip(offsets, amplitudes, periods)):
        t = n % p
        rising = 4 * a * t // p - a
        falling = 3 * a - 4 * a * t // p
        wave = np.where(2 * t < p, rising, falling)
        noise = (_hash(n, c, stream) & 63).astype(np.int64) - 32
        out[:, c] = o + wave + noise
    return out.astype(np.int16)
