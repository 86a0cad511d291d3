"""Built-in gestures against real ones: recordings other people made with a Nano 33 BLE Sense.

    python benchmarks/gestures_real.py [--model M.tflite ...] [--before REV] [--plot docs/gestures.png]

Imports the real punch and flex gestures of ../shared/reference/imu_gestures with `tinyml collect
--import` (the Rev1 ChiaHong95 folder, and the Rev2 AdamClarkStandke punches with `--imu bmi270`),
then prints:

- which rotation rule the real readings follow while a board turns slowly (d(a)/dt = +w x a for a
  left-handed accelerometer/gyroscope frame, -w x a for a right-handed one), and the built-in ones;
- per gesture, the distributions of what tells gestures apart in any grip (peak acceleration and
  turn rate, when the fastest turn comes after the capture starts, the angles turned each way, how
  long the board moves), real against built-in, and with `--before REV` against the built-in
  generator of an earlier git revision too; `--plot` draws them;
- with `--model`, each model's accuracy on the real gestures through `tinyml evaluate --split all`:
  per class and the confusion matrix.

The real recordings are a yardstick: nothing here trains on them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

from tinyml.collect import synthetic  # noqa: E402
from tinyml.collect.dataset import load  # noqa: E402
from tinyml.paths import checkout_reference  # noqa: E402

TINYML = [sys.executable, "-m", "tinyml.cli"]
REAL = {  # name -> (folder, files, extra import flags)
    "rev1": ("ChiaHong95+Gesture-Recognition-Arduino", ("punch.csv", "flex.csv"), ()),
    "rev2": ("AdamClarkStandke+TinyMachineLearning", ("punch.csv",), ("--imu", "bmi270")),
}
GESTURES = ("punch", "flex")
FEATURES = {  # name -> (label, unit)
    "peak_accel": ("peak |a|", "g"),
    "peak_gyro": ("peak |w|", "dps"),
    "fastest_row": ("fastest turn after the capture starts", "readings"),
    "turn_main": ("angle turned in the main direction", "deg"),
    "turn_back": ("angle turned back", "deg"),
    "moving": ("readings turning faster than 50 dps", "readings"),
}


def import_real(work: Path) -> dict[str, Path]:
    """Each real set as a dataset, through the import command users run."""
    shared = checkout_reference("imu_gestures")
    out = {}
    for name, (folder, files, flags) in REAL.items():
        data = work / name
        cmd = [*TINYML, "-q", "collect", "--import", *[str(shared / folder / f) for f in files], "-o", str(data),
               "--split", "test", *flags]
        subprocess.run(cmd, check=True, cwd=REPO.parent, stdout=subprocess.DEVNULL)
        out[name] = data
    return out


def captures(data: Path, label: str) -> list[np.ndarray]:
    ds = load(data)
    return [ds.read(r) for r in ds.recordings if r.label == label]


def builtin(module, label: str, count: int = 200) -> list[np.ndarray]:
    """Built-in recordings cut where a GestureToEmoji capture starts (LEAD readings in), 119 long."""
    by_name = {g.name: g for g in module.GESTURES}
    lead = getattr(module, "LEAD", None)
    out = []
    for i in range(count):
        rec = module.recording(by_name[label], np.random.default_rng([99, i]))
        if lead is None:  # a generator without a capture model: from the trigger, if the gesture reaches it
            hits = np.nonzero(np.abs(rec[:, :3]).sum(axis=1) >= 2.5)[0]
            start = int(hits[0]) + 1 if len(hits) and hits[0] + 120 <= len(rec) else 0
        else:
            start = lead
        out.append(rec[start:start + 119])
    return out


def features(g: np.ndarray) -> dict[str, float]:
    a, w = g[:, :3].astype(np.float64), g[:, 3:].astype(np.float64)
    rate = np.linalg.norm(w, axis=1)
    axis = np.linalg.svd(w, full_matrices=False)[2][0]
    about = w @ axis
    if about[np.argmax(np.abs(about))] < 0:
        about = -about
    return {"peak_accel": float(np.linalg.norm(a, axis=1).max()), "peak_gyro": float(rate.max()),
            "fastest_row": float(np.argmax(rate)),
            "turn_main": float(about.clip(0).sum() / synthetic.RATE_HZ),
            "turn_back": float(-about.clip(max=0).sum() / synthetic.RATE_HZ),
            "moving": float((rate > 50).sum())}


def generator_at(rev: str):
    """collect/synthetic.py as it was at git revision `rev`, as a module."""
    text = subprocess.run(["git", "show", f"{rev}:collect/synthetic.py"], cwd=REPO, check=True,
                          capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "synthetic_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("synthetic_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def describe(values: list[float]) -> str:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return f"{p50:7.1f} [{p10:6.1f}, {p90:6.1f}]"


def evaluate(model: Path, data: Path) -> dict:
    out = subprocess.run([*TINYML, "-q", "evaluate", str(model), "--data", str(data), "--split", "all", "--json"],
                         check=True, capture_output=True, text=True, cwd=REPO.parent).stdout
    return json.loads(out)


def plot(sets: dict[str, dict[str, list[dict]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(GESTURES), len(FEATURES), figsize=(3.1 * len(FEATURES), 3.0 * len(GESTURES)))
    colors = {"real Rev1": "black", "real Rev2": "dimgray", "built-in": "tab:blue", "built-in before": "tab:orange"}
    for r, gesture in enumerate(GESTURES):
        for c, (key, (label, unit)) in enumerate(FEATURES.items()):
            ax = axes[r][c]
            names = [n for n in sets if sets[n].get(gesture)]
            data = [[f[key] for f in sets[n][gesture]] for n in names]
            parts = ax.boxplot(data, patch_artist=True, widths=0.6, showfliers=False)
            for patch, n in zip(parts["boxes"], names):
                patch.set_facecolor(colors.get(n, "lightgray"))
                patch.set_alpha(0.6)
            ax.set_xticks(range(1, len(names) + 1), [n.replace(" ", "\n") for n in names], fontsize=7)
            ax.set_title(f"{gesture}: {label}", fontsize=8)
            ax.set_ylabel(unit, fontsize=8)
            ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", nargs="*", default=[], help="int8 gesture models to score on the real gestures")
    p.add_argument("--before", help="a git revision whose built-in generator to compare too (e.g. HEAD~1)")
    p.add_argument("--plot", help="write the distributions as a PNG here")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        real = import_real(Path(tmp))
        sets = {f"real {name.capitalize()}": {g: [features(x) for x in captures(data, g)] for g in GESTURES}
                for name, data in real.items()}
        generators = {"built-in": synthetic}
        if args.before:
            generators["built-in before"] = generator_at(args.before)
        raw = {name: {g: builtin(module, g) for g in GESTURES} for name, module in generators.items()}
        for name, by_gesture in raw.items():
            sets[name] = {g: [features(x) for x in xs] for g, xs in by_gesture.items()}

        print("rotation rule while turning slowly (recordings closer to the left-handed +w x a : the right-handed -w x a)")
        for name, data in real.items():
            for g in GESTURES:
                xs = captures(data, g)
                if xs:
                    left, right = synthetic.handedness(xs)
                    print(f"  real {name} {g:6s} {left:3d} : {right:3d}")
        for name, by_gesture in raw.items():
            for g, xs in by_gesture.items():
                left, right = synthetic.handedness(xs)
                print(f"  {name} {g:6s} {left:3d} : {right:3d}")

        print("\nmedian [10th, 90th percentile] over the captures")
        for g in GESTURES:
            print(f"  {g}")
            for key, (label, unit) in FEATURES.items():
                cells = "  ".join(f"{name}: {describe([f[key] for f in sets[name][g]])}"
                                  for name in sets if sets[name].get(g))
                print(f"    {label} ({unit}): {cells}")
        if args.plot:
            plot(sets, Path(args.plot))
            print(f"\nplot: {args.plot}")

        for model in args.model:
            print(f"\n{model}")
            for name, data in real.items():
                result = evaluate(Path(model), data)
                labels, matrix = result["labels"], result["confusion"]
                wanted = [g for g in GESTURES if result["per_class_accuracy"].get(g) is not None]
                correct = sum(matrix[labels.index(g)][labels.index(g)] for g in wanted)
                total = sum(sum(matrix[labels.index(g)]) for g in wanted)
                per_class = ", ".join(f"{g} {result['per_class_accuracy'][g]:.2f}" for g in wanted)
                print(f"  real {name}: {correct}/{total} = {correct / total:.2f} ({per_class})")
                for g in wanted:
                    row = matrix[labels.index(g)]
                    print(f"    {g:6s} -> " + ", ".join(f"{labels[i]} {n}" for i, n in enumerate(row) if n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
