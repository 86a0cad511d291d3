"""`tinyml collect`: write a dataset in the tinyml format.

From a board or the emulator over the framed streaming protocol (--port/--emulate),
from a sketch printing numbers as text (--format lines), the built-in data (--builtin
gestures; keywords, spoken by espeak-ng, flite, festival and SVOX Pico; speech-commands, Google's Speech Commands
imported from its archive, a copy of it or its extracted folder: --from), or other
tools' files (--import: GestureToEmoji CSV, Edge Impulse JSON/CBOR/CSV, magic_wand text,
CSV; docs/importing.md). Every recording is written atomically and the manifest updated
after each; loss is counted, reported and written down. An import is all or nothing.

`tinyml export --format edge-impulse DIR`: a dataset as Edge Impulse data acquisition JSON (collect/export.py).
"""

from __future__ import annotations

from pathlib import Path

from tinyml import config
from tinyml.collect.dataset import LABEL_RULE, SPLITS, load
from tinyml.collect.export import FOLDERS, export_edge_impulse
from tinyml.collect.export import FORMATS as EXPORT_FORMATS
from tinyml.collect.importers import FORMATS as IMPORT_FORMATS
from tinyml.collect.importers import IMUS
from tinyml.collect.keywords import DEFAULT_PER_CLASS as KEYWORDS_PER_CLASS
from tinyml.collect.speech_commands import OFFICIAL_URL as SPEECH_COMMANDS_URL
from tinyml.collect.synthetic import DEFAULT_PER_CLASS
from tinyml.paths import ProjectPaths
from tinyml.project_cli import add_option_flags, flags_of


def add_arguments(p) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--builtin", choices=["gestures", "keywords", "speech-commands"],
                        help="built-in, seeded data: 6-axis IMU gestures, 1 s keyword clips spoken by espeak-ng, "
                             "flite and festival, or Google's Speech Commands v0.02/v0.01 (real speech, downloaded "
                             "or --from; docs/kws.md); keywords and speech-commands take their labels from "
                             "project.labels")
    source.add_argument("--port", help="the board: a serial port or any pyserial URL (socket://, loop://); "
                                       "default: the Nano 33 BLE found by its USB IDs")
    source.add_argument("--emulate", action="store_true",
                        help="start tinyml's streaming firmware on QEMU (synthetic signals) and collect from it")
    source.add_argument("--firmware", metavar="DIR",
                        help="write the streaming firmware's PlatformIO project to DIR (then `tinyml flash DIR`)")
    source.add_argument("--import", dest="imports", nargs="+", metavar="PATH",
                        help="read recordings from files or folders (searched recursively): GestureToEmoji CSV, "
                             "Edge Impulse JSON/CBOR/CSV, TFLM magic_wand text, CSV with named columns "
                             "(docs/importing.md); all or nothing")
    p.add_argument("-C", "--project", default=".", help="project folder (default: .)")
    p.add_argument("-o", "--out", help="dataset folder (default: <project>/data)")
    p.add_argument("--sensor", choices=["imu", "mic", "mag"], default="imu", help="what to record (default: imu)")
    p.add_argument("--label", help="label of the recordings (required unless --builtin; with --import: "
                                   "default the file name's, e.g. punch.csv -> punch)")
    p.add_argument("--seconds", type=float, default=2.0, help="length of each recording (default: 2)")
    p.add_argument("--count", type=int, default=1, help="recordings to make (default: 1)")
    p.add_argument("--split", choices=["train", "val", "test"],
                   help="split (default: train; with --import, files in a folder named testing, as in an "
                        "Edge Impulse export, go to test)")
    p.add_argument("--strict", action="store_true", help="refuse a recording with any lost or corrupted frame")
    p.add_argument("--format", choices=["binary", "lines", "auto", *IMPORT_FORMATS],
                   help="binary: tinyml's framed protocol (default); lines: numbers as text, one sample per line; "
                        f"with --import: auto (default, from the extension and header) or {', '.join(IMPORT_FORMATS)}")
    p.add_argument("--imu", choices=IMUS, default=IMUS[0],
                   help="with --import: the sensor whose axes the files were recorded in, mapped to the board frame "
                        "(Rev1's LSM9DS1): lsm9ds1 (default), or bmi270 for a Rev2 board's native axes")
    p.add_argument("--rate", type=int, help="with --format lines: the sample rate in Hz (default: measured); with "
                                            "--import: the rate of files that do not state one")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds without data before giving up (default: 5)")
    p.add_argument("--from", dest="source", metavar="URL_OR_ARCHIVE",
                   help="with --builtin speech-commands: the archive (.tar.gz, .tgz, .tar), its extracted folder, "
                        f"or an http(s) URL (default: {SPEECH_COMMANDS_URL})")
    p.add_argument("--per-class", type=int,
                   help=f"with --builtin: recordings per class (default: {DEFAULT_PER_CLASS} gestures, "
                        f"{KEYWORDS_PER_CLASS} keyword clips); speech-commands: at most N train clips per label "
                        "(default: all; val and test stay whole)")
    add_option_flags(p, ["project.seed"])


