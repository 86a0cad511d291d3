"""`tinyml codegen --backend tflm`: any model TFLM runs -> a complete PlatformIO project.

Python computes every value (C array rows, resolver methods, arena size, the
check vectors: codegen/tflm_core.py); the Jinja2 templates in firmware/templates/<board>/ only lay
them out, and mirror the generated tree file for file.
"""

from __future__ import annotations

from pathlib import Path

from tinyml.artifacts import atomic_dir, copy_runtime, prepare_out_dir, render_tree, versions, write_marker
from tinyml.c_names import c_identifier
from tinyml.codegen import tflm_board
from tinyml.codegen.emulator import add_emulator_sources
from tinyml.codegen.tflm_core import HOST_MARGIN, check_io, core_values, plan_arena
from tinyml.errors import BadInput
from tinyml.host.qemu import emulator_env
from tinyml.quantize import flatbuffer
from tinyml.quantize.board_compat import board_defects
from tinyml.quantize.inspect import inspect, unsupported_error


def generate(model_path: Path, out: Path, *, board: str = "nano33ble", margin_percent: int = 2,
             margin_min_bytes: int = 64, symbol: str = "g_model", seed: int = 0, reporter=None,
             project: Path | None = None) -> dict:
    """Write the project to `out` (atomically) and return what was generated."""
    info = flatbuffer.read(model_path)
    check_io(info)
    symbol = c_identifier(symbol, "--symbol")
    prepare_out_dir(out, "board-project")
    report = inspect(model_path)
    if not report["tflm_supported"]:
        raise unsupported_error(report)
    board_lib = tflm_board.BoardLibrary.find(project, reporter=reporter)
    methods = board_lib.check_ops(info)  # refuses ops the board's library lacks, naming it
    need = board_lib.arena(model_path, seed=seed)  # refuses what the board's library cannot run
    if need is not None:
        measured, source = need.arena_bytes, "board"
    else:  # an unmeasured guess: the 64-bit host's figure, with the old, wider head-room
        measured, source = report["arena_bytes"], "host"
        margin_percent, margin_min_bytes = max(margin_percent, HOST_MARGIN[0]), max(margin_min_bytes, HOST_MARGIN[1])
    arena = plan_arena(measured, margin_percent, margin_min_bytes)
    where = (f"by {board_lib.label} on an emulated 32-bit Cortex-M4 (what the board allocates)" if source == "board"
             else f"by the host's TFLM interpreter (64-bit, tflite-micro {versions().get('tflite-micro', '?')}; "
                  f"the board's library was not measured: {board_lib.unavailable})")
    comment = (f"{arena.measured} B measured {where}, plus {arena.margin} B head-room ({arena.rule}), "
               f"rounded up to 16.")
    values = core_values(model_path, info, report["ops"], methods, arena.total, comment, symbol, seed,
                         board_lib.label)
    summary = {
        "project": str(out), "board": board, "model": str(model_path), "model_bytes": info.model_bytes,
        "ops": report["ops"], "resolver_methods": values["resolver_methods"], "library": board_lib.label,
        "arena_measured_bytes": arena.measured, "arena_measured_on": source,
        "arena_host_bytes": report["arena_bytes"], "arena_board_bytes": need.arena_bytes if need else None,
        "arena_margin_bytes": arena.margin, "arena_bytes": arena.total, "arena_margin_rule": arena.rule,
    }
    summary["board_defects"] = board_defects(info)
    if source == "host":
        summary["arena_note"] = board_lib.unavailable
    else:
        summary["board_matches_host"] = need.self_check
    with atomic_dir(out) as tmp:
        values["emulator_env"] = _emulator(model_path, tmp / "src", summary)
        render_tree(board, tmp, values)
        render_tree("tflm", tmp / "src", values)
        copy_runtime(tmp / "src" / "runtime")
        write_marker(tmp, "board-project", summary)
    return summary


def _emulator(model_path: Path, src: Path, summary: dict) -> str:
    """Add the emulator environment when the AOT backend compiles the model; '' otherwise."""
    try:
        add_emulator_sources(model_path, src)
    except BadInput as exc:
        summary["environments"] = ["nano33ble", "nano33ble_renode"]
        summary["emulator_skipped"] = str(exc)
        return ""
    summary["environments"] = ["nano33ble", "nano33ble_renode", "emulator"]
    return emulator_env(model_path.stem)
