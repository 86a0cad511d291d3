"""Training-time augmentation of log-mel features (keyword spotting).

The built-in data is one synthesizer's voices; real speakers differ most in vocal tract length,
which moves every formant up or down in frequency together. `warp_mel` stretches each example's
mel axis by a random factor (vocal tract length perturbation done on the features), so the model
learns words rather than espeak-ng's formant positions. Measured on the four real Speech Commands
recordings in ../shared/reference: without it the DS-CNN called the real "yes" unknown; with it,
yes (see docs/kws.md).
"""

from __future__ import annotations

import math

import numpy as np

WARP_RANGE = (0.88, 1.12)


def warp_mel(x: np.ndarray, rng: np.random.Generator, low: float = WARP_RANGE[0],
             high: float = WARP_RANGE[1]) -> np.ndarray:
    """x [n, frames, bands, 1]: band b of the result reads band b / a of the input (linear
    interpolation, edges held), a drawn per example from [low, high]."""
    n, frames, bands = x.shape[:3]
    a = rng.uniform(low, high, size=n)
    src = np.clip(np.arange(bands)[None, :] / a[:, None], 0, bands - 1)  # [n, bands]
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, bands - 1)
    w = (src - lo).astype(np.float32)[:, None, :]
    flat = x[..., 0]
    take = lambda idx: np.take_along_axis(flat, np.broadcast_to(idx[:, None, :], (n, frames, bands)), axis=2)
    return ((1 - w) * take(lo) + w * take(hi))[..., None].astype(np.float32)


def augmented_batches(keras, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """A keras Sequence of shuffled batches, each warped afresh every epoch; seeded by (seed, epoch, batch)."""

    class Batches(keras.utils.Sequence):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.order = np.random.default_rng((seed, 0)).permutation(len(x))

        def __len__(self):
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, i):
            idx = self.order[i * batch_size:(i + 1) * batch_size]
            return warp_mel(x[idx], np.random.default_rng((seed, self.epoch, i))), y[idx]

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng((seed, self.epoch)).permutation(len(x))

    return Batches()
