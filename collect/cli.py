"""`tinyml collect`: write a dataset in the tinyml format.

From a board or the emulator over the framed streaming protocol (--port/--emulate),
from a sketch printing numbers as text (--format lines), or the built-in
gesture data (--builtin gestures). Every recording is written atomically and the
manifest updated after each; loss is counted, reported and written down.
"""

from __future__ import annotations

from pathlib import Path

from tinyml import config
from tinyml.collect.keywords import DEFAULT_PER_CLASS as KEYWORDS_PER_CLASS
from tinyml.collect.synthetic import DEFAULT_PER_CLASS
from tinyml.paths import ProjectPaths
from tinyml.project_cli import add_option_flags, flags_of


def add_arguments(p) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--builtin", choices=["gestures", "keywords"],
                        help="generate built-in, seeded data: 6-axis IMU gestures, or 1 s keyword clips "
                             "spoken by espeak-ng (labels from project.labels)")
    source.add_argument("--port", help="the board: a serial port or any pyserial URL (socket://, loop://); "
                                       "default: the Nano 33 BLE found by its USB IDs")
    source.add_argument("--emulate", action="store_true",
                        help="start tinyml's streaming firmware on QEMU (synthetic signals) and collect from it")
    source.add_argument("--firmware", metavar="DIR",
                        help="write the streaming firmware's PlatformIO project to DIR (then `tinyml flash DIR`)")
    p.add_argument("-C", "--project", default=".", help="project folder (default: .)")
    p.add_argument("-o", "--out", help="dataset folder (default: <project>/data)")
    p.add_argument("--sensor", choices=["imu", "mic", "mag"], default="imu", help="what to record (default: imu)")
    p.add_argument("--label", help="label of the recordings (required unless --builtin)")
    p.add_argument("--seconds", type=float, default=2.0, help="length of each recording (default: 2)")
    p.add_argument("--count", type=int, default=1, help="recordings to make (default: 1)")
    p.add_argument("--split", choices=["train", "val", "test"], default="train", help="split (default: train)")
    p.add_argument("--strict", action="store_true", help="refuse a recording with any lost or corrupted frame")
    p.add_argument("--format", choices=["binary", "lines"], default="binary",
                   help="binary: tinyml's framed protocol (default); lines: numbers as text, one sample per line")
    p.add_argument("--rate", type=int, help="with --format lines: the sample rate in Hz (default: measured)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds without data before giving up (default: 5)")
    p.add_argument("--per-class", type=int,
                   help=f"with --builtin: recordings per class (default: {DEFAULT_PER_CLASS} gestures, "
                        f"{KEYWORDS_PER_CLASS} keyword clips)")
    add_option_flags(p, ["project.seed"])


def run(args, reporter) -> int:
    from tinyml.errors import BadInput

    if args.firmware:
        from tinyml.collect.emulated import write_streamer_project

        out = write_streamer_project(Path(args.firmware))
        reporter.info("environments: nano33ble (the board), emulator (QEMU, synthetic signals)")
        print(out)
        return 0
    cfg = config.load(args.project, flags=flags_of(args))
    out = Path(args.out) if args.out else ProjectPaths(Path(args.project)).data
    if args.builtin:
        from tinyml.collect.keywords import write_keywords
        from tinyml.collect.synthetic import write_gestures

        write, default = ((write_keywords, KEYWORDS_PER_CLASS) if args.builtin == "keywords"
                          else (write_gestures, DEFAULT_PER_CLASS))
        per_class = default if args.per_class is None else args.per_class
        labels = tuple(cfg["project.labels"])
        if (args.builtin == "keywords") != (cfg["project.task"] == "kws"):  # the other task's data: its own labels
            task = "kws" if args.builtin == "keywords" else "gesture"
            labels = tuple(config.load(args.project, flags={"project.task": task}, read_file=False)["project.labels"])
        write(out, per_class=per_class, seed=cfg["project.seed"], labels=labels, reporter=reporter)
        reporter.info(f"wrote {per_class * len(labels)} recordings ({', '.join(labels)}) to {out}")
        print(out)
        return 0
    import re

    if not args.label or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", args.label):
        raise BadInput(f"Expected --label NAME of letters, digits, '-' or '_'. Received: {args.label!r}.")
    if args.seconds <= 0 or args.count < 1 or args.timeout <= 0 or (args.rate is not None and args.rate < 1):
        raise BadInput(f"Expected --seconds > 0, --count >= 1, --timeout > 0 and --rate >= 1. Received: "
                       f"{args.seconds:g}, {args.count}, {args.timeout:g}, {args.rate}.")
    from tinyml.collect.session import collect

    return collect(args, out, reporter)
