"""`tinyml build [PROJECT]`: PlatformIO build, then flash and RAM against the board's budget."""

from __future__ import annotations

import json
from pathlib import Path

from tinyml.paths import ProjectPaths


def add_arguments(p) -> None:
    p.add_argument("firmware", nargs="?", help="generated PlatformIO project (default: ./build/firmware)")
    p.add_argument("-e", "--environment", default="nano33ble", help="PlatformIO environment (default: nano33ble)")
    p.add_argument("--json", action="store_true", help="print the size report as JSON")


def run(args, reporter) -> int:
    from tinyml.firmware.platformio import build

    project = Path(args.firmware) if args.firmware else ProjectPaths(Path(".")).firmware
    report = build(project, args.environment)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"flash {report['flash_bytes']:,} / {report['flash_budget']:,} B, "
              f"RAM {report['ram_bytes']:,} / {report['ram_budget']:,} B (static)")
    return 0
