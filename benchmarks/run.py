"""Host-side throughput of the pipeline's hot paths, as ratios against a baseline
measured in the same run (these machines are noisy; absolute times are not compared).

    python benchmarks/run.py

1. Dataset loading: tinyml's validated CSV reader (hash, header, timestamp-rate
   checks) against a bare `numpy.loadtxt` of the same files, and as a multiple of
   the IMU's real-time data rate.
2. int8 inference on the host: the TFLM interpreter (what the board runs) against
   LiteRT's reference kernels on the same windows, per window.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_loading(root: Path) -> None:
    from tinyml.collect.dataset import load

    ds = load(root)
    paths = [root / r.file for r in ds.recordings]
    ours = best_of(lambda: [ds.read(r) for r in ds.recordings])
    base = best_of(lambda: [np.loadtxt(p, delimiter=",", skiprows=1) for p in paths])
    samples = sum(r.samples for r in ds.recordings)
    recorded_s = samples / ds.sample_rate
    print(f"dataset loading: {len(paths)} CSV files, {samples:,} samples ({recorded_s:.0f} s of IMU data)")
    print(f"  tinyml reader (validated): {ours * 1e3:8.1f} ms = {recorded_s / ours:,.0f}x real time")
    print(f"  numpy.loadtxt (baseline):  {base * 1e3:8.1f} ms")
    print(f"  ratio tinyml / baseline:   {ours / base:8.2f}")


def bench_inference(root: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from tinyml import config
    from tinyml.collect.dataset import load
    from tinyml.quantize.ptq import convert_int8
    from tinyml.quantize.tflm import Runner, quantize
    from tinyml.tf import load as load_tf
    from tinyml.train.inputs import project_windows
    from tinyml.train.model import build_cnn

    cfg = config.load(root)
    windows = project_windows(cfg, load(root / "data"), "train")
    _, keras = load_tf()
    keras.utils.set_random_seed(0)
    model = build_cnn(keras, windows.x.shape[1:], len(cfg["project.labels"]))
    raw = convert_int8(model, windows.x[:50])
    runner = Runner(raw)
    q = runner.input["quantization_parameters"]
    xs = [quantize(x, float(q["scales"][0]), int(q["zero_points"][0]))[None] for x in windows.x[:200]]
    ref = Interpreter(model_content=raw,
                      experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ref.allocate_tensors()
    index = ref.get_input_details()[0]["index"]

    def litert():
        for x in xs:
            ref.set_tensor(index, x)
            ref.invoke()

    tflm = best_of(lambda: [runner.invoke(x) for x in xs])
    lite = best_of(litert)
    print(f"int8 inference, {len(xs)} windows of the gesture CNN:")
    print(f"  TFLM interpreter:            {tflm / len(xs) * 1e6:8.1f} us/window")
    print(f"  LiteRT reference (baseline): {lite / len(xs) * 1e6:8.1f} us/window")
    print(f"  ratio TFLM / LiteRT:         {tflm / lite:8.2f}")


def main() -> int:
    from tinyml import config
    from tinyml.artifacts import write_text
    from tinyml.collect.synthetic import write_gestures

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_text(root / "tinyml.toml", config.render_toml(config.load(root, environ={}).values))
        write_gestures(root / "data", per_class=20, seed=1)
        bench_loading(root / "data")
        bench_inference(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
