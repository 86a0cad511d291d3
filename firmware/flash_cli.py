"""`tinyml flash [PROJECT] [--port P]`: build, refuse what does not fit, upload."""

from __future__ import annotations

from pathlib import Path

from tinyml.paths import ProjectPaths


def add_arguments(p) -> None:
    p.add_argument("firmware", nargs="?", help="generated PlatformIO project (default: ./build/firmware)")
    p.add_argument("--port", help="serial port of the board (default: found by the Nano 33 BLE's USB IDs)")
    p.add_argument("-e", "--environment", default="nano33ble", help="PlatformIO environment (default: nano33ble)")


def run(args, reporter) -> int:
    from tinyml.firmware.platformio import build, find_board_port, pio

    project = Path(args.firmware) if args.firmware else ProjectPaths(Path(".")).firmware
    report = build(project, args.environment)  # raises, before anything is uploaded, if it does not fit
    port = args.port or find_board_port()
    reporter.info(f"fits: flash {report['flash_bytes']:,} B, RAM {report['ram_bytes']:,} B; uploading to {port}")
    pio(project, ["run", "-e", args.environment, "-t", "upload", "--upload-port", port])
    return 0