def run(args, reporter) -> int:
    from tinyml.errors import BadInput

    if args.source is not None and args.builtin != "speech-commands":
        raise BadInput(f"Expected --from only with --builtin speech-commands. Received: --from {args.source!r} "
                       f"with {'--builtin ' + args.builtin if args.builtin else 'no --builtin'}.")
    if args.firmware:
        from tinyml.collect.emulated import write_streamer_project

        out = write_streamer_project(Path(args.firmware))
        reporter.info("environments: nano33ble (the board), emulator (QEMU, synthetic signals)")
        print(out)
        return 0
    cfg = config.load(args.project, flags=flags_of(args))
    out = Path(args.out) if args.out else ProjectPaths(Path(args.project)).data
    if args.imports:
        return _import(args, out, reporter)
    if args.format not in (None, "binary", "lines"):
        raise BadInput(f"Expected --format binary or lines when recording. Received: {args.format!r} "
                       "(a format for --import).")
    args.format, args.split = args.format or "binary", args.split or "train"
    if args.builtin:
        from tinyml.collect.keywords import write_keywords
        from tinyml.collect.synthetic import write_gestures

        labels = tuple(cfg["project.labels"])
        audio = args.builtin in ("keywords", "speech-commands")
        if audio != (cfg["project.task"] == "kws"):  # the other task's data: its own labels
            task = "kws" if audio else "gesture"
            labels = tuple(config.load(args.project, flags={"project.task": task}, read_file=False)["project.labels"])
        if args.builtin == "speech-commands":
            return _speech_commands(args, cfg, labels, out, reporter)
        write, default = ((write_keywords, KEYWORDS_PER_CLASS) if args.builtin == "keywords"
                          else (write_gestures, DEFAULT_PER_CLASS))
        per_class = default if args.per_class is None else args.per_class
        write(out, per_class=per_class, seed=cfg["project.seed"], labels=labels, reporter=reporter)
        reporter.info(f"wrote {per_class * len(labels)} recordings ({', '.join(labels)}) to {out}")
        print(out)
        return 0
    import re

    if not args.label or not re.fullmatch(LABEL_RULE, args.label):
        raise BadInput(f"Expected --label NAME of letters, digits, '-' or '_'. Received: {args.label!r}.")
    if args.seconds <= 0 or args.count < 1 or args.timeout <= 0 or (args.rate is not None and args.rate < 1):
        raise BadInput(f"Expected --seconds > 0, --count >= 1, --timeout > 0 and --rate >= 1. Received: "
                       f"{args.seconds:g}, {args.count}, {args.timeout:g}, {args.rate}.")
    from tinyml.collect.session import collect

    return collect(args, out, reporter)


def _speech_commands(args, cfg, labels: tuple[str, ...], out: Path, reporter) -> int:
    from tinyml.collect.speech_commands import write_speech_commands

    counts = write_speech_commands(out, source=args.source, labels=labels, seed=cfg["project.seed"],
                                   per_class=args.per_class, reporter=reporter)
    total = sum(sum(c.values()) for c in counts.values())
    shown = ", ".join(f"{lb} {'/'.join(str(counts[lb][s]) for s in SPLITS)}" for lb in labels)
    reporter.info(f"imported {total} recordings ({shown}; train/val/test) from "
                  f"{args.source or SPEECH_COMMANDS_URL} to {out}")
    print(out)
    return 0


def _import(args, out: Path, reporter) -> int:
    from collections import Counter

    from tinyml.collect.importers import read_imports, write_imported
    from tinyml.errors import expected

    if args.format in ("binary", "lines") or args.sensor != "imu" or (args.rate is not None and args.rate < 1):
        raise expected(f"--format one of {{auto, {', '.join(IMPORT_FORMATS)}}}, --sensor imu and --rate >= 1 "
                       "with --import", f"--format {args.format}, --sensor {args.sensor}, --rate {args.rate}")
    items = read_imports([Path(p) for p in args.imports], label=args.label, fmt=args.format or "auto",
                         imu=args.imu, split=args.split, rate=args.rate, reporter=reporter)
    write_imported(out, items, reporter)
    first = items[0]
    labels = ", ".join(f"{k} {n}" for k, n in sorted(Counter(i.label for i in items).items()))
    splits = ", ".join(f"{k} {n}" for k, n in sorted(Counter(i.split for i in items).items()))
    units = "/".join(dict.fromkeys(first.units))
    reporter.info(f"imported {len(items)} recordings ({labels}; {splits}) at {first.sample_rate} Hz, "
                  f"{','.join(first.axes)} in {units}, {args.imu} frame, to {out}")
    print(out)
    return 0


def add_export_arguments(p) -> None:
    p.add_argument("data", nargs="?", metavar="DIR", help="dataset folder (default: <project>/data)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default=EXPORT_FORMATS[0],
                   help="edge-impulse: data acquisition JSON, one file per recording (default)")
    p.add_argument("-o", "--out", help="output folder (default: DIR-edge-impulse beside DIR); a previous "
                                       "export there is replaced")
    p.add_argument("-C", "--project", default=".", help="project folder (default: .)")


def run_export(args, reporter) -> int:
    data = Path(args.data) if args.data else ProjectPaths(Path(args.project)).data
    out = Path(args.out) if args.out else data.with_name(data.name + "-edge-impulse")
    written = export_edge_impulse(load(data), out, reporter)
    per_folder = {f: sum(1 for p in written if p.parent.name == f) for f in dict.fromkeys(FOLDERS.values())}
    reporter.info(f"exported {len(written)} recordings ({', '.join(f'{f}/ {n}' for f, n in per_folder.items())}) "
                  f"as Edge Impulse acquisition JSON to {out}")
    print(out)
    return 0
