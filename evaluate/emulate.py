"""`tinyml emulate`: the model's firmware on QEMU's Cortex-M4, read back over its UART and compared with
the host's TFLM.

The firmware is the AOT-compiled model (codegen/emulator.py) or the TFLM sketch's core with the board's
library (codegen/tflm_board.py), built by PlatformIO offline and run by tinyml/host/qemu.py.
"""

from __future__ import annotations

from pathlib import Path

from tinyml.codegen.emulator import write_project
from tinyml.codegen.tflm_board import BoardLibrary, write_project as write_tflm_project
from tinyml.codegen.tflm_core import check_io, plan_arena
from tinyml.errors import TinymlError, expected
from tinyml.evaluate.device import check
from tinyml.host import tflm_lib
from tinyml.host.platformio import build
from tinyml.host.profile import INFERENCE_TAG, PROFILE_FLAG, SPANS, aot_marked_ops
from tinyml.host.profile import profile as profile_ops
from tinyml.host.qemu import BOARD_HZ, MACHINE, connect, plugin_args, read_counts, running, wait_exit
from tinyml.protocol import Device
from tinyml.quantize import flatbuffer
from tinyml.quantize.tflm import Runner, seeded_samples


def check_project_path(work: Path) -> Path:
    """Refuse, in one line, a project folder PlatformIO cannot build in: SCons expands `$` in its path,
    and a control character (a tab) splits it."""
    where = str(Path(work).absolute())
    if "$" in where or not where.isprintable():
        raise expected("an emulator project folder whose path has no '$' and no control characters "
                       "(PlatformIO builds with SCons, which expands '$')", repr(where), "Choose another -o folder.")
    return Path(work)


def default_project_name(stem: str) -> str:
    """A folder name for a model's emulator project that check_project_path accepts."""
    return "".join("_" if ch == "$" or not ch.isprintable() else ch for ch in stem)


def emulate(model_path: Path, work: Path, *, inputs: int = 8, seed: int = 0, timeout_s: float = 30.0,
            extra_flags: tuple[str, ...] = (), reporter=None, generate: bool = True, backend: str = "aot",
            kernels: str = "cmsis-nn", margin_percent: int = 2, margin_min_bytes: int = 64,
            project: Path | None = None, tflm_target=None, profile: bool = False) -> dict:
    """Build and run the model on QEMU; compare every output with the host's TFLM.

    backend "aot": the AOT-compiled model; "tflm": the generated TFLM sketch's core with the board's TFLM
    library (`kernels` cmsis-nn, as on the board, or reference; `tflm_target` how it is compiled, by
    default as the board compiles it), its arena the one codegen reserves.
    With `generate` (the default) `work` becomes an emulator-only project for the model; without,
    `work` is an existing project with an `emulator` environment (as `tinyml codegen` writes).

    With `profile`, the firmware is built with -DTINYML_PROFILE and `result["profile"]` has the
    instructions of every op (host/profile.py), `result["profile_totals"]` the sum of the ops and the
    dispatch between them; the whole-inference count is then the profiling build's, a few instructions per
    op above an ordinary build's."""
    info = flatbuffer.read(model_path)
    check_project_path(work)
    if profile and not generate and backend == "aot":
        raise ValueError("profile=True builds its own project: it needs generate=True")
    flags = tuple(extra_flags) + ((PROFILE_FLAG,) if profile else ())
    extra = {}
    if backend == "tflm":
        check_io(info)
        lib = BoardLibrary.find(project, kernels=kernels, reporter=reporter, required=True,
                                target=tflm_target or tflm_lib.MPS2)
        lib.check_ops(info)
        need = lib.arena(model_path, seed=seed)
        arena = plan_arena(need.arena_bytes, margin_percent, margin_min_bytes)
        write_tflm_project(model_path, work, lib, arena.total, seed=seed, extra_flags=flags)
        extra = {"backend": "tflm", "kernels": kernels, "library": lib.label, "arena_measured_bytes": need.arena_bytes,
                 "arena_reserved_bytes": arena.total, "self_check_matched": need.self_check}
    elif generate:
        write_project(model_path, work, flags)
        extra = {"backend": "aot"}
    if reporter:
        reporter.info(f"building the emulator firmware in {work}")
    sizes = build(work, "emulator", quiet=True)
    xs = seeded_samples(Runner(info.raw), inputs, seed)
    if reporter:
        reporter.info(f"running {inputs} inputs on QEMU {MACHINE} (-icount shift=0)")
    counts = work / ".pio" / "instructions.txt"
    counts.unlink(missing_ok=True)
    plugin = plugin_args(Path(sizes["elf"]), counts, SPANS if profile else None)
    if profile and plugin is None:
        raise TinymlError("Expected the QEMU instruction-count plugin and the op markers in the firmware for "
                          "--profile. Received: the plugin cannot be built here (no host C compiler) or the "
                          "markers are missing. Install gcc (`make setup`).")
    with running(Path(sizes["elf"]), plugin) as (url, proc):
        link = connect(url, proc)
        try:
            result = check(Device(link, timeout_s), info.raw, xs)
        finally:
            link.close()
        wait_exit(proc, timeout_s)
    result["instructions_systick"] = result["instructions_per_inference"]
    exact = read_counts(counts).get(INFERENCE_TAG if profile else "", []) if plugin else []
    if len(exact) == result["inputs_checked"]:
        result.update(instructions_per_inference=max(exact), instructions_min=min(exact),
                      instruction_counter="QEMU plugin, exact", instruction_resolution=1)
    else:
        result.update(instruction_counter="SysTick under -icount shift=0", instruction_resolution=40)
    instructions = result["instructions_per_inference"]
    result.update({
        "macs": info.macs,
        "instructions_per_mac": round(instructions / info.macs, 2) if info.macs else None,
        "latency_ms_at_64mhz": round(instructions / BOARD_HZ * 1e3, 3),
        "latency_assumption": "one instruction per cycle at 64 MHz",
        "flash_budget": sizes["flash_budget"], "ram_budget": sizes["ram_budget"],
        "elf_text": sizes["text"], "elf_data": sizes["data"], "elf_bss": sizes["bss"],
        "project": str(work), **extra,
    })
    if profile:
        marked = (list(range(len(info.operators))) if backend == "tflm"
                  else aot_marked_ops(work / "src" / "emulator" / "tinyml_model.c"))
        result["profile"], result["profile_totals"] = profile_ops(info, counts, marked)
    return result
