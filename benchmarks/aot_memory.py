"""AOT backend against the TFLM interpreter: arena, static RAM, flash, host speed.

    python benchmarks/aot_memory.py [MODEL.tflite ...]

Without arguments: the reference models in ../shared/reference (when present)
and the built-in demo's gesture model (trained here if ./tinyml-demo is absent,
with `tinyml demo --small`).

- TFLM arena: bytes the TFLM interpreter allocates (host, 64-bit), and its head
  (the activation plan alone: a strict lower bound for TFLM on any target).
- AOT RAM: arena + every other static byte of the generated code (data + bss),
  cross-compiled for the nRF52840 (Cortex-M4F, -Os). The stack comes with the
  emulation work.
- Host speed: the same inputs through the AOT code (compiled with gcc -O2) and
  through the TFLM Python interpreter, timed in the same run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
M4F = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-Os", "-std=c99",
       "-ffunction-sections", "-fdata-sections"]


def default_models() -> list[Path]:
    ref = REPO.parent / "shared" / "reference"
    models = [ref / "micro_speech" / "micro_speech_quantized.tflite", ref / "models" / "person_detect.tflite",
              ref / "models" / "hello_world_int8.tflite"]
    models = [m for m in models if m.is_file()]
    demo = REPO / "tinyml-demo" / "build" / "model_int8.tflite"
    if not demo.is_file():
        from tinyml.cli import main

        tmp = Path(tempfile.mkdtemp()) / "demo"
        main(["--quiet", "demo", "--small", "--dir", str(tmp)])
        demo = tmp / "build" / "model_int8.tflite"
    return [demo, *models]


def m4_sizes(gen: Path, work: Path) -> tuple[int, int, int]:
    gcc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if not gcc or not size:
        raise SystemExit("arm-none-eabi-gcc is not installed: run `make setup`")
    objects = []
    for src in ("tinyml_model.c", "tinyml_kernels.c"):
        obj = work / (src + ".o")
        subprocess.run([gcc, *M4F, "-c", str(gen / src), "-o", str(obj)], check=True)
        objects.append(str(obj))
    out = subprocess.run([size, "-B", "--totals", *objects], capture_output=True, text=True, check=True).stdout
    text, data, bss = (int(v) for v in out.strip().splitlines()[-1].split()[:3])
    return text, data, bss


def host_speed(model: Path, gen: Path, work: Path, n: int = 300) -> tuple[float, float]:
    from tinyml.codegen.aot.host import compile_host, run_host
    from tinyml.quantize.tflm import Runner

    runner = Runner(model.read_bytes())
    shape, dtype = runner.input["shape"], np.dtype(runner.input["dtype"])
    xs = np.random.default_rng(0).integers(-128, 128, size=(n, int(np.prod(shape)))).astype(dtype)
    exe = compile_host(gen, work / "runner")
    out_bytes = int(np.prod(runner.output["shape"])) * np.dtype(runner.output["dtype"]).itemsize
    start = time.perf_counter()
    run_host(exe, xs.view(np.uint8).reshape(n, -1), out_bytes)
    aot = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for x in xs:
        runner.invoke(x.reshape(shape))
    tflm = (time.perf_counter() - start) / n
    return aot, tflm


def main(argv: list[str]) -> int:
    from tinyml.codegen.aot.generate import generate_aot
    from tinyml.quantize.inspect import inspect

    models = [Path(a) for a in argv] or default_models()
    rows = []
    for model in models:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            summary = generate_aot(model, work / "gen")
            tflm = inspect(model)
            text, data, bss = m4_sizes(work / "gen", work)
            aot_s, tflm_s = host_speed(model, work / "gen", work)
            rows.append((model.name, tflm["arena_bytes"], tflm["arena_head_bytes"], summary["arena_bytes"],
                         data + bss, text, data, bss, aot_s, tflm_s))
    print("| model | TFLM arena | TFLM head | AOT arena | AOT RAM (data+bss) | RAM vs TFLM arena | "
          "RAM vs TFLM head | text | data | bss | host us/inf AOT | TFLM | TFLM/AOT |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, arena, head, aot, ram, text, data, bss, aot_s, tflm_s in rows:
        print(f"| {name} | {arena:,} | {head:,} | {aot:,} | {ram:,} | {100 * (ram / arena - 1):+.0f}% | "
              f"{100 * (ram / head - 1):+.0f}% | {text:,} | {data:,} | {bss:,} | {aot_s * 1e6:,.0f} | "
              f"{tflm_s * 1e6:,.0f} | {tflm_s / aot_s:.1f}x |")
    total_tflm = sum(r[1] for r in rows)
    total_aot = sum(r[4] for r in rows)
    print(f"\nall models: AOT RAM {total_aot:,} B vs TFLM arena {total_tflm:,} B ({100 * (total_aot / total_tflm - 1):+.0f}%)")
    print("TFLM's RAM on the board is its arena plus the interpreter, resolver and library state, so the "
          "arena is already an underestimate of what TFLM needs; its head is the strict lower bound.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
