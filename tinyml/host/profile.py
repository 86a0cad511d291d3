"""`tinyml emulate --profile`: instructions per op on the emulated Cortex-M4.

A profiling build (-DTINYML_PROFILE) calls two more marker functions around each op: the AOT model
around each kernel call (tinyml_model.c, TINYML_OP_BEGIN / TINYML_OP_END), the TFLM sketch from a
MicroProfilerInterface that TFLM calls around each op's invoke (firmware/emulator/tflm_main.cpp).
The instruction-count plugin counts two spans, the whole inference and each op, and writes one
"TAG COUNT" line as each span ends, in the order they end: an inference's op lines come before its
own inference line. Without TINYML_PROFILE the markers are not compiled in, so an ordinary build
and its counts are unchanged.

What an op's span holds: the begin marker's return, the kernel call (its arguments, the call, the
kernel) and the end marker's argument; for TFLM also the rest of the profiler's BeginEvent and the
start of its EndEvent, and the allocator's ResetTempAllocations, which TFLM runs inside the op's
profiling scope. What falls between spans (the dispatch: TFLM's loop over
the nodes and its virtual profiler calls, the AOT code's own sequencing, the markers' calls) is the
overhead, reported as the whole inference minus the sum of the ops.
"""

from __future__ import annotations

import re
from pathlib import Path

from tinyml.errors import TinymlError

PROFILE_FLAG = "-DTINYML_PROFILE"
INFERENCE_TAG, OP_TAG = "inference", "op"
SPANS = {INFERENCE_TAG: ("tinyml_mark_begin", "tinyml_mark_end"),
         OP_TAG: ("tinyml_mark_op_begin", "tinyml_mark_op_end")}


def aot_marked_ops(model_c: Path) -> list[int]:
    """The op indices the generated tinyml_model.c brackets with markers (every op with a kernel call;
    a RESHAPE only reinterprets its input's bytes and has none)."""
    return [int(k) for k in re.findall(r"TINYML_OP_BEGIN\((\d+)\);", model_c.read_text())]


def spans_per_inference(counts: Path) -> list[tuple[int, list[int]]]:
    """The plugin's tagged output as [(inference count, [op count, ...]), ...], one per inference.

    Op spans that end outside any inference (before the first, after the last) would be an error in
    the firmware: its markers run only inside inferences."""
    found, ops = [], []
    for line in counts.read_text().splitlines() if counts.is_file() else []:
        tag, _, count = line.partition(" ")
        if tag == OP_TAG:
            ops.append(int(count))
        elif tag == INFERENCE_TAG:
            found.append((int(count), ops))
            ops = []
    if ops:
        raise TinymlError(f"The profiling firmware counted {len(ops)} op span(s) after its last inference; "
                          "its op markers must run only inside one")
    return found


def profile(info, counts: Path, marked: list[int]) -> tuple[list[dict], dict]:
    """Per-op rows (every op of the graph, in execution order) and the totals, from the plugin's counts.

    `marked`: the op indices whose spans the firmware counts, in order; an op not in it ran no code of its
    own (0 instructions). An op's instructions are the largest over the inferences; `instructions_min` the
    smallest (they differ where a kernel branches on the data)."""
    runs = spans_per_inference(counts)
    if not runs:
        raise TinymlError(f"Expected the instruction-count plugin's spans in {counts}. Received: none. "
                          "Check that QEMU loads the plugin (qemu-system-arm with plugin support).")
    for n, (_, ops) in enumerate(runs):
        if len(ops) != len(marked):
            raise TinymlError(f"Expected {len(marked)} op spans in inference {n + 1} (the ops the firmware marks). "
                              f"Received: {len(ops)}. The firmware's op markers and the model disagree.")
    whole = [total for total, _ in runs]
    per_op = {k: [ops[j] for _, ops in runs] for j, k in enumerate(marked)}
    inference = max(whole)
    rows = []
    for k, op in enumerate(info.operators):
        counted = per_op.get(k, [0])
        instructions = max(counted)
        rows.append({
            "index": k, "op": op.op, "output_shape": list(info.tensors[op.outputs[0]].shape) if op.outputs else [],
            "macs": op.macs, "instructions": instructions, "instructions_min": min(counted), "marked": k in per_op,
            "instructions_per_mac": round(instructions / op.macs, 2) if op.macs else None,
            "share": round(instructions / inference, 4) if inference else 0.0,
        })
    ops_summed = sum(runs[whole.index(inference)][1])  # in the inference with the largest count
    varies = sorted({r["index"] for r in rows if r["instructions"] != r["instructions_min"]})
    totals = {
        "inference_instructions": inference, "ops_instructions": ops_summed,
        "overhead_instructions": inference - ops_summed,
        "marked_ops": len(marked), "inferences": len(runs),
        "instructions_of": "ops: the largest over the inferences; totals: of the inference with the largest count",
        "same_every_input": not varies and len(set(whole)) == 1,
        "ops_that_vary": varies,
    }
    return rows, totals


def render_profile(rows: list[dict], totals: dict) -> str:
    """The per-op table printed after `tinyml emulate`'s summary."""
    varies = not totals["same_every_input"]
    head = ["#", "op", "output", "MACs", "instructions"] + (["min"] if varies else []) + ["instr/MAC", "%"]
    table = [head]
    for r in rows:
        low = [f"{r['instructions_min']:,}" if r["instructions_min"] != r["instructions"] else ""] if varies else []
        table.append([str(r["index"]), r["op"], "x".join(str(d) for d in r["output_shape"]) or "-",
                      f"{r['macs']:,}" if r["macs"] else "-",
                      f"{r['instructions']:,}" if r["marked"] else "0 (no code)", *low,
                      f"{r['instructions_per_mac']:.2f}" if r["instructions_per_mac"] else "-",
                      f"{100 * r['share']:.1f}"])
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    of = (f"the largest of {totals['inferences']} inferences; min: the smallest, where an op's count depends on "
          "its input" if varies else f"the same in each of {totals['inferences']} inferences")
    lines = [f"  instructions per op ({of}):"]
    for row in table:
        lines.append("    " + "  ".join(cell.ljust(w) if i in (1, 2) else cell.rjust(w)
                                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    ops, overhead, marked = totals["ops_instructions"], totals["overhead_instructions"], totals["marked_ops"]
    lines.append(f"  ops {ops:,} + between them {overhead:,} (dispatch and markers: {overhead / max(marked, 1):.0f} "
                 f"per op) = {totals['inference_instructions']:,} per inference in this profiling build")
    return "\n".join(lines)
