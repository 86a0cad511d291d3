"""One `tinyml collect` session: open the source, make the recordings, write each as it completes."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

from tinyml.collect.dataset import IMU_AXES, IMU_UNITS, DatasetWriter
from tinyml.collect.lines import LineReader
from tinyml.collect.stream import Capture, LinkLost, Streamer, stream_for
from tinyml.errors import BadInput, TinymlError
from tinyml.link import find_board_port, open_link

EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def open_source(args):
    """Yield an open pyserial port: --emulate, --port, or the board found by its USB IDs."""
    with contextlib.ExitStack() as stack:
        if args.emulate:
            from tinyml.collect.emulated import emulated_streamer

            url = stack.enter_context(emulated_streamer())
        else:
            url = args.port or find_board_port()
        port = open_link(url, 0.2, "Check the cable and the port name, or use --emulate.")
        stack.callback(port.close)
        yield port


def _signal(capture: Capture) -> np.ndarray:
    if capture.stream.name == "mic":
        return capture.values[:, 0].astype(np.float64) / 32768.0
    return capture.values.astype(np.float64) * np.asarray(capture.stream.scale)


def collect(args, out: Path, reporter, port=None) -> int:
    """Record `args.count` recordings. `port`: an already open pyserial-like port (else from args)."""
    done: list[str] = []
    partial = None
    streamer = info = None
    try:
        with (contextlib.nullcontext(port) if port is not None else open_source(args)) as port:
            writer = DatasetWriter(out)  # only once the source is open: a bad port leaves no folder behind
            if args.format == "lines":
                return _collect_lines(args, port, writer, reporter, done)
            streamer = Streamer(port, timeout_s=args.timeout)
            streams = streamer.hello()
            info = stream_for(streams, args.sensor)
            streamer.quiesce(streams.values())
            reporter.info(f"device: {streamer.info.get('board')} ({streamer.info.get('imu')} IMU), "
                          f"{args.sensor} at {info.rate_hz} Hz x {info.channels} channel(s)")
            writer.check_compatible(args.sensor, info.rate_hz, tuple(info.axes))
            wanted = int(round(args.seconds * info.rate_hz))
            if wanted < 1:
                raise BadInput(f"Expected --seconds of at least one sample ({1 / info.rate_hz:g} s at "
                               f"{info.rate_hz} Hz). Received: {args.seconds:g}.")
            for _ in range(args.count):
                name = writer.next_name(args.label)
                partial = (name, wanted)
                capture = streamer.record(info, wanted, lambda d, t, extra: reporter.progress(name, d, t, extra))
                partial = None
                quality = capture.quality()
                if not capture.lossless:
                    reporter.info(f"{name}: {capture.lost} frame(s) lost ({capture.corrupted} corrupted), "
                                  f"{capture.samples_missing} sample(s) missing")
                    if args.strict:
                        raise TinymlError(f"Expected a lossless recording (--strict). Received: {name} with "
                                          f"{capture.lost} lost frame(s); it was not written.")
                keep = capture.present if args.sensor != "mic" else np.ones(wanted, dtype=bool)
                rec = writer.add(name=name, label=args.label, split=args.split, sensor=args.sensor,
                                 sample_rate=info.rate_hz, signal=_signal(capture)[keep],
                                 timestamps_us=capture.timestamps_us[keep] - capture.timestamps_us[0],
                                 axes=tuple(info.axes), units=tuple(info.units), quality=quality)
                done.append(rec.file)
                print(rec.file)
    except KeyboardInterrupt:
        if streamer is not None and info is not None:
            streamer.stop(info)
        _report_stop("interrupted", done, partial, out)
        return EXIT_INTERRUPTED
    except LinkLost as exc:
        _report_stop(str(exc), done, partial, out)
        return 1
    reporter.info(f"{len(done)} recording(s) written to {out}")
    return 0


def _report_stop(why: str, done: list[str], partial, out: Path) -> None:
    """Always printed (also with --quiet): the user must know what was kept."""
    kept = f"kept {len(done)} completed recording(s) in {out}"
    lost = f"; the recording in progress ({partial[0]}, {partial[1]} samples wanted) was not written" if partial else ""
    print(f"tinyml collect: error: {why.rstrip('.')}; {kept}{lost}.", file=sys.stderr)


def _collect_lines(args, port, writer: DatasetWriter, reporter, done: list[str]) -> int:
    reader = LineReader(port, timeout_s=args.timeout)
    for _ in range(args.count):
        name = writer.next_name(args.label)
        if args.rate is None:  # measured once, before the first recording
            reporter.info("measuring the sample rate over 2 s (pass --rate to set it)")
            measured = reader.measure_rate()
            args.rate = max(1, round(measured))
            reporter.info(f"measured {measured:.1f} lines/s: recording at {args.rate} Hz")
        rate = args.rate
        wanted = int(round(args.seconds * rate))
        if wanted < 1:
            raise BadInput(f"Expected --seconds of at least one sample at {rate} Hz. Received: {args.seconds:g}.")
        cap = reader.capture(wanted, rate, lambda d, t, extra: reporter.progress(name, d, t, extra))
        channels = cap.values.shape[1]
        if args.sensor == "mic":
            if channels != 1:
                raise BadInput(f"Expected one value per line for --sensor mic. Received: {channels}.")
            signal, axes, units = cap.values[:, :1] / 32768.0, ("pcm",), ("fs",)
        elif args.sensor == "mag" and channels == 3:
            signal, axes, units = cap.values, ("mx", "my", "mz"), ("gauss",) * 3
        elif channels == 6:
            signal, axes, units = cap.values, IMU_AXES, IMU_UNITS
        elif channels == 3:
            signal, axes, units = cap.values, IMU_AXES[:3], IMU_UNITS[:3]
        else:
            signal = cap.values
            axes, units = tuple(f"c{i}" for i in range(channels)), ("unknown",) * channels
        rec = writer.add(name=name, label=args.label, split=args.split, sensor=args.sensor, sample_rate=rate,
                         signal=signal, axes=axes, units=units,
                         quality={"format": "lines", "lines_skipped": cap.skipped_lines})
        done.append(rec.file)
        print(rec.file)
    reporter.info(f"{len(done)} recording(s) written to {writer.root}")
    return 0
