"""Built-in data: seeded, physically modelled 6-axis IMU gesture recordings.

Each recording is what the Nano 33 BLE Sense's IMU (accelerometer in g,
gyroscope in degrees per second, 119 Hz) would report while a hand holding the
board performs one gesture. The motion is described in the board's frame as a
linear acceleration and an angular velocity; the board's orientation is
integrated from the angular velocity, so gravity turns inside the accelerometer
reading the way it does on a real board. Every recording varies the speed,
amplitude, start time, how the board is held (orientation), the sensor bias,
hand tremor and sensor noise. Readings are rounded to the LSM9DS1's resolution
at +-4 g and +-2000 dps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tinyml.collect.dataset import IMU_AXES, IMU_UNITS, DatasetWriter
from tinyml.log import SILENT, Reporter

RATE_HZ = 119
DEFAULT_PER_CLASS = 100
ACCEL_LSB_G = 0.000122  # LSM9DS1 at +-4 g
GYRO_LSB_DPS = 0.070  # LSM9DS1 at +-2000 dps

# gesture -> (base duration in seconds, motion(t in [0, 1], amplitude) -> (accel g [n,3], gyro dps [n,3]))
Motion = Callable[[np.ndarray, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _hann(u: np.ndarray) -> np.ndarray:
    return np.sin(np.pi * np.clip(u, 0.0, 1.0)) ** 2


def _punch(u, a, rng):
    # Thrust forward along +x then brake: one positive and one negative lobe.
    acc = np.zeros((len(u), 3))
    gyr = np.zeros((len(u), 3))
    acc[:, 0] = 2.6 * a * np.sin(2 * np.pi * u) * _hann(u) ** 0.5
    acc[:, 2] = 0.25 * a * np.sin(np.pi * u) * rng.uniform(-1, 1)
    gyr[:, 1] = 40.0 * a * np.sin(2 * np.pi * u) * rng.uniform(-1, 1)
    return acc, gyr


def _flex(u, a, rng):
    # Curl the forearm up and back down: rotation about y, centripetal pull along z.
    acc = np.zeros((len(u), 3))
    gyr = np.zeros((len(u), 3))
    gyr[:, 1] = 320.0 * a * np.sin(2 * np.pi * u)
    acc[:, 2] = 0.6 * a * np.sin(2 * np.pi * u) ** 2
    acc[:, 0] = 0.4 * a * np.sin(2 * np.pi * u)
    return acc, gyr


def _wave(u, a, rng):
    # Two side-to-side swings: yaw about z with lateral acceleration along y.
    acc = np.zeros((len(u), 3))
    gyr = np.zeros((len(u), 3))
    env = _hann(u)
    gyr[:, 2] = 220.0 * a * np.sin(4 * np.pi * u) * env
    acc[:, 1] = 1.1 * a * np.cos(4 * np.pi * u) * env
    gyr[:, 0] = 30.0 * a * np.sin(4 * np.pi * u + rng.uniform(0, np.pi)) * env
    return acc, gyr


def _circle(u, a, rng):
    # One circle in the board's x-y plane: a rotating acceleration vector.
    acc = np.zeros((len(u), 3))
    gyr = np.zeros((len(u), 3))
    env = _hann(u)
    direction = rng.choice([-1.0, 1.0])
    acc[:, 0] = 1.3 * a * np.cos(2 * np.pi * u) * env
    acc[:, 1] = 1.3 * a * direction * np.sin(2 * np.pi * u) * env
    gyr[:, 2] = 60.0 * a * direction * env
    return acc, gyr


@dataclass(frozen=True)
class Gesture:
    name: str
    duration_s: float
    motion: Motion | None  # None: idle


GESTURES: tuple[Gesture, ...] = (
    Gesture("idle", 0.0, None),
    Gesture("punch", 0.38, _punch),
    Gesture("flex", 0.55, _flex),
    Gesture("wave", 0.60, _wave),
    Gesture("circle", 0.60, _circle),
)
GESTURE_NAMES = tuple(g.name for g in GESTURES)


def _rotation(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues: the rotation matrix for a rotation vector (radians)."""
    theta = float(np.linalg.norm(axis_angle))
    if theta < 1e-12:
        return np.eye(3)
    k = axis_angle / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * (K @ K)


def _smooth_noise(rng: np.random.Generator, n: int, scale: float, cutoff_samples: int) -> np.ndarray:
    """Low-frequency noise: white noise smoothed by a moving average."""
    white = rng.normal(0.0, 1.0, size=(n + cutoff_samples, 3))
    kernel = np.ones(cutoff_samples) / cutoff_samples
    smooth = np.stack([np.convolve(white[:, i], kernel, mode="valid")[:n] for i in range(3)], axis=1)
    return scale * smooth * np.sqrt(cutoff_samples)


