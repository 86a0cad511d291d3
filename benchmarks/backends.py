"""The backends side by side on one emulated Cortex-M4: tinyml's AOT C, and the generated TFLM sketch with
the board's own library (Chirale_TensorFLowLite: TFLM of 2023-01) with its reference and its CMSIS-NN kernels, and the CMSIS-NN build at -O2 (faster than the board's
-Os build; what a user could get by changing the flags).

    python benchmarks/backends.py [--json] [--random N [--seed S]] [MODEL.tflite ...]

Every figure comes from one run of `tinyml emulate` (QEMU mps2-an386, -icount shift=0, the exact
instruction-count plugin) with the outputs checked against the host's TFLM interpreter:
instructions per inference (the largest over the inputs), flash (text + data), RAM (data + bss + stack
high-water) and the arena (AOT: its static plan; TFLM: what the interpreter uses, and what codegen reserves).
The TFLM library is built with the Nano 33 BLE variant's code generation flags (-Os), as the board gets it.

`--random N`: instead, N random small int8 networks (convolutions of any kernel, stride and padding,
depthwise convolutions, pools, dense layers, channel counts that are not multiples of four, one-channel
inputs) drawn from `--seed`: models nobody tuned the kernels on.

Without arguments: the demo gesture model and the default KWS model (from `make demo` / `make demo-kws` when
they were run here; otherwise the same architectures untrained: instruction counts follow the shapes, not
the weights), micro_speech, person_detect and hello_world from ../shared/reference, and a float model.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO.parent / "shared" / "reference"
BACKENDS = (("aot", "aot", None), ("tflm-reference", "tflm", "reference"), ("tflm-cmsis-nn", "tflm", "cmsis-nn"),
            ("tflm-cmsis-nn-O2", "tflm", "cmsis-nn"))


def o2_target():
    """The library at -O2 instead of the board's -Os: not what the board gets, but what a user could get by
    changing the build flags, so the fastest TFLM to compare against."""
    import dataclasses

    from tinyml.host import tflm_lib

    common = tuple("-O2" if f == "-Os" else f for f in tflm_lib.MPS2.common)
    return dataclasses.replace(tflm_lib.MPS2, name="mps2-O2", common=common)


def _ptq(model, shape, out: Path, seed: int) -> Path:
    import numpy as np

    from tinyml.quantize.ptq import convert_int8

    calibration = np.random.default_rng(seed).normal(0, 1, size=(64, *shape)).astype("float32")
    out.write_bytes(convert_int8(model, calibration))
    return out


def default_models(work: Path) -> list[tuple[str, Path, str]]:
    """(name, model, where it comes from)."""
    from tinyml import tf as tfload
    from tinyml.config import GESTURES, KWS_LABELS
    from tinyml.train.model import build_cnn, build_dscnn

    tf, keras = tfload.load()
    keras.utils.set_random_seed(0)
    found = []
    demo = REPO / "tinyml-demo" / "build" / "model_int8.tflite"
    if demo.is_file():
        found.append(("demo gesture cnn", demo, "make demo"))
    else:
        m = build_cnn(keras, (119, 1, 6), len(GESTURES))  # [window, 1, axes], as train/windows.py shapes it
        found.append(("demo gesture cnn", _ptq(m, (119, 1, 6), work / "gesture_cnn.tflite", 1), "untrained"))
    kws = REPO / "tinyml-demo-kws" / "build" / "model_int8.tflite"
    if kws.is_file():
        found.append(("KWS dscnn", kws, "make demo-kws"))
    else:
        m = build_dscnn(keras, (49, 40, 1), len(KWS_LABELS))
        found.append(("KWS dscnn", _ptq(m, (49, 40, 1), work / "kws_dscnn.tflite", 2), "untrained"))
    for name, rel in (("micro_speech", "micro_speech/micro_speech_quantized.tflite"),
                      ("person_detect", "models/person_detect.tflite"),
                      ("hello_world", "models/hello_world_int8.tflite")):
        if (REFERENCE / rel).is_file():
            found.append((name, REFERENCE / rel, "TFLM's, ../shared/reference"))
    sys.path.insert(0, str(REPO / "tests"))
    import models

    found.append(("float conv (float32)", models.float_conv(work / "float_conv.tflite"), "tests/models.py"))
    return found


def random_models(work: Path, count: int, seed: int) -> list[tuple[str, Path, str]]:
    """`count` random small networks, int8 by PTQ on Gaussian calibration data, named after their layers."""
    import numpy as np

    from tinyml import tf as tfload

    tf, keras = tfload.load()
    L = keras.layers
    rng = np.random.default_rng(seed)
    found = []
    for i in range(count):
        keras.utils.set_random_seed(int(rng.integers(1 << 30)))
        shape = (int(rng.integers(8, 50)), int(rng.choice([1, 3, 8, 13, 24, 40])), int(rng.choice([1, 2, 3, 6, 8, 16])))
        x_in = keras.Input(shape=shape, batch_size=1)
        x, parts = x_in, []
        for _ in range(int(rng.integers(2, 6))):
            h, w = int(x.shape[1]), int(x.shape[2])
            kind = str(rng.choice(["conv", "conv", "pointwise", "depthwise", "pool"]))
            kh, kw = int(rng.integers(1, min(h, 5) + 1)), int(rng.integers(1, min(w, 5) + 1))
            stride = int(rng.choice([1, 1, 2])) if min(h, w) >= 4 else 1
            padding = str(rng.choice(["same", "valid"]))
            act = rng.choice([None, "relu", "relu6"])
            if kind == "conv":
                x = L.Conv2D(int(rng.integers(3, 49)), (kh, kw), strides=stride, padding=padding, activation=act)(x)
            elif kind == "pointwise":
                x = L.Conv2D(int(rng.integers(3, 65)), 1, activation=act)(x)
            elif kind == "depthwise":
                x = L.DepthwiseConv2D((kh, kw), strides=stride, padding=padding, activation=act,
                                      depth_multiplier=int(rng.choice([1, 1, 1, 2])))(x)
            else:
                x = (L.MaxPooling2D if rng.random() < 0.5 else L.AveragePooling2D)((min(h, 2), min(w, 2)))(x)
            parts.append(f"{kind}{kh}x{kw}" if kind in ("conv", "depthwise") else kind)
        x = L.Flatten()(x)
        x = L.Dense(int(rng.integers(2, 12)), activation="softmax")(x)
        name = f"random {i}: {list(shape)} " + " ".join(parts)
        found.append((name, _ptq(keras.Model(x_in, x), shape, work / f"random{i}.tflite", i), f"--random, seed {seed}"))
    return found


def measure(model: Path, work: Path) -> dict:
    from tinyml.errors import BadInput
    from tinyml.evaluate.emulate import emulate

    row = {}
    for key, backend, kernels in BACKENDS:
        try:
            r = emulate(model, work / key, inputs=3, backend=backend, kernels=kernels or "cmsis-nn",
                        tflm_target=o2_target() if key.endswith("-O2") else None)
        except BadInput as exc:
            row[key] = {"refused": str(exc)}
            continue
        row[key] = {"instructions": r["instructions_per_inference"], "flash": r["flash_bytes"],
                    "ram": r["ram_bytes"] + r["stack_bytes"], "arena": r["arena_bytes"],
                    "arena_reserved": r.get("arena_reserved_bytes", r["arena_bytes"]),
                    "matches_host": r["outputs_match_host"], "macs": r["macs"]}
    return row


def render(rows: list[dict]) -> str:
    head = ("| model | MACs | backend | instructions | vs CMSIS-NN | flash B | RAM B (data+bss+stack) | arena B "
            "(reserved) | outputs = host |")
    lines = [head, "|" + "---|" * 9]
    for row in rows:
        base = row["results"]["tflm-cmsis-nn"].get("instructions")
        for key, _, _ in BACKENDS:
            r = row["results"][key]
            label = f"{row['name']} ({row['source']})" if key == "aot" else ""
            macs = f"{row['macs']:,}" if key == "aot" else ""
            if "refused" in r:
                lines.append(f"| {label} | {macs} | {key} | refused: {r['refused'][:70]}... | | | | | |")
                continue
            ratio = f"{r['instructions'] / base:.2f}x" if base else ""
            lines.append(f"| {label} | {macs} | {key} | {r['instructions']:,} | {ratio} | {r['flash']:,} | "
                         f"{r['ram']:,} | {r['arena']:,} ({r['arena_reserved']:,}) | "
                         f"{'yes' if r['matches_host'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("--random", type=int, default=0, metavar="N", help="N random networks instead of the defaults")
    p.add_argument("--seed", type=int, default=2026, help="the random networks' seed")
    args = p.parse_args(argv)
    from tinyml.quantize import flatbuffer

    with tempfile.TemporaryDirectory(prefix="tinyml-backends-") as tmp:
        work = Path(tmp)
        chosen = [(m.stem, m, str(m)) for m in args.models] or \
            (random_models(work, args.random, args.seed) if args.random else default_models(work))
        rows = []
        for i, (name, model, source) in enumerate(chosen):
            print(f"[{i + 1}/{len(chosen)}] {name}", file=sys.stderr, flush=True)
            rows.append({"name": name, "source": source, "macs": flatbuffer.read(model).macs,
                         "results": measure(model, work / f"m{i}")})
    print(json.dumps(rows, indent=2) if args.json else render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
