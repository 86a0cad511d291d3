"""What `tinyml inspect` reports (quantize/cli.py): what a model is and whether (and in how much RAM) TFLM runs it."""

from __future__ import annotations

from pathlib import Path

from tinyml.errors import BadInput
from tinyml.quantize import flatbuffer, tflm
from tinyml.quantize.board_compat import board_defects


def inspect(path: str | Path) -> dict:
    info = flatbuffer.read(path)
    probe = tflm.probe(info.path)
    return {
        "model": str(info.path),
        "model_bytes": info.model_bytes,
        "subgraphs": info.subgraphs,
        "ops": info.ops,
        "op_counts": {op: sum(1 for o in info.operators if o.op == op) for op in info.ops},
        "custom_ops": sorted({o.op for o in info.operators if o.custom}),
        "inputs": [t.to_json() for t in info.input_tensors()],
        "outputs": [t.to_json() for t in info.output_tensors()],
        "macs": info.macs,
        "int8": not info.float_ops,
        "tflm_supported": probe.supported,
        "unsupported_ops": list(probe.unsupported_ops),
        "tflm_error": probe.error,
        "arena_bytes": probe.arena_bytes,
        "arena_head_bytes": probe.arena_head_bytes,
        "arena_tail_bytes": probe.arena_tail_bytes,
    }


def add_board(report: dict, reporter=None) -> dict:
    """The board's figures beside the host's: what the board's own TFLM library (Chirale_TensorFLowLite,
    built for an emulated 32-bit Cortex-M4) registers, runs and allocates. Not measured (and said why)
    where that library, the ARM compiler or QEMU is absent."""
    # The one import against the pipeline's direction (tests/test_layers.py): the board's figures are
    # measured by running a TFLM project that codegen writes.
    from tinyml.codegen.tflm_board import BoardLibrary

    lib = BoardLibrary.find(reporter=reporter)
    report.update(board_library=lib.label, board_runs=None, board_arena_bytes=None, board_arena_used_bytes=None,
                  board_note=lib.unavailable or None,
                  board_defects=board_defects(flatbuffer.read(report["model"])))
    if lib.tree is None or not report["tflm_supported"]:
        return report
    info = flatbuffer.read(report["model"])
    try:
        lib.check_ops(info)
        need = lib.arena(info.path)
    except BadInput as exc:
        report.update(board_runs=False, board_note=str(exc))
        return report
    report.update(board_runs=True, board_arena_bytes=need.arena_bytes, board_arena_used_bytes=need.arena_used_bytes,
                  board_self_check=need.self_check)
    return report


def unsupported_error(report: dict) -> BadInput:
    if not report["unsupported_ops"]:  # every op has a kernel: TFLM refused (or crashed on) the model itself
        return BadInput(f"Expected a model the TFLM interpreter can run. Received: '{report['model']}', which it "
                        f"cannot: {report['tflm_error']}. Check the model with `tinyml inspect`, or convert it again.")
    ops = ", ".join(report["unsupported_ops"])
    return BadInput(f"Expected a model the TFLM interpreter can run. Received: '{report['model']}' uses {ops}, "
                    f"which TFLM has no kernel for ({report['tflm_error']}). Replace the op or retrain without it.")


def _quant(t: dict) -> str:
    q = t["quantization"]
    if not q:
        return "not quantized"
    scales = q["scales"]
    if len(scales) == 1:
        return f"scale {scales[0]:.6g}, zero point {q['zero_points'][0]}"
    return f"per-channel ({len(scales)} scales, axis {q['quantized_dimension']})"


def render(report: dict) -> str:
    kb = report["model_bytes"] / 1024
    lines = [f"model       {report['model']} ({report['model_bytes']:,} B = {kb:.1f} KiB)",
             "ops         " + ", ".join(f"{op} x{n}" for op, n in report["op_counts"].items())]
    for kind in ("inputs", "outputs"):
        for t in report[kind]:
            lines.append(f"{kind[:-1]:<11} {t['name']} {t['dtype']} {t['shape']} ({_quant(t)})")
    lines.append(f"MACs        {report['macs']:,} per inference")
    if report["tflm_supported"]:
        lines.append(f"TFLM        runs it; arena {report['arena_bytes']:,} B "
                     f"(head {report['arena_head_bytes']:,} + tail {report['arena_tail_bytes']:,}, "
                     "as allocated by the TFLM interpreter on this 64-bit host)")
    else:
        lines.append("TFLM        cannot run it: " + (f"missing {', '.join(report['unsupported_ops'])}"
                                                    if report["unsupported_ops"] else str(report["tflm_error"])))
    if "board_library" in report:
        if report["board_runs"]:
            lines.append(f"board       {report['board_library']} on an emulated Cortex-M4: runs it; arena "
                         f"{report['board_arena_bytes']:,} B (the smallest that allocates; it reports "
                         f"{report['board_arena_used_bytes']:,} B used)"
                         + ("" if report["board_self_check"] else "; its outputs DIFFER from the host's"))
        else:
            lines.append(f"board       {report['board_library']}: {report['board_note']}")
        lines += [f"            computes it differently from the host: {d}" for d in report["board_defects"]]
    return "\n".join(lines)
