"""QEMU's Cortex-M4 (mps2-an386) as the board's stand-in: launch firmware, read its UART, count instructions.

QEMU runs it with `-icount shift=0` (one instruction per virtual nanosecond, so instruction counts are
exact to SysTick's 40-instruction tick and the same on every run) and exposes UART0 as a TCP port that
pyserial opens as socket://, the same code path that reads a real board's /dev/ttyACM0. The projects it
runs are written by codegen (codegen/emulator.py, codegen/tflm_board.py, codegen/kws.py) and built by
PlatformIO offline (tinyml/host/platformio.py); `tinyml emulate` (evaluate/emulate.py) puts them together.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

from tinyml.artifacts import template_env
from tinyml.c_names import c_string_define
from tinyml.errors import TinymlError
from tinyml.host.offline import PLATFORM_DIR, build_icount_plugin, toolchain_dir

QEMU = "qemu-system-arm"
EMULATOR_PLATFORM = ("mps2.c", "mps2.h")  # firmware/emulator/: start-up, UART, clock, exit
MACHINE = "mps2-an386"
# Cortex-M4 at 64 MHz, one instruction per cycle (most are single-cycle; loads, branches and flash
# wait states make the real figure somewhat higher).
BOARD_HZ = 64_000_000


def emulator_env(model_name: str, extra_flags: tuple[str, ...] = (),
                 source_dirs: tuple[str, ...] = ("emulator", "runtime")) -> str:
    """The [env:emulator] section of a generated platformio.ini, building src/<source_dirs>. The model's
    name reaches the firmware as a build flag, escaped for every layer between (c_string_define)."""
    return template_env("snippets").get_template("emulator_env.ini.j2").render({
        "platform_dir": PLATFORM_DIR, "toolchain_dir": toolchain_dir(),
        "model_name_define": c_string_define(model_name), "extra_flags": list(extra_flags),
        "source_dirs": list(source_dirs), "include_dirs": [d for d in source_dirs if d != "emulator"]})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_command(elf: Path, port: int, plugin: list[str] | None = None) -> list[str]:
    return [QEMU, "-M", MACHINE, "-nographic", "-monitor", "none", "-icount", "shift=0",
            "-semihosting-config", "enable=on,target=native",
            "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on", *(plugin or []), "-kernel", str(elf)]


def plugin_args(elf: Path, counts: Path, spans: dict[str, tuple[str, str]] | None = None) -> list[str] | None:
    """`-plugin` arguments that count instructions between the firmware's markers into `counts`.

    Without `spans`: one span, tinyml_mark_begin .. tinyml_mark_end, one count per line.
    With `spans` ({tag: (begin symbol, end symbol)}): one "TAG COUNT" line per span run.
    None when the plugin cannot be built or a marker is missing from the ELF."""
    from elftools.elf.elffile import ELFFile

    plugin = build_icount_plugin()
    if plugin is None:
        return None
    names = spans or {"": ("tinyml_mark_begin", "tinyml_mark_end")}
    with open(elf, "rb") as f:
        symbols = ELFFile(f).get_section_by_name(".symtab")
        found = {name: symbols.get_symbol_by_name(name) for pair in names.values() for name in pair}
        if not all(found.values()):
            return None
        address = {name: found[name][0]["st_value"] & ~1 for name in found}  # without the Thumb bit
    if spans is None:
        begin, end = names[""]
        return ["-plugin", f"{plugin},begin={address[begin]:#x},end={address[end]:#x},out={counts}"]
    args = ",".join(f"span={tag}:{address[b]:#x}:{address[e]:#x}" for tag, (b, e) in spans.items())
    return ["-plugin", f"{plugin},{args},out={counts}"]


def read_counts(counts: Path) -> dict[str, list[int]]:
    """The plugin's output as {tag: [count, ...]} in order ("" for the untagged span); {} if absent."""
    result: dict[str, list[int]] = {}
    if not counts.is_file():
        return result
    for line in counts.read_text().splitlines():
        parts = line.split()
        if len(parts) == 1:
            result.setdefault("", []).append(int(parts[0]))
        elif len(parts) == 2:
            result.setdefault(parts[0], []).append(int(parts[1]))
    return result


@contextlib.contextmanager
def running(elf: Path, plugin: list[str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start QEMU on `elf`, its UART waiting for one client; yield (pyserial URL, process). Always stops QEMU."""
    if shutil.which(QEMU) is None:
        raise TinymlError(f"Expected {QEMU} to run the emulator. Received: not installed. Run `make setup`.")
    port = _free_port()
    proc = subprocess.Popen(qemu_command(elf, port, plugin), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_listening(proc, port)
        yield f"socket://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def _wait_listening(proc: subprocess.Popen, port: int, timeout_s: float = 10.0) -> None:
    """QEMU says on stderr when its UART socket listens; wait for that line (never connect to probe:
    the first client is the one QEMU serves)."""
    deadline = time.monotonic() + timeout_s
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            if b"waiting for connection" in seen:
                return
        elif proc.poll() is not None:
            break
    raise TinymlError(f"QEMU did not open its UART on port {port}: {seen.decode(errors='replace')[-300:]}")


def connect(url: str, proc: subprocess.Popen, timeout_s: float = 10.0):
    """Open `url` once QEMU listens on it (QEMU starts the guest when the client connects)."""
    import serial

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return serial.serial_for_url(url, timeout=0.5)
        except serial.SerialException:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace").strip() if proc.poll() is not None else ""
                raise TinymlError(f"QEMU did not open its UART at {url}: {err[-300:]}") from None
            time.sleep(0.05)


def wait_exit(proc: subprocess.Popen, timeout_s: float) -> None:
    """After the summary: QEMU must exit, and the firmware's semihosting exit code must be 0."""
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise TinymlError(f"QEMU did not exit within {timeout_s:g} s after the summary") from None
    if code != 0:
        raise TinymlError(f"The firmware exited with code {code} (semihosting)")

