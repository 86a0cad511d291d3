"""`tinyml emulate MODEL.tflite [--json]`: the model's firmware on QEMU's Cortex-M4, checked against TFLM."""

from __future__ import annotations

import json
from pathlib import Path


def add_arguments(p) -> None:
    p.add_argument("model", help="an int8 .tflite model the AOT backend accepts")
    p.add_argument("-o", "--out", help="emulator project folder (default: ./build/emulator/<model name>)")
    p.add_argument("--inputs", type=int, default=8, help="seeded random inputs to run (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the inputs (default: 0)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for each answer before calling the firmware hung (default: 60)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def render(r: dict) -> str:
    def kb(n):
        return f"{n:,} B ({n / 1024:.1f} KiB)"

    ram_total = r["ram_bytes"] + r["stack_bytes"]
    match = "identical to" if r["outputs_match_host"] else "DIFFERENT from"
    lines = [
        f"{r['model']} on QEMU {r['board']} ({r['inputs_checked']} inputs): outputs {match} the host's TFLM interpreter",
        f"  instructions per inference  {r['instructions_per_inference']:,} "
        f"(min {r['instructions_min']:,}; {r['instruction_counter']})",
        f"  latency at 64 MHz           {r['latency_ms_at_64mhz']:.2f} ms ({r['latency_assumption']})",
    ]
    if r.get("instructions_per_mac"):
        lines.append(f"  instructions per MAC        {r['instructions_per_mac']:.2f} ({r['macs']:,} MACs; "
                     "the Cortex-M4 floor is about 0.5 cycles per int8 MAC)")
    lines += [
        "  memory                      used                          nRF52840 budget",
        f"  flash (text + data)         {kb(r['flash_bytes']):<29} {kb(r['flash_budget'])}",
        f"  RAM (data + bss)            {kb(r['ram_bytes']):<29}",
        f"    of which arena            {kb(r['arena_bytes']):<29}",
        f"  stack high-water            {kb(r['stack_bytes']):<29}",
        f"  RAM total                   {kb(ram_total):<29} {kb(r['ram_budget'])}",
    ]
    return "\n".join(lines)


def run(args, reporter) -> int:
    from tinyml.errors import BadInput
    from tinyml.firmware.emulate import emulate

    if args.inputs < 1 or args.seed < 0 or args.timeout <= 0:
        raise BadInput(f"Expected --inputs >= 1, --seed >= 0 and --timeout > 0. Received: {args.inputs}, "
                       f"{args.seed}, {args.timeout:g}.")
    model = Path(args.model)
    out = Path(args.out) if args.out else Path("build") / "emulator" / model.stem
    result = emulate(model, out, inputs=args.inputs, seed=args.seed, timeout_s=args.timeout, reporter=reporter)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0 if result["outputs_match_host"] else 1
