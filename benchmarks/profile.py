"""Instructions per layer, tinyml's AOT C against the board's TFLM with CMSIS-NN, on one emulated Cortex-M4.

    python benchmarks/profile.py [--json] [--inputs N] [MODEL.tflite ...]

Each model runs twice under `tinyml emulate --profile` (QEMU mps2-an386, -icount shift=0, the exact
instruction-count plugin, outputs checked against the host's TFLM interpreter): the AOT backend, and the
TFLM sketch with Chirale_TensorFLowLite (TFLM of 2023-01) and its CMSIS-NN kernels, built as the board
builds it (-Os). One table per model: every op with its output shape and MACs, each backend's
instructions and instructions per MAC, and AOT / TFLM. An op's count is the largest over the inputs.
The last rows are the sum of the ops, what runs between them (dispatch and markers) and the whole
inference of the profiling build.

Without arguments: the default KWS DS-CNN (from `make demo-kws` when it was run here, otherwise the same
architecture untrained: instruction counts follow the shapes, not the weights) and person_detect from
../shared/reference, found the way benchmarks/backends.py finds them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from backends import default_models  # benchmarks/backends.py, beside this script

DEFAULT_MODELS = ("KWS dscnn", "person_detect")
BACKENDS = (("aot", "aot"), ("tflm-cmsis-nn", "tflm"))


def measure(model: Path, work: Path, inputs: int) -> dict:
    from tinyml.errors import BadInput
    from tinyml.evaluate.emulate import emulate

    found = {}
    for key, backend in BACKENDS:
        try:
            r = emulate(model, work / key, inputs=inputs, backend=backend, kernels="cmsis-nn", profile=True)
        except BadInput as exc:
            found[key] = {"refused": str(exc)}
            continue
        found[key] = {"profile": r["profile"], "totals": r["profile_totals"], "matches_host": r["outputs_match_host"]}
    return found


def _ratio(a: int | None, b: int | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def render(name: str, source: str, results: dict) -> str:
    aot, tflm = results["aot"], results["tflm-cmsis-nn"]
    lines = [f"{name} ({source})"]
    for key, r in results.items():
        if "refused" in r:
            lines.append(f"  {key} refused: {r['refused']}")
        elif not r["matches_host"]:
            lines.append(f"  {key}: outputs DIFFERENT from the host's TFLM")
    if "refused" in aot or "refused" in tflm:
        return "\n".join(lines)
    rows = [["#", "op", "output", "MACs", "AOT", "instr/MAC", "TFLM+CMSIS-NN", "instr/MAC", "AOT/TFLM"]]
    for a, t in zip(aot["profile"], tflm["profile"]):
        rows.append([str(a["index"]), a["op"], "x".join(map(str, a["output_shape"])),
                     f"{a['macs']:,}" if a["macs"] else "-",
                     f"{a['instructions']:,}" if a["marked"] else "0 (no code)",
                     f"{a['instructions_per_mac']:.2f}" if a["instructions_per_mac"] else "-",
                     f"{t['instructions']:,}", f"{t['instructions_per_mac']:.2f}" if t["instructions_per_mac"] else "-",
                     _ratio(a["instructions"], t["instructions"])])
    for label, key in (("sum of the ops", "ops_instructions"), ("between the ops", "overhead_instructions"),
                       ("whole inference", "inference_instructions")):
        x, y = aot["totals"][key], tflm["totals"][key]
        rows.append(["", label, "", "", f"{x:,}", "", f"{y:,}", "", _ratio(x, y)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        lines.append("  " + "  ".join(c.ljust(w) if i in (1, 2) else c.rjust(w)
                                      for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    for key, r in (("AOT", aot), ("TFLM", tflm)):
        varying = [row for row in r["profile"] if row["instructions"] != row["instructions_min"]]
        if not varying:
            lines.append(f"  {key}: every op's count is the same for every input")
            continue
        worst = max(varying, key=lambda row: row["instructions"] - row["instructions_min"])
        fewer = worst["instructions"] - worst["instructions_min"]
        lines.append(f"  {key}: {len(varying)} op(s) take fewer instructions on some inputs, at most {fewer:,} fewer "
                     f"(op {worst['index']}, {fewer / worst['instructions']:.3%} of it)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", type=Path)
    p.add_argument("--inputs", type=int, default=3, help="seeded inputs per backend (default: 3)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tinyml-profile-") as tmp:
        work = Path(tmp)
        chosen = ([(m.stem, m, str(m)) for m in args.models] or
                  [m for m in default_models(work) if m[0] in DEFAULT_MODELS])
        reports = []
        for i, (name, model, source) in enumerate(chosen):
            print(f"[{i + 1}/{len(chosen)}] {name}", file=sys.stderr, flush=True)
            reports.append({"name": name, "source": source, "results": measure(model, work / f"m{i}", args.inputs)})
    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        print("\n\n".join(render(r["name"], r["source"], r["results"]) for r in reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
