"""A larger seeded fuzz campaign of the host's readers, and the frame parser's resynchronisation rate.

    python benchmarks/fuzz_host_data.py [--count N] [--seed S] [--seconds T] [READER ...]

Runs the mutators and readers of tests/test_fuzz_host_data.py (the test suite runs a few hundred to
a few thousand mutants per reader; this runs N each, default 20000, at most T seconds per reader,
default 120) and prints, per reader, the mutants tried, the one-line errors (BadInput, exit 2; for a
device conversation also LinkLost, exit 1), the correct results and the failures (a traceback, or an
answer the reader's checks found wrong), with the first failure's mutation and traceback.
Readers: manifest, csv, dataset-wav, wav, frames, session, "train --data", "evaluate --wav",
"collect --port" (the CLI ones stop before training and use a stand-in model and device).

Then the time the parser takes to resynchronise after zero-free noise in front of a frame, and the
bytes it examines per byte of noise. Exit status 1 if any mutant failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def resync_rate(sizes=(20_000, 200_000, 2_000_000), seed: int = 0) -> list[tuple[int, float, float]]:
    """(noise bytes, seconds to find the frame after them, bytes scanned per noise byte), best of 3."""
    from tinyml.collect import frames as fr

    rng = random.Random(seed)
    frame = fr.encode(fr.Frame(fr.DATA, fr.IMU, fr.FORMAT_INT16, 0, 0, 8, 6, bytes(96)))
    rows = []
    for size in sizes:
        noise = rng.randbytes(size).replace(b"\x00", b"\x01")
        best = float("inf")
        for _ in range(3):
            parser = fr.FrameParser()
            start = time.perf_counter()
            got = []
            for i in range(0, size, 4096):  # as it comes from a serial port
                got += parser.feed(noise[i:i + 4096])
            got += parser.feed(frame)
            best = min(best, time.perf_counter() - start)
            assert len(got) == 1 and parser.garbage_bytes == size
        rows.append((size, best, parser.scanned / size))
    return rows


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(REPO / "tests"))
    import test_fuzz_host_data as fuzz

    readers = [*fuzz.READERS, *fuzz.CLI_READERS]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("readers", nargs="*", metavar="READER", help=f"default: all of {', '.join(readers)}")
    p.add_argument("--count", type=int, default=20_000, help="mutants per reader (default: 20000)")
    p.add_argument("--seed", type=int, default=fuzz.SEED, help=f"default: {fuzz.SEED}, the tests' seed")
    p.add_argument("--seconds", type=float, default=120.0, help="at most this long per reader (default: 120)")
    args = p.parse_args(argv)
    unknown = sorted(set(args.readers) - set(readers))
    if unknown:
        p.error(f"unknown reader(s) {', '.join(unknown)}; choose from {', '.join(readers)}")

    tallies = []
    with tempfile.TemporaryDirectory() as tmp:
        bench = fuzz.Bench(Path(tmp))
        print(f"seed {args.seed}, up to {args.count:,} mutants or {args.seconds:g} s per reader")
        print(f"{'reader':<16}{'tried':>9}{'one-line errors':>17}{'correct':>9}{'failures':>10}{'mutants/s':>11}")
        for reader in args.readers or readers:
            start = time.perf_counter()
            tally = fuzz.campaign(reader, args.seed, args.count, Path(tmp), bench, seconds=args.seconds)
            rate = tally.tried / (time.perf_counter() - start)
            tallies.append(tally)
            print(f"{reader:<16}{tally.tried:>9,}{tally.errors:>17,}{tally.correct:>9,}{len(tally.failures):>10,}"
                  f"{rate:>11,.0f}", flush=True)
    for tally in tallies:
        if tally.failures:
            how, trace = tally.failures[0]
            print(f"\nfirst failure of {tally.reader} ({len(tally.failures)} in all), mutation {how}:\n{trace}")

    print("\nresynchronising after zero-free noise (in 4 KiB reads), then one frame:")
    print(f"{'noise':>12}{'time':>10}{'MB/s':>9}{'bytes scanned per noise byte':>30}")
    for size, seconds, scanned in resync_rate():
        print(f"{size:>12,}{seconds * 1e3:>8.1f}ms{size / seconds / 1e6:>9.1f}{scanned:>30.2f}")
    return 1 if any(t.failures for t in tallies) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
