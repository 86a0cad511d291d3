"""Built-in data: seeded, physically modelled 6-axis IMU gesture recordings.

Each recording is what the Nano 33 BLE Sense's IMU (accelerometer in g,
gyroscope in degrees per second, 119 Hz, the LSM9DS1's axes) would report while
a hand holding the board performs one gesture, captured the way the Arduino
GestureToEmoji sketch captures it.

How it is modelled (docs/gestures.md compares the result with real recordings):

- The motion is written in the forearm's frame (x along the forearm towards the
  fist, y to the left, z out of the back of the hand): a punch is a thrust along
  x and a pull back with a turn of the fist (or a jab), a flex a curl about
  the elbow (the board 0.04-0.3 m from the axis it turns about, so the
  centripetal and tangential accelerations follow from the rotation), a wave
  side-to-side swings of a raised forearm, a circle the fist drawing one circle.
- How the board sits in the hand is any of 8 grips (face up or down, turned by
  0, 90, 180 or 270 degrees) with 20 degrees of jitter, and the forearm starts
  at a random roll and a pitch typical of the gesture. The board's orientation is
  integrated from the angular velocity, so gravity turns inside the
  accelerometer reading as it does on a real board.
- The capture starts the way GestureToEmoji's does: at the first reading whose
  |ax| + |ay| + |az| reaches 2.5 g it records the next 119 readings. A
  recording keeps `LEAD` readings before those and `LAG` after, so the windows
  sliced from it (window.hop 15) see the gesture where a capture puts it and
  up to 0.25 s earlier or 0.13 s later, as continuous inference on the board
  does. A gesture too gentle to reach the threshold is captured from its start.
- The readings are in the LSM9DS1's axes, which form a left-handed frame for
  the accelerometer and gyroscope together (the real recordings show it; see
  docs/gestures.md): the physics is computed in a right-handed frame and its
  x axis reported as the sensor's -x.
- Speed, size, hand tremor, sensor bias and noise vary per recording; readings
  are rounded to the LSM9DS1's resolution and clipped at its +-4 g and
  +-2000 dps.

The ranges of speeds, sizes and timings were set from the statistics of the
real Nano 33 BLE Sense recordings in ../shared/reference/imu_gestures
(docs/gestures.md shows them side by side); those recordings are never
training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tinyml.collect.dataset import IMU_AXES, IMU_RANGE, IMU_UNITS, DatasetWriter
from tinyml.errors import expected
from tinyml.log import SILENT, Reporter

RATE_HZ = 119
DEFAULT_PER_CLASS = 600
ACCEL_LSB_G = 0.000122  # LSM9DS1 at +-4 g
GYRO_LSB_DPS = 0.070  # LSM9DS1 at +-2000 dps
ACCEL_RANGE_G, GYRO_RANGE_DPS = IMU_RANGE["g"], IMU_RANGE["dps"]
TRIGGER_G = 2.5  # GestureToEmoji: a capture starts when |ax| + |ay| + |az| reaches this
CAPTURE_ROWS = 119  # and records this many readings after the one that triggered it
LEAD = 30  # readings kept before the captured ones
LAG = 15  # and after them
SECONDS = (LEAD + CAPTURE_ROWS + LAG) / RATE_HZ  # a recording's length
G = 9.80665  # m/s2 per g
LSM9DS1_AXES = np.array([-1.0, 1.0, 1.0])  # a right-handed frame's axes as the LSM9DS1's x, y, z

# A motion: (time since it started in s [n], rng) -> (linear acceleration in g [n,3], angular velocity in
# dps [n,3]), both in the forearm's frame. Each draws its own speed and size from rng.
Motion = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _lobe(t: np.ndarray, start: float, duration: float, cycles: float = 0.5) -> np.ndarray:
    """sin(2 pi cycles u) for u = (t - start) / duration in [0, 1], else 0: half a cycle is one hump."""
    u = (t - start) / duration
    return np.where((u >= 0) & (u <= 1), np.sin(2 * np.pi * cycles * np.clip(u, 0, 1)), 0.0)


def _bell(t: np.ndarray, start: float, duration: float, peak_at: float = 0.5) -> np.ndarray:
    """The speed profile of a point-to-point movement of the arm, scaled to a peak of 1: minimum jerk
    (30 u^2 (1 - u)^2 for u = (t - start) / duration in [0, 1]) when the peak is half way, which starts
    and ends without a jolt; with the peak later, the rise is stretched and the stop is abrupt."""
    u = np.clip((t - start) / duration, 0.0, 1.0)
    half = np.where(u <= peak_at, 0.5 * u / peak_at, 0.5 + 0.5 * (u - peak_at) / (1.0 - peak_at))
    return 16.0 * half ** 2 * (1.0 - half) ** 2


def _bell_accel(t: np.ndarray, start: float, duration: float) -> np.ndarray:
    """The acceleration of that movement (speed up, then brake), scaled to peaks of +-1."""
    u = np.clip((t - start) / duration, 0.0, 1.0)
    return u * (1.0 - u) * (1.0 - 2.0 * u) * 2.0 / (np.sqrt(3.0) / 9.0)


def _about_elbow(omega_dps: np.ndarray, radius_m: float) -> np.ndarray:
    """Acceleration (g) of the fist `radius_m` along x from the elbow, for a rotation omega (dps, [n,3])."""
    w = np.radians(omega_dps)
    alpha = np.gradient(w, 1.0 / RATE_HZ, axis=0)
    r = np.array([radius_m, 0.0, 0.0])
    tangential = np.cross(alpha, r)
    centripetal = np.cross(w, np.cross(w, r))
    return (tangential + centripetal) / G


def _punch(t, rng):
    # Thrust the fist along the forearm and brake. A full punch then pulls back, the fist turning mostly
    # while it comes back; a jab stops with the arm out and barely turns.
    thrust = rng.uniform(0.1, 0.3)
    peak = rng.uniform(1.6, 3.8)
    acc = np.zeros((len(t), 3))
    acc[:, 0] = peak * _bell_accel(t, 0.0, thrust)
    acc[:, 1:] = rng.normal(0, 0.15 * peak, 2) * _bell_accel(t, 0.0, thrust)[:, None]
    axis = rng.normal(0.0, 1.0, 3) * np.array([1.0, 0.6, 1.0])
    axis /= np.linalg.norm(axis)
    if rng.random() < 0.4:  # a jab
        return acc, rng.uniform(0.0, 200.0) * _bell(t, 0.0, thrust + rng.uniform(0.0, 0.1))[:, None] * axis
    back_start = thrust + rng.uniform(0.0, 0.1)
    back = rng.uniform(0.4, 0.7)
    acc[:, 0] -= rng.uniform(0.25, 0.6) * peak * _bell_accel(t, back_start, back)
    rate = rng.uniform(400.0, 900.0)
    turn = rng.uniform(0.1, 0.5) * _bell(t, 0.0, thrust) - _bell(t, back_start * rng.uniform(0.5, 1.0), back + 0.1)
    return acc, rate * turn[:, None] * axis


def _flex(t, rng):
    # Curl the forearm up about the elbow (-y lifts the fist), fast, stopping short at the top; then let
    # it down more slowly through the same angle.
    up = rng.uniform(0.2, 0.45)
    up_rate, down_rate = rng.uniform(450.0, 800.0), rng.uniform(200.0, 420.0)
    down = up_rate * up / down_rate  # the same area under both bells: the same angle
    curl = -up_rate * _bell(t, 0.0, up, rng.uniform(0.6, 0.92)) + down_rate * _bell(t, up, down)
    gyr = np.zeros((len(t), 3))
    gyr[:, 1] = curl
    gyr[:, [0, 2]] = rng.normal(0, 0.12, 2) * curl[:, None]
    return _about_elbow(gyr, rng.uniform(0.04, 0.3)), gyr


def _wave(t, rng):
    # A raised forearm swings the hand side to side two or three times: rotation about z.
    duration = rng.uniform(0.8, 1.4)
    cycles = rng.uniform(1.5, 3.0)
    rate = rng.uniform(150.0, 450.0)
    envelope = _lobe(t, 0.0, duration) ** 0.5
    gyr = np.zeros((len(t), 3))
    gyr[:, 2] = rate * envelope * _lobe(t, 0.0, duration, cycles)
    gyr[:, 0] = rng.normal(0, 0.15 * rate) * envelope * _lobe(t, 0.0, duration, cycles)
    return _about_elbow(gyr, rng.uniform(0.25, 0.4)), gyr


def _circle(t, rng):
    # The fist draws one circle in a plane across the forearm; the wrist turns a little with it.
    period = rng.uniform(0.7, 1.3)
    radius = rng.uniform(0.1, 0.25)
    direction = rng.choice([-1.0, 1.0])
    phase = 2 * np.pi * np.clip(t / period, 0, 1)
    inside = (t >= 0) & (t <= period)
    envelope = np.where(inside, np.sin(np.pi * np.clip(t / period, 0, 1)) ** 0.5, 0.0)
    centripetal = radius * (2 * np.pi / period) ** 2 / G * envelope
    acc = np.zeros((len(t), 3))
    acc[:, 1] = -centripetal * np.cos(phase)
    acc[:, 2] = -centripetal * direction * np.sin(phase)
    gyr = np.zeros((len(t), 3))
    gyr[:, 0] = direction * rng.uniform(20.0, 150.0) * envelope
    gyr[:, 1:] = rng.normal(0, 40.0, 2) * (envelope * np.sin(phase))[:, None]
    return acc, gyr


@dataclass(frozen=True)
class Gesture:
    name: str
    motion: Motion | None  # None: idle
    pitch_deg: tuple[float, float]  # the forearm's elevation when the gesture starts (0: horizontal)
    roll_deg: float = 100.0  # how far the forearm's frame may turn about the forearm (the grip turns the board)


GESTURES: tuple[Gesture, ...] = (
    Gesture("idle", None, (-70.0, 40.0)),
    Gesture("punch", _punch, (-25.0, 25.0)),
    Gesture("flex", _flex, (-70.0, 0.0), 15.0),  # the elbow is a hinge: y stays horizontal
    Gesture("wave", _wave, (40.0, 90.0)),
    Gesture("circle", _circle, (-20.0, 30.0)),
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


def _grip(rng: np.random.Generator) -> np.ndarray:
    """Board axes -> forearm axes: face up or down, turned by a multiple of 90 degrees, plus jitter."""
    turn = _rotation(np.array([0.0, 0.0, np.pi / 2 * rng.integers(4)]))
    face = _rotation(np.array([np.pi, 0.0, 0.0])) if rng.random() < 0.5 else np.eye(3)
    return face @ turn @ _rotation(rng.normal(0.0, np.radians(20.0), size=3))


def _read(accel: np.ndarray, gyro: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What the sensor reports: tremor, bias and noise added, clipped to its range, on its LSB grid."""
    n = len(accel)
    t = np.arange(n) / RATE_HZ
    f = rng.uniform(8.0, 12.0)  # physiological tremor
    tremor = 0.01 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))[:, None] * rng.normal(0, 1, 3)
    accel = accel + tremor + rng.normal(0, 0.015, size=3) + rng.normal(0, 0.008, size=(n, 3))
    gyro = gyro + rng.normal(0, 2.0, size=3) + rng.normal(0, 0.5, size=(n, 3))
    accel = np.round(np.clip(accel, -ACCEL_RANGE_G, ACCEL_RANGE_G) / ACCEL_LSB_G) * ACCEL_LSB_G
    gyro = np.round(np.clip(gyro, -GYRO_RANGE_DPS, GYRO_RANGE_DPS) / GYRO_LSB_DPS) * GYRO_LSB_DPS
    return np.concatenate([accel, gyro], axis=1)


def trigger_row(signal: np.ndarray, threshold_g: float = TRIGGER_G) -> int | None:
    """The first reading whose |ax| + |ay| + |az| reaches the threshold (GestureToEmoji's trigger), or None."""
    hits = np.nonzero(np.abs(signal[:, :3]).sum(axis=1) >= threshold_g)[0]
    return int(hits[0]) if len(hits) else None


def handedness(signals: list[np.ndarray], rate: int = RATE_HZ) -> tuple[int, int]:
    """How many recordings [samples, 6] (g, dps) follow the left-handed rule better, and how many the
    right-handed one, while the board turns slowly (over 60 dps with the acceleration within 0.12 g of
    1 g): the gravity read changes as d(a)/dt = +w x a in a left-handed accelerometer/gyroscope frame and
    as -w x a in a right-handed one. Recordings with fewer than 5 such readings count for neither."""
    left = right = 0
    for signal in signals:
        a, w = signal[:, :3].astype(np.float64), np.radians(signal[:, 3:6].astype(np.float64))
        da = np.gradient(a, 1 / rate, axis=0)
        slow = (np.linalg.norm(w, axis=1) > np.radians(60)) & (np.abs(np.linalg.norm(a, axis=1) - 1) < 0.12)
        if slow.sum() < 5:
            continue
        turn = np.cross(w[slow], a[slow])
        err_left = np.linalg.norm(da[slow] - turn, axis=1).mean()
        err_right = np.linalg.norm(da[slow] + turn, axis=1).mean()
        left += err_left < err_right
        right += err_right <= err_left
    return left, right


