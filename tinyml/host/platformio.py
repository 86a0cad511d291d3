"""PlatformIO builds and uploads, and what the resulting firmware costs in flash and RAM."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tinyml.errors import TinymlError, expected

# The Nano 33 BLE's application space: 1 MB of flash less the 64 KB Arduino
# bootloader at the bottom, and all 256 KB of RAM.
BUDGETS = {"nano33ble": {"flash": 1024 * 1024 - 64 * 1024, "ram": 256 * 1024}}


@dataclass(frozen=True)
class Sizes:
    text: int  # code and constants, in flash
    data: int  # initialised variables: flash image, copied to RAM
    bss: int  # zeroed variables, RAM only

    @property
    def flash(self) -> int:
        return self.text + self.data

    @property
    def ram(self) -> int:
        return self.data + self.bss


def elf_sizes(elf: Path) -> Sizes:
    """Berkeley-style sizes from the ELF's allocated sections (what `size` prints)."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    text = data = bss = 0
    with open(elf, "rb") as f:
        for section in ELFFile(f).iter_sections():
            flags = section["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC:
                continue
            if section["sh_type"] == "SHT_NOBITS":
                bss += section["sh_size"]
            elif flags & SH_FLAGS.SHF_WRITE:
                data += section["sh_size"]
            else:
                text += section["sh_size"]
    return Sizes(text, data, bss)


def check_budget(sizes: Sizes, board: str) -> dict:
    budget = BUDGETS[board]
    report = {"text": sizes.text, "data": sizes.data, "bss": sizes.bss,
              "flash_bytes": sizes.flash, "flash_budget": budget["flash"],
              "ram_bytes": sizes.ram, "ram_budget": budget["ram"]}
    over = [f"{what} {used:,} B > {limit:,} B" for what, used, limit in
            (("flash", sizes.flash, budget["flash"]), ("RAM", sizes.ram, budget["ram"])) if used > limit]
    if over:
        raise expected(f"firmware that fits the {board} (flash {budget['flash']:,} B, RAM {budget['ram']:,} B)",
                       "; ".join(over), "Use a smaller model or a smaller arena; nothing was flashed.")
    return report


OFFLINE_ENVIRONMENTS = ("emulator",)  # built with tinyml's local platform, no network


def pio(project: Path, args: list[str], environ: dict | None = None, quiet: bool = False) -> None:
    """Run PlatformIO on `project`; its output goes to the terminal, or is kept for the error when quiet."""
    if not (Path(project) / "platformio.ini").is_file():
        raise expected("a PlatformIO project folder (with platformio.ini)", f"'{project}'",
                       "Generate one with `tinyml codegen`.")
    cmd = [sys.executable, "-m", "platformio", *args, "-d", str(project)]
    proc = subprocess.run(cmd, env=environ, capture_output=quiet, text=True)
    if proc.returncode != 0:
        tail = ("\n" + "\n".join(proc.stdout.strip().splitlines()[-15:])) if quiet else ""
        raise TinymlError(f"PlatformIO failed (exit {proc.returncode}): {' '.join(cmd[2:])}. "
                          f"Its output {'follows' if quiet else 'above'} says why.{tail}")


def build(project: Path, env: str, board: str = "nano33ble", quiet: bool = False) -> dict:
    """Build one environment and check the firmware against the board's flash and RAM."""
    environ = None
    if env in OFFLINE_ENVIRONMENTS:
        from tinyml.host.offline import prepare

        environ = prepare()
    elf = Path(project) / ".pio" / "build" / env / "firmware.elf"
    started = time.time()

    def fresh() -> bool:
        return elf.is_file() and elf.stat().st_mtime >= started - 1

    try:
        pio(project, ["run", "-e", env], environ, quiet)
    except TinymlError:
        if fresh():  # linked, then PlatformIO's own size check failed: say it with our numbers
            check_budget(elf_sizes(elf), board)
        raise
    if not elf.is_file():
        raise TinymlError(f"PlatformIO reported success but wrote no {elf}")
    report = check_budget(elf_sizes(elf), board)
    report["elf"] = str(elf)
    return report
