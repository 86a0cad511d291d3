"""Models on the emulated Cortex-M4 (QEMU mps2-an386, -icount shift=0): exact instruction counts,
instructions per multiply-accumulate, and flash/RAM against the nRF52840's budget.

    python benchmarks/emulator.py [MODEL.tflite ...]

Without arguments: the demo's gesture model (./tinyml-demo, or a small demo trained here) and the
reference models in ../shared/reference. Instruction counts are exact (tinyml's QEMU plugin) and
repeatable, so they are compared across runs without noise; the latency column assumes one
instruction per cycle at 64 MHz.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aot_memory import default_models  # noqa: E402


def main(argv: list[str]) -> int:
    from tinyml.evaluate.emulate import emulate

    models = [Path(a) for a in argv] or default_models()
    print("| model | MACs | instructions/inference | instr/MAC | ms at 64 MHz | flash B | RAM B (data+bss) "
          "| stack B | RAM+stack B | fits nRF52840 | outputs = TFLM |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for model in models:
        with tempfile.TemporaryDirectory() as tmp:
            r = emulate(model, Path(tmp) / "emu", inputs=3)
        ram = r["ram_bytes"] + r["stack_bytes"]
        fits = r["flash_bytes"] <= r["flash_budget"] and ram <= r["ram_budget"]
        per_mac = f"{r['instructions_per_mac']:.2f}" if r["instructions_per_mac"] else "-"
        print(f"| {model.name} | {r['macs']:,} | {r['instructions_per_inference']:,} | {per_mac} | "
              f"{r['latency_ms_at_64mhz']:,.2f} | {r['flash_bytes']:,} | {r['ram_bytes']:,} | {r['stack_bytes']:,} | "
              f"{ram:,} | {'yes' if fits else 'NO'} | {'yes' if r['outputs_match_host'] else 'NO'} |")
    print("\nnRF52840 budget: flash 983,040 B (1 MB less the 64 KB bootloader), RAM 262,144 B. "
          "Cortex-M4 floor: about 0.5 cycles per int8 MAC (SMLAD: two 16-bit MACs per cycle).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
