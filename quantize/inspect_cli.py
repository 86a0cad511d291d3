"""`tinyml inspect MODEL.tflite [--json]`."""

from __future__ import annotations

import json


def add_arguments(p) -> None:
    p.add_argument("model", help="a .tflite flatbuffer")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args, reporter) -> int:
    from tinyml.quantize.inspect import inspect, render, unsupported_error

    report = inspect(args.model)
    print(json.dumps(report, indent=2) if args.json else render(report))
    if not report["tflm_supported"]:
        raise unsupported_error(report)
    return 0
