"""`tinyml quantize`: model.keras -> model_int8.tflite (PTQ or QAT), with the accuracy drop measured in TFLM.
`tinyml inspect MODEL.tflite [--json]`: ops, shapes, MACs and the TFLM arena, the host's and the board's."""

from __future__ import annotations

import json
from pathlib import Path

from tinyml import config
from tinyml.paths import ProjectPaths
from tinyml.project_cli import add_option_flags, flags_of


def add_arguments(p) -> None:
    p.add_argument("-C", "--project", default=".", help="project folder (default: .)")
    p.add_argument("--model", help="trained model (default: <project>/build/model.keras)")
    p.add_argument("--data", help="dataset folder (default: <project>/data)")
    p.add_argument("-o", "--out", help="int8 model (default: <project>/build/model_int8.tflite)")
    add_option_flags(p, ["quantize.mode", "quantize.qat_epochs", "quantize.representative_samples", "project.seed"])


def run(args, reporter) -> int:
    from tinyml.quantize.ptq import quantize_model

    cfg = config.load(args.project, flags=flags_of(args))
    paths = ProjectPaths(Path(args.project))
    out = Path(args.out) if args.out else paths.int8_model
    result = quantize_model(cfg, Path(args.model) if args.model else paths.keras_model,
                          Path(args.data) if args.data else paths.data, out,
                          paths.quantize_report if out == paths.int8_model else out.with_name(out.stem + ".quantize.json"),
                          reporter)
    reporter.info(f"test accuracy ({result.mode}): float {result.float_accuracy:.3f}, int8 (TFLM) {result.int8_accuracy:.3f}, "
                  f"drop {result.float_accuracy - result.int8_accuracy:+.3f} on {result.test_windows} windows")
    print(result.tflite_path)
    return 0


def add_inspect_arguments(p) -> None:
    p.add_argument("model", help="a .tflite flatbuffer")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--host-only", action="store_true", help="skip the board's figures (which build the board's "
                   "TFLM library for the emulator once, then run the model under QEMU)")


def run_inspect(args, reporter) -> int:
    from tinyml.quantize.inspect import add_board, inspect, render, unsupported_error

    report = inspect(args.model)
    if not args.host_only:
        add_board(report, reporter)
    print(json.dumps(report, indent=2) if args.json else render(report))
    if not report["tflm_supported"]:
        raise unsupported_error(report)
    return 0