def recording(gesture: Gesture, rng: np.random.Generator, seconds: float = SECONDS,
              rate: int = RATE_HZ) -> np.ndarray:
    """One recording [samples, 6]: ax, ay, az in g; gx, gy, gz in dps. With a motion, the recording holds
    `LEAD` readings before the ones a GestureToEmoji capture records (it starts after the first reading
    that reaches `TRIGGER_G`), then those, then what `seconds` leaves (`LAG` by default)."""
    if rate != RATE_HZ:
        raise ValueError(f"the built-in gestures are modelled at {RATE_HZ} Hz, not {rate}")
    n = int(round(seconds * rate))
    lead = min(LEAD, max(0, n - CAPTURE_ROWS))
    start = int(round(rng.uniform(0.4, 0.6) * rate)) + lead  # the motion, after a moment at rest
    total = start + 2 * n
    t = np.arange(total) / rate
    omega = _smooth_noise(rng, total, 1.5, 12)  # slow wobble of a hand at rest, dps
    lin = _smooth_noise(rng, total, 0.004, 12)
    if gesture.motion is None:
        # At rest the hand still fidgets now and then: a slow, small, random movement.
        if rng.random() < 0.5:
            omega += _smooth_noise(rng, total, rng.uniform(3.0, 12.0), 30)
            lin += _smooth_noise(rng, total, rng.uniform(0.01, 0.04), 30)
    else:
        acc, gyr = gesture.motion(t - t[start], rng)
    grip_f = _grip(rng)  # board -> forearm
    if gesture.motion is not None:  # the motion is in the forearm's frame; the board reads it in its own
        lin += acc @ grip_f
        omega += gyr @ grip_f
    # The forearm's pose when the gesture starts: its elevation for this gesture, any roll.
    pitch = np.radians(rng.uniform(*gesture.pitch_deg))
    roll = np.radians(rng.uniform(-gesture.roll_deg, gesture.roll_deg))
    pose = _rotation(np.array([0.0, 0.0, rng.uniform(-np.pi, np.pi)])) @ _rotation(np.array([0.0, -pitch, 0.0])) \
        @ _rotation(np.array([roll, 0.0, 0.0]))
    orientation = pose @ grip_f  # board -> world
    up_world = np.array([0.0, 0.0, 1.0])
    accel = np.empty((total, 3))
    for i in range(total):
        accel[i] = lin[i] + orientation.T @ up_world  # specific force in the board frame, g
        orientation = orientation @ _rotation(np.radians(omega[i]) / rate)
    # The LSM9DS1 reports its accelerometer and gyroscope in a left-handed frame (the real recordings show
    # it: docs/gestures.md): the physics above is right-handed, so its x axis is the sensor's -x.
    signal = _read(accel * LSM9DS1_AXES, omega * LSM9DS1_AXES, rng)
    if gesture.motion is None:
        first = start
    else:
        hit = trigger_row(signal[start:start + n])
        first = start + (hit + 1 if hit is not None else 0)  # the readings after the one that triggered
    return signal[first - lead:first - lead + n].astype(np.float32)


def split_for(index: int, count: int) -> str:
    """Stratified split by position: 70 % train, 15 % val, 15 % test of each class."""
    test = max(1, round(0.15 * count))
    val = max(1, round(0.15 * count))
    if index < count - test - val:
        return "train"
    return "val" if index < count - test else "test"


def write_gestures(root: str | Path, *, per_class: int = DEFAULT_PER_CLASS, seed: int = 1234,
                   labels: tuple[str, ...] = GESTURE_NAMES, seconds: float = SECONDS,
                   reporter: Reporter = SILENT) -> Path:
    """Write the built-in gesture dataset to `root` (must not hold a dataset yet)."""
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
