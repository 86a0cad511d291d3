"""`tinyml evaluate MODEL.tflite`: host-side accuracy of the int8 model, run in the TFLM interpreter."""

from __future__ import annotations

import json
from pathlib import Path

from tinyml import config
from tinyml.paths import ProjectPaths
from tinyml.project_cli import flags_of


def add_arguments(p) -> None:
    p.add_argument("model", nargs="?", help="int8 .tflite model (default: <project>/build/model_int8.tflite)")
    p.add_argument("-C", "--project", default=".", help="project folder (default: .)")
    p.add_argument("--data", help="dataset folder (default: <project>/data)")
    p.add_argument("--split", choices=["train", "val", "test"], default="test", help="which split (default: test)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args, reporter) -> int:
    from tinyml.evaluate.accuracy import evaluate_tflite, render

    cfg = config.load(args.project, flags=flags_of(args))
    paths = ProjectPaths(Path(args.project))
    result = evaluate_tflite(cfg, Path(args.model) if args.model else paths.int8_model,
                             Path(args.data) if args.data else paths.data, args.split)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
