"""Keyword spotting on real speech: what each change to the built-in data and front end brings.

    python benchmarks/kws_real.py [--runs NAME,...] [--per-class N] [--seed S] [--arch A] [--json]

Each run is a KWS project in a temporary folder, built the way a user builds one: the built-in
keywords (`collect/keywords.py` write_keywords, with the run's share of flite's and festival's
voices), `tinyml train` and `tinyml quantize` (with the run's `frontend.normalize`), then
`tinyml evaluate --wav-dir` on the 953 real Speech Commands clips of
../shared/reference/speech_commands_dev, which nothing here trains on. TFLM's pretrained
micro_speech (trained on about 105,000 real clips) through TFLM's own front end is measured beside
them. Prints each label's accuracy and the balanced accuracy (their mean).

Runs (default: all four):
  espeak        espeak-ng only, raw log-mel: tinyml before issue 12
  espeak+mean   espeak-ng only, each band's mean over the window removed
  voices        half of the words from flite and festival, raw log-mel
  voices+mean   both: the default

About 4 to 6 minutes a run on a 2-core machine (--per-class 800, dscnn_small). Results move by a few
hundredths with the seed (--seed), more for the labels a model finds hard.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tinyml.paths import checkout_reference

TINYML = [sys.executable, "-m", "tinyml.cli"]
RUNS = {"espeak": (0.0, "none"), "espeak+mean": (0.0, "mean"), "voices": (0.5, "none"), "voices+mean": (0.5, "mean")}


def _tinyml(args: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run([*TINYML, "--quiet", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tinyml {' '.join(args)} failed in {cwd}:\n{done.stderr}")
    return done.stdout


def run(name: str, work: Path, clips: Path, per_class: int, seed: int, arch: str) -> dict:
    from tinyml.collect.keywords import write_keywords

    share, normalize = RUNS[name]
    project = work / name.replace("+", "-")
    env = {**os.environ, "TINYML_PROJECT_SEED": str(seed), "TINYML_FRONTEND_NORMALIZE": normalize,
           "TINYML_MODEL_ARCHITECTURE": arch}
    _tinyml(["init", str(project), "--task", "kws"], work, env)
    write_keywords(project / "data", per_class=per_class, seed=seed, other_voices=share)
    _tinyml(["train"], project, env)
    _tinyml(["quantize"], project, env)
    return json.loads(_tinyml(["evaluate", "--wav-dir", str(clips), "--json"], project, env))


def micro_speech(clips: Path) -> dict:
    micro = checkout_reference("micro_speech")
    return json.loads(subprocess.run(
        [*TINYML, "--quiet", "evaluate", str(micro / "micro_speech_quantized.tflite"), "--frontend", "tflm",
         "--labels", "silence,unknown,yes,no", "--wav-dir", str(clips), "--json"],
        capture_output=True, text=True, check=True).stdout)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default=",".join(RUNS), help=f"comma separated, of {', '.join(RUNS)}")
    p.add_argument("--per-class", type=int, default=800)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--arch", default="dscnn_small", choices=["dscnn", "dscnn_small"])
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        p.error(f"expected runs of {', '.join(RUNS)}; received {', '.join(unknown)}")
    clips = checkout_reference("speech_commands_dev")
    results = {"micro_speech (TFLM, real data)": micro_speech(clips)}
    with tempfile.TemporaryDirectory(prefix="tinyml-kws-real-") as tmp:
        for name in names:
            print(f"{name}: collect, train, quantize, evaluate ...", file=sys.stderr, flush=True)
            results[name] = run(name, Path(tmp), clips, args.per_class, args.seed, args.arch)
    if args.json:
        print(json.dumps({k: {key: v[key] for key in ("per_class_accuracy", "balanced_accuracy", "confusion")}
                          for k, v in results.items()}, indent=2))
        return 0
    labels = ["yes", "no", "silence", "unknown"]
    print(f"{len(next(iter(results.values()))['results'])} real clips of {clips}; {args.arch}, "
          f"{args.per_class} built-in clips per label, seed {args.seed}")
    width = max(map(len, results))
    print(f"{'':<{width}}  " + "  ".join(f"{label:>7}" for label in labels) + "  balanced")
    for name, r in results.items():
        acc = r["per_class_accuracy"]
        print(f"{name:<{width}}  " + "  ".join(f"{acc[label]:>7.3f}" for label in labels)
              + f"  {r['balanced_accuracy']:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
