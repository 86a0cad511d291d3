"""Host-side throughput of the streaming protocol, and its overhead.

    python benchmarks/collect_throughput.py [SECONDS]

Builds the byte stream the firmware sends for SECONDS (default 60) of 16 kHz audio
and 119 Hz IMU together (frames as the firmware makes them: 256 audio samples,
8 IMU samples), then times the host's whole receive path on it in 4 KiB reads
(COBS decode, CRC check, sequence tracking, samples to NumPy) against a baseline
measured in the same run: splitting the same bytes at the delimiters and
CRC-ing each piece, the least any framed reader must do.
"""

from __future__ import annotations

import sys
import time
import zlib

import numpy as np

from tinyml.collect import frames as fr

MIC_RATE, IMU_RATE, MIC_FRAME, IMU_FRAME = 16000, 119, 256, 8


def wire(seconds: float) -> tuple[bytes, int, int]:
    rng = np.random.default_rng(0)
    out = []
    mic_frames, imu_frames = int(seconds * MIC_RATE / MIC_FRAME), int(seconds * IMU_RATE / IMU_FRAME)
    events = sorted([(i * MIC_FRAME / MIC_RATE, fr.MIC, i) for i in range(mic_frames)] +
                    [(i * IMU_FRAME / IMU_RATE, fr.IMU, i) for i in range(imu_frames)])
    for t, stream, seq in events:
        samples, channels = (MIC_FRAME, 1) if stream == fr.MIC else (IMU_FRAME, 6)
        payload = rng.integers(-32768, 32768, samples * channels, dtype=np.int64).astype("<i2").tobytes()
        out.append(fr.encode(fr.Frame(fr.DATA, stream, fr.FORMAT_INT16, seq, int(t * 1e6), samples, channels,
                                      payload)))
    return b"".join(out), mic_frames * MIC_FRAME, imu_frames * IMU_FRAME


def receive(data: bytes) -> int:
    parser = fr.FrameParser()
    trackers = {fr.MIC: fr.SequenceTracker(), fr.IMU: fr.SequenceTracker()}
    samples = 0
    for i in range(0, len(data), 4096):
        for frame in parser.feed(data[i:i + 4096]):
            if trackers[frame.stream].accept(frame.sequence):
                samples += frame.values().shape[0]
    assert parser.corrupted == 0
    return samples


def baseline(data: bytes) -> int:
    n = 0
    for chunk in data.split(b"\x00"):
        n += zlib.crc32(chunk) & 1
    return n


def best(fn, data, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str]) -> int:
    seconds = float(argv[0]) if argv else 60.0
    data, mic_samples, imu_samples = wire(seconds)
    assert receive(data) == mic_samples + imu_samples
    t_recv, t_base = best(receive, data), best(baseline, data)
    real_bytes_per_s = MIC_RATE * 2 + IMU_RATE * 6 * 2
    wire_bytes_per_s = len(data) / seconds
    mic_frame = len(fr.encode(fr.Frame(fr.DATA, fr.MIC, 1, 0, 0, MIC_FRAME, 1, bytes(2 * MIC_FRAME))))
    imu_frame = len(fr.encode(fr.Frame(fr.DATA, fr.IMU, 1, 0, 0, IMU_FRAME, 6, bytes(12 * IMU_FRAME))))
    print(f"stream: {seconds:g} s of 16 kHz audio + 119 Hz IMU = {len(data):,} bytes on the wire "
          f"({wire_bytes_per_s / 1024:.1f} KiB/s; the samples alone are {real_bytes_per_s / 1024:.1f} KiB/s)")
    print(f"host receive path:   {len(data) / t_recv / 1e6:8.2f} MB/s = {seconds / t_recv:,.0f}x real time "
          f"(goal: 20x)")
    print(f"baseline (split+CRC): {len(data) / t_base / 1e6:7.2f} MB/s; receive / baseline time: {t_recv / t_base:.2f}")
    print(f"overhead: audio {mic_frame - 2 * MIC_FRAME} B per {MIC_FRAME}-sample frame = "
          f"{(mic_frame - 2 * MIC_FRAME) / MIC_FRAME:.3f} B/sample ({100 * (mic_frame / (2 * MIC_FRAME) - 1):.1f}%); "
          f"IMU {imu_frame - 12 * IMU_FRAME} B per {IMU_FRAME}-sample frame = "
          f"{(imu_frame - 12 * IMU_FRAME) / IMU_FRAME:.2f} B per 6-axis sample "
          f"({100 * (imu_frame / (12 * IMU_FRAME) - 1):.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
