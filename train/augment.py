"""Training-time augmentation: log-mel features (keyword spotting) and IMU windows (gestures).

The built-in data is one synthesizer's voices; real speakers differ most in vocal tract length,
which moves every formant up or down in frequency together. `warp_mel` stretches each example's
mel axis by a random factor (vocal tract length perturbation done on the features), so the model
learns words rather than espeak-ng's formant positions. Measured on the four real Speech Commands
recordings in ../shared/reference: without it the DS-CNN called the real "yes" unknown; with it,
yes (see docs/kws.md).

Nobody holds the board the way the built-in data does. `rotate_imu` turns each IMU window by a random
rotation (uniform over all orientations), accelerometer and gyroscope together, which is the same
gesture made with the board in another grip; readings are clipped to the sensor's range again.
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


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """n rotation matrices [n, 3, 3], uniform over all orientations (normalized Gaussian quaternions)."""
    q = rng.normal(size=(n, 4))
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=1),
    ], axis=1)


def rotate_imu(x: np.ndarray, rng: np.random.Generator, limits: np.ndarray) -> np.ndarray:
    """x [n, size, 1, 6] (ax, ay, az, gx, gy, gz, each divided by its full scale): each window turned by
    its own random rotation, then clipped to +-limits [6] (the sensor's range in the same units)."""
    r = random_rotations(len(x), rng).astype(np.float32)
    accel = np.einsum("nsij,nkj->nsik", x[..., :3], r)
    gyro = np.einsum("nsij,nkj->nsik", x[..., 3:], r)
    return np.clip(np.concatenate([accel, gyro], axis=-1), -limits, limits).astype(np.float32)


def augmented_batches(keras, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, augment=None):
    """A keras Sequence of shuffled batches, each augmented afresh every epoch by `augment(x, rng)`
    (default: `warp_mel`); seeded by (seed, epoch, batch)."""
    augment = augment or warp_mel

    class Batches(keras.utils.Sequence):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.order = np.random.default_rng((seed, 0)).permutation(len(x))

        def __len__(self):
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, i):
            idx = self.order[i * batch_size:(i + 1) * batch_size]
            return augment(x[idx], np.random.default_rng((seed, self.epoch, i))), y[idx]

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng((seed, self.epoch)).permutation(len(x))

    return Batches()
