"""Seeded fuzz campaigns against the device's parsers, compiled for the host with AddressSanitizer and UBSan.

    python benchmarks/fuzz_device.py [--inputs N] [--seed S] [PARSER ...]

The campaigns of tests/test_fuzz_device.py, larger: N inputs per parser (default 20,000) from
random.Random(f"{parser}:{seed}"), each garbage (random, torn, oversized, truncated and bit-flipped
messages) then well-formed commands, each in a fresh process of its harness (tests/fuzz/). Prints
one row per parser: inputs, sanitizer reports, crashes (other non-zero exits, hangs), unanswered
commands (the well-formed commands after the garbage not answered as they should be) and wrong
answers (anywhere else). A failing input is kept under the work folder's failures/ for replay.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fuzz import campaign as fz  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("parsers", nargs="*", metavar="PARSER", help=f"any of {', '.join(fz.PARSERS)} (default: all)")
    args.add_argument("--inputs", type=int, default=20000, help="inputs per parser (default: 20000)")
    args.add_argument("--seed", type=int, default=1)
    args.add_argument("--keep", type=Path, help="work folder to keep (harnesses, failing inputs)")
    opts = args.parse_args(argv)
    unknown = [p for p in opts.parsers if p not in fz.PARSERS]
    if unknown:
        print(f"Expected parsers among {{{', '.join(fz.PARSERS)}}}. Received: {unknown[0]!r}", file=sys.stderr)
        return 2
    gcc = shutil.which("gcc")
    if gcc is None:
        print("Expected gcc on PATH, with AddressSanitizer and UBSan. Received: no gcc.", file=sys.stderr)
        return 1
    work = opts.keep or Path(tempfile.mkdtemp(prefix="tinyml-fuzz-"))
    print(f"seed {opts.seed}, {opts.inputs} inputs per parser, gcc {' '.join(fz.SANITIZE)}; work folder {work}")
    print("| parser | inputs | sanitizer reports | crashes | unanswered commands | wrong answers | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    failed = False
    for parser in opts.parsers or fz.PARSERS:
        started = time.monotonic()
        o = fz.campaign(parser, gcc, opts.seed, opts.inputs, work / parser)
        print(f"| {parser} | {o.inputs} | {o.sanitizer_reports} | {o.crashes} | {o.unanswered} | {o.wrong} "
              f"| {time.monotonic() - started:.1f} |", flush=True)
        for case, what in o.failures[:3]:
            print(f"    case {case}: {what}")
        failed |= not o.ok()
    if not opts.keep and not failed:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
