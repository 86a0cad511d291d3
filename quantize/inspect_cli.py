"""`tinyml inspect MODEL.tflite [--json]`."""

from __future__ import annotations

import json


def add_arguments(p) -> None:
    p.add_argument("model", help="a .tflite flatbuffer")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--host-only", action="store_true", help="skip the board's figures (which build the board's "
                   "TFLM library for the emulator once, then run the model under QEMU)")


def run(args, reporter) -> int:
    from tinyml.quantize.inspect import add_board, inspect, render, unsupported_error

    report = inspect(args.model)
    if not args.host_only:
        add_board(report, reporter)
    print(json.dumps(report, indent=2) if args.json else render(report))
    if not report["tflm_supported"]:
        raise unsupported_error(report)
    return 0
