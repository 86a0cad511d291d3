"""`tinyml demo`: the main job, on built-in data, with no board (`--task kws`: tinyml/demo_kws.py).

Generates the built-in gesture dataset, trains, quantizes to int8, inspects the
model in TFLM, generates the PlatformIO project and writes a report, each
stage handing the next a file in the demo folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tinyml.config import default
from tinyml.errors import expected

MARKER = ".tinyml-demo"
SMALL = {"per_class": 12, "epochs": 15}
FULL = {"per_class": None, "epochs": 40}  # None: the collect stage's default


def add_arguments(p) -> None:
    p.add_argument("--dir", default="tinyml-demo", help="demo project folder (default: ./tinyml-demo)")
    p.add_argument("--small", action="store_true",
                   help=f"a quick run for tests (gesture: {SMALL['per_class']} recordings per class, {SMALL['epochs']} "
                        "epochs; kws: see tinyml/demo_kws.py)")
    seed = default("project.seed")
    p.add_argument("--seed", type=int, default=seed, help=f"seed for data, splits and training (default: {seed})")
    p.add_argument("--task", choices=["gesture", "kws"], default="gesture",
                   help="gesture: IMU gestures (default); kws: keyword spotting on built-in speech (espeak-ng, "
                        "flite, festival)")
    p.add_argument("--wav", nargs="+", metavar="FILE",
                   help="with --task kws: real recordings (16 kHz mono WAV) to classify and stream to the emulated "
                        "firmware (default: built-in test clips)")
    p.add_argument("--wav-dir", metavar="DIR",
                   help="with --task kws: also measure both int8 models on DIR's labelled recordings (one folder per "
                        "spoken word, as for `tinyml evaluate --wav-dir`), e.g. real speech")


def _prepare(root: Path) -> None:
    if root.exists():
        if not root.is_dir() or (any(root.iterdir()) and not (root / MARKER).exists()):
            raise expected("a new folder or an earlier demo folder", f"'{root}' holds other files",
                           "Pass --dir with another folder.")
        for sub in ("data", "build"):
            shutil.rmtree(root / sub, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("created by `tinyml demo`; the demo clears data/ and build/ here on each run\n")


def run(args, reporter) -> int:
    from tinyml import config
    from tinyml.artifacts import write_json, write_text
    from tinyml.codegen.project import generate
    from tinyml.collect.dataset import load
    from tinyml.collect.synthetic import write_gestures
    from tinyml.evaluate.emulate import emulate
    from tinyml.evaluate.report import write_report
    from tinyml.log import Stopwatch
    from tinyml.paths import ProjectPaths
    from tinyml.quantize.inspect import inspect
    from tinyml.quantize.ptq import quantize_ptq
    from tinyml.train.train import read_history, train

    from tinyml.collect.synthetic import DEFAULT_PER_CLASS

    root = Path(args.dir)
    if (args.wav or args.wav_dir) and args.task != "kws":
        raise expected("--wav and --wav-dir only with --task kws", f"--task {args.task}")
    if args.wav_dir:  # its folders and their labels, checked before minutes of training
        from tinyml.config import TASK_DEFAULTS
        from tinyml.evaluate.wav_dir import labelled_wavs

        labelled_wavs(Path(args.wav_dir), list(TASK_DEFAULTS["kws"]["project.labels"]), {})
    for wav in args.wav or []:  # refuse a bad recording before anything is written
        from tinyml.config import TASK_DEFAULTS
        from tinyml.evaluate.wav import read_wav

        read_wav(Path(wav), TASK_DEFAULTS["kws"]["project.sample_rate"])
    if args.task == "kws":  # find a missing tool now, not after minutes of training
        import shutil

        tools = ("espeak-ng", "flite", "festival", "qemu-system-arm", "arm-none-eabi-gcc")
        missing = [t for t in tools if shutil.which(t) is None]
        if missing:
            raise expected(f"{', '.join(tools)} for the kws demo",
                           f"{', '.join(missing)} not installed", "Run `make setup`.")
    _prepare(root)
    if args.task == "kws":
        from tinyml.demo_kws import run as run_kws

        return run_kws(args, reporter, root)
    size = dict(SMALL if args.small else FULL)
    size["per_class"] = size["per_class"] or DEFAULT_PER_CLASS
    paths = ProjectPaths(root)
    clock = Stopwatch()
    cfg = config.load(root, flags={"project.seed": args.seed, "model.epochs": size["epochs"]}, read_file=False)
    write_text(paths.config, config.render_toml(cfg.values))

    reporter.info(f"[1/6] collect: built-in gestures, {size['per_class']} recordings per class -> {paths.data}")
    write_gestures(paths.data, per_class=size["per_class"], seed=cfg["project.seed"],
                   labels=tuple(cfg["project.labels"]), reporter=reporter)
    reporter.info(f"[2/6] train: {cfg['model.architecture']}, up to {cfg['model.epochs']} epochs")
    trained = train(cfg, paths.data, paths.keras_model, paths.history, reporter)
    reporter.info("[3/6] quantize: full int8, accuracy checked in the TFLM interpreter")
    quant = quantize_ptq(cfg, paths.keras_model, paths.data, paths.int8_model, paths.quantize_report, reporter)
    reporter.info("[4/6] inspect + codegen: TFLM arena, PlatformIO project")
    model_report = inspect(paths.int8_model)
    write_json(paths.inspect_report, model_report)
    firmware = generate(paths.int8_model, paths.firmware, board=cfg["project.board"],
                        margin_percent=cfg["codegen.arena_margin_percent"],
                        margin_min_bytes=cfg["codegen.arena_margin_min_bytes"], seed=cfg["project.seed"],
                        reporter=reporter)
    reporter.info("[5/6] emulate on QEMU's Cortex-M4, read back over its UART: the TFLM sketch with the board's "
                  "library, and the model compiled to C")
    emulated_tflm = None
    if firmware["arena_measured_on"] == "board":
        emulated_tflm = emulate(paths.int8_model, paths.build / "emulator-tflm", inputs=8, seed=cfg["project.seed"],
                                backend="tflm", margin_percent=cfg["codegen.arena_margin_percent"],
                                margin_min_bytes=cfg["codegen.arena_margin_min_bytes"])
        emulated_tflm.pop("log", None)
    emulated = emulate(paths.int8_model, paths.firmware, inputs=8, seed=cfg["project.seed"], generate=False)
    emulated.pop("log", None)
    reporter.info("[6/6] report")
    history = read_history(paths.history)
    dataset = load(paths.data)
    report = {
        "project": str(root),
        "seed": cfg["project.seed"],
        "dataset": {"recordings": len(dataset.recordings), "labels": dataset.labels,
                    "sample_rate": dataset.sample_rate,
                    "splits": {s: len(dataset.split(s)) for s in ("train", "val", "test")}},
        "accuracy": {"float": quant.float_accuracy, "int8": quant.int8_accuracy,
                     "drop": quant.float_accuracy - quant.int8_accuracy, "test_windows": quant.test_windows,
                     "float_int8_agreement": quant.agreement, "validation_float": trained.val_accuracy},
        "confusion_int8": {"labels": quant.labels, "matrix": quant.confusion},
        "training": {"epochs_run": trained.epochs_run, "curves": history["curves"]},
        "model": {k: model_report[k] for k in ("model_bytes", "macs", "ops", "arena_bytes", "inputs", "outputs")},
        "firmware": firmware,
        "emulator": emulated,
        "emulator_tflm": emulated_tflm,
        "seconds": round(clock.seconds(), 1),
    }
    report_path = write_report(paths.build, report, history["curves"])
    print(summary(report, report_path))
    return 0


def summary(report: dict, report_path: Path) -> str:
    acc, model, fw = report["accuracy"], report["model"], report["firmware"]
    return "\n".join([
        f"tinyml demo: {report['dataset']['recordings']} recordings, {len(report['dataset']['labels'])} gestures "
        f"({', '.join(report['dataset']['labels'])})",
        f"  accuracy (test, {acc['test_windows']} windows): float {acc['float']:.3f}, int8 in TFLM {acc['int8']:.3f} "
        f"(drop {acc['drop']:+.3f})",
        f"  model: {model['model_bytes']:,} B flatbuffer, {model['macs']:,} MACs, ops {', '.join(model['ops'])}",
        f"  arena: {model['arena_bytes']:,} B in the host's TFLM; "
        + (f"{fw['arena_board_bytes']:,} B needed by {fw['library']} on a 32-bit Cortex-M4"
           if fw["arena_measured_on"] == "board" else "the board's library not measured here")
        + f" -> {fw['arena_bytes']:,} B in firmware (+{fw['arena_margin_bytes']:,} B: {fw['arena_margin_rule']})",
        f"  PlatformIO project: {fw['project']} (environments: {', '.join(fw['environments'])})",
        *([_emulator_line(report["emulator_tflm"], "TFLM sketch + CMSIS-NN")] if report["emulator_tflm"] else []),
        _emulator_line(report["emulator"], "AOT C"),
        f"  report: {report_path} (+ confusion.png, training.png); {report['seconds']} s",
    ])


def _emulator_line(e: dict, what: str) -> str:
    match = "identical to" if e["outputs_match_host"] else "DIFFERENT from"
    return (f"  emulated Cortex-M4, {what}: {e['instructions_per_inference']:,} instructions per inference "
            f"(~{e['latency_ms_at_64mhz']:.1f} ms at 64 MHz, {e['instructions_per_mac']} per MAC), "
            f"flash {e['flash_bytes']:,} B, RAM {e['ram_bytes'] + e['stack_bytes']:,} B with stack; "
            f"outputs {match} TFLM on {e['inputs_checked']} inputs")