"""A seeded fuzz campaign against everything on the host that reads a model or its sidecar.

    python benchmarks/fuzz_host_models.py [--mutants 40] [--sidecars 60] [--seed 0] [--board 0]

Mutants of TFLM's hello_world and micro_speech (bits flipped and bytes changed inside the
flatbuffer, truncation, decoded fields set to hostile values; the generator of
tests/test_fuzz_host_models.py) go through the flatbuffer reader and `tinyml codegen` (TFLM
backend, the board's figures replaced by the host's so that nothing boots), `tinyml codegen
--backend aot` and `tinyml inspect --host-only --json`. Hand-edited sidecars (.meta.json) go
through `read_audio_meta`, `codegen`, `evaluate --wav` and `emulate --wav`. Each run is a correct
result (generated C also compiles on the host and computes TFLM's bytes for seeded inputs, where the
TFLM interpreter runs the model at all), a one-line error (exit 2), or a failure: a traceback, another
exit code, a longer message, or generated C that does not compile or computes other bytes. `--board N` also sends the first N mutants the host accepts
through plain codegen with the board's library measured under QEMU (seconds each).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import sys
import tempfile
import traceback
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import test_fuzz_host_models as fuzz  # noqa: E402  (the generator and the sidecar cases)

KIND_SHARE = {"flip": 1, "byte": 1, "truncate": 0.5, "field": 2}  # mutants of each kind, per --mutants


def run(argv: list[str]) -> tuple[str, str]:
    """("result" | "error" | "failure", detail) for `tinyml ARGV`, run in-process."""
    from tinyml.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except Exception as exc:  # the campaign counts tracebacks instead of stopping at the first
        return "failure", "".join(traceback.format_exception_only(exc)).strip()
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    if code == 0:
        return "result", ""
    if code == 2 and len(lines) == 1 and lines[0].startswith(f"tinyml {argv[0]}: error: "):
        return "error", lines[0]
    return "failure", f"exit {code}: {err.getvalue().strip()[-300:]!r}"


class Tally:
    def __init__(self):
        self.rows: dict[str, Counter] = defaultdict(Counter)
        self.failures: list[str] = []
        self.notes: Counter = Counter()

    def add(self, row: str, outcome: str, detail: str, what: str) -> None:
        self.rows[row]["tried"] += 1
        self.rows[row][outcome] += 1
        if outcome == "failure":
            self.failures.append(f"{row}: {what}: {detail}")

    def table(self) -> str:
        lines = ["| reader / command | tried | one-line errors | correct results | failures |",
                 "|---|---:|---:|---:|---:|"]
        for row, c in self.rows.items():
            lines.append(f"| {row} | {c['tried']} | {c['error']} | {c['result']} | {c['failure']} |")
        return "\n".join(lines)


def models_campaign(tally: Tally, per_kind: int, seed: int, work: Path) -> list[Path]:
    from tinyml.errors import BadInput
    from tinyml.quantize import flatbuffer

    accepted = []
    for model in fuzz.MODELS:
        for kind, share in KIND_SHARE.items():
            for i in range(max(1, round(per_kind * share))):
                m = fuzz.mutant(model, kind, i, seed)
                what = f"{m.name} ({m.what})"
                path = work / f"{m.name}.tflite"
                path.write_bytes(m.raw)
                try:
                    flatbuffer.parse(m.raw, path)
                    tally.add("reader: flatbuffer.parse", "result", "", what)
                except BadInput as exc:
                    tally.add("reader: flatbuffer.parse", "error", str(exc), what)
                except Exception as exc:
                    tally.add("reader: flatbuffer.parse", "failure", repr(exc), what)
                out = work / "out" / m.name
                for row, argv in (("codegen (tflm, host figures)", ["codegen", str(path), "-C", str(work), "-o",
                                                                   str(out / "tflm")]),
                                  ("codegen --backend aot", ["codegen", str(path), "-C", str(work), "--backend", "aot",
                                                             "-o", str(out / "aot")]),
                                  ("inspect --host-only --json", ["inspect", str(path), "--host-only", "--json"])):
                    outcome, detail = run(argv)
                    if outcome == "result" and "aot" in argv:
                        verdict = fuzz.aot_vs_tflm(path, out / "aot", out)
                        if verdict not in (fuzz.AOT_EQUAL, fuzz.AOT_NO_REFERENCE):
                            outcome, detail = "failure", f"the generated C {verdict}"
                        tally.notes[f"AOT results {verdict.split(':')[0]}"] += 1
                    if outcome == "result" and argv[0] == "codegen" and "aot" not in argv:
                        accepted.append(path)
                    tally.add(row, outcome, detail, what)
    return accepted


def sidecar_campaign(tally: Tally, count: int, seed: int, work: Path) -> None:
    from tinyml.errors import BadInput
    from tinyml.train.frontend import read_audio_meta

    cases = {**fuzz.META_CASES, **fuzz._text_mutants(count, seed)}
    for name, text in cases.items():
        folder = work / "meta" / name
        folder.mkdir(parents=True)
        model = fuzz._model_with_meta(folder, text)
        try:
            read_audio_meta(model)
            tally.add("reader: read_audio_meta", "result", "", name)
        except BadInput as exc:
            tally.add("reader: read_audio_meta", "error", str(exc), name)
        except Exception as exc:
            tally.add("reader: read_audio_meta", "failure", repr(exc), name)
        for row, argv in (("codegen (sidecar)", ["codegen", str(model), "-C", str(folder), "-o", str(folder / "fw")]),
                          ("evaluate --wav (sidecar)", ["evaluate", str(model), "-C", str(folder), "--wav",
                                                        str(fuzz.WAV)]),
                          ("emulate --wav (sidecar)", ["emulate", str(model), "-C", str(folder), "--wav",
                                                       str(fuzz.WAV), "-o", str(folder / "emu")])):
            tally.add(row, *run(argv), name)


def board_campaign(tally: Tally, models: list[Path], work: Path) -> None:
    saved = os.environ.pop("TINYML_TFLM_DIR", None)
    try:
        for path in models:
            tally.add("codegen (tflm, board measured)", *run(["codegen", str(path), "-C", str(work), "-o",
                                                              str(work / "board" / path.stem)]), path.stem)
    finally:
        if saved is not None:
            os.environ["TINYML_TFLM_DIR"] = saved


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mutants", type=int, default=40, help="mutants per model of each kind (default: 40; "
                   "half for truncation, twice for decoded fields)")
    p.add_argument("--sidecars", type=int, default=60, help="seeded text mutants of a valid sidecar, besides "
                   "the fixed cases (default: 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--board", type=int, default=0, help="accepted mutants also measured on the board's "
                   "library under QEMU (default: 0)")
    args = p.parse_args(argv)
    random.seed(args.seed)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="tinyml-fuzz-") as tmp:
        work = Path(tmp)
        os.environ["TINYML_TFLM_DIR"] = str(work / "none")  # codegen uses the host's figures: nothing boots
        accepted = models_campaign(tally, args.mutants, args.seed, work)
        sidecar_campaign(tally, args.sidecars, args.seed, work)
        if args.board:
            board_campaign(tally, accepted[:args.board], work)
    print(f"seed {args.seed}; {args.mutants} mutants per model and kind (x{KIND_SHARE}); "
          f"{len(fuzz.META_CASES)} fixed + {args.sidecars} seeded sidecars")
    print(tally.table())
    print(", ".join(f"{k}: {v}" for k, v in sorted(tally.notes.items())))
    for line in tally.failures:
        print("FAILURE", line)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
