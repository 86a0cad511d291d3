"""The firmware stage's commands. `tinyml build [PROJECT]`: PlatformIO build, then flash and RAM against the
board's budget. `tinyml flash [PROJECT] [--port P]`: build, refuse what does not fit, upload."""

from __future__ import annotations

import json
from pathlib import Path

from tinyml.paths import ProjectPaths


def add_build_arguments(p) -> None:
    p.add_argument("firmware", nargs="?", help="generated PlatformIO project (default: ./build/firmware)")
    p.add_argument("-e", "--environment", default="nano33ble", help="PlatformIO environment (default: nano33ble)")
    p.add_argument("--json", action="store_true", help="print the size report as JSON")


def run_build(args, reporter) -> int:
    from tinyml.host.platformio import build

    project = Path(args.firmware) if args.firmware else ProjectPaths(Path(".")).firmware
    report = build(project, args.environment)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"flash {report['flash_bytes']:,} / {report['flash_budget']:,} B, "
              f"RAM {report['ram_bytes']:,} / {report['ram_budget']:,} B (static)")
    return 0


def add_flash_arguments(p) -> None:
    p.add_argument("firmware", nargs="?", help="generated PlatformIO project (default: ./build/firmware)")
    p.add_argument("--port", help="serial port of the board (default: found by the Nano 33 BLE's USB IDs)")
    p.add_argument("-e", "--environment", default="nano33ble", help="PlatformIO environment (default: nano33ble)")


def run_flash(args, reporter) -> int:
    from tinyml.host.platformio import build, pio
    from tinyml.link import find_board_port

    project = Path(args.firmware) if args.firmware else ProjectPaths(Path(".")).firmware
    report = build(project, args.environment)  # raises, before anything is uploaded, if it does not fit
    port = args.port or find_board_port()
    reporter.info(f"fits: flash {report['flash_bytes']:,} B, RAM {report['ram_bytes']:,} B; uploading to {port}")
    pio(project, ["run", "-e", args.environment, "-t", "upload", "--upload-port", port])
    return 0