def recording(gesture: Gesture, rng: np.random.Generator, seconds: float = 1.25,
              rate: int = RATE_HZ) -> np.ndarray:
    """One recording [samples, 6]: ax, ay, az in g; gx, gy, gz in dps."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    lin = np.zeros((n, 3))
    omega = _smooth_noise(rng, n, 1.5, 12)  # slow wobble of a hand at rest, dps
    lin += _smooth_noise(rng, n, 0.004, 12)
    if gesture.motion is None:
        # At rest the hand still fidgets now and then: a slow, small, random movement.
        if rng.random() < 0.5:
            omega += _smooth_noise(rng, n, rng.uniform(3.0, 12.0), 30)
            lin += _smooth_noise(rng, n, rng.uniform(0.01, 0.04), 30)
    else:
        speed = rng.uniform(0.75, 1.3)
        amplitude = rng.uniform(0.45, 1.4)
        duration = gesture.duration_s / speed
        earliest, latest = 0.22 * seconds, 0.8 * seconds - duration
        start = rng.uniform(earliest, max(earliest, latest))
        u = (t - start) / duration
        inside = (u >= 0) & (u <= 1)
        acc, gyr = gesture.motion(u[inside], amplitude, rng)
        lin[inside] += acc
        omega[inside] += gyr
    # How the user holds the board: the gesture's axes are turned by ~15 degrees (1 sigma).
    grip = _rotation(rng.normal(0.0, np.radians(15.0), size=3))
    lin, omega = lin @ grip.T, omega @ grip.T
    # Board orientation: a random initial tilt, then integrate the angular velocity.
    tilt = _rotation(np.array([rng.normal(0, np.radians(20)), rng.normal(0, np.radians(20)), 0.0]))
    orientation = tilt
    up_world = np.array([0.0, 0.0, 1.0])
    accel = np.empty((n, 3))
    for i in range(n):
        accel[i] = lin[i] + orientation.T @ up_world  # specific force in the board frame, g
        orientation = orientation @ _rotation(np.radians(omega[i]) / rate)
    # Physiological tremor (8-12 Hz), bias and white noise.
    f = rng.uniform(8.0, 12.0)
    tremor = 0.01 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))[:, None] * rng.normal(0, 1, 3)
    accel += tremor + rng.normal(0, 0.015, size=3) + rng.normal(0, 0.008, size=(n, 3))
    gyro = omega + rng.normal(0, 2.0, size=3) + rng.normal(0, 0.5, size=(n, 3))
    accel = np.round(np.clip(accel, -4, 4) / ACCEL_LSB_G) * ACCEL_LSB_G
    gyro = np.round(np.clip(gyro, -2000, 2000) / GYRO_LSB_DPS) * GYRO_LSB_DPS
    return np.concatenate([accel, gyro], axis=1).astype(np.float32)


def split_for(index: int, count: int) -> str:
    """Stratified split by position: 70 % train, 15 % val, 15 % test of each class."""
    test = max(1, round(0.15 * count))
    val = max(1, round(0.15 * count))
    if index < count - test - val:
        return "train"
    return "val" if index < count - test else "test"


def write_gestures(root: str | Path, *, per_class: int = DEFAULT_PER_CLASS, seed: int = 1234,
                   labels: tuple[str, ...] = GESTURE_NAMES, seconds: float = 1.25,
                   reporter: Reporter = SILENT) -> Path:
    """Write the built-in gesture dataset to `root` (must not hold a dataset yet)."""
    from tinyml.errors import expected

    by_name = {g.name: g for g in GESTURES}
    unknown = [name for name in labels if name not in by_name]
    if unknown:
        raise expected(f"built-in gestures from {{{', '.join(GESTURE_NAMES)}}}", ", ".join(unknown))
    if per_class < 3:
        raise expected("at least 3 recordings per class (train, val and test need one each)", per_class)
    root = Path(root)
    if (root / "manifest.json").exists():
        raise expected(f"an empty folder for the built-in dataset", f"'{root}' already holds a dataset",
                       "Choose another folder or delete it.")
    writer = DatasetWriter(root, manifest_every=250)
    total = per_class * len(labels)
    done = 0
    for class_index, name in enumerate(labels):
        gesture = by_name[name]
        for i in range(per_class):
            rng = np.random.default_rng([seed, GESTURE_NAMES.index(name), i])
            signal = recording(gesture, rng, seconds=seconds)
            writer.add(name=f"{name}-{i:04d}", label=name, split=split_for(i, per_class), sensor="imu",
                       sample_rate=RATE_HZ, signal=signal, axes=IMU_AXES, units=IMU_UNITS)
            done += 1
            reporter.progress("generating", done, total)
    writer.flush()
    return root
