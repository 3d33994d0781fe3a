"""Fuzz the full check: mutate the example specs N times, count uncaught exceptions.

Usage: python bench/fuzz_validate.py [--n 100000] [--seed 1] [--out fuzz_failures.txt]

Each input is one spec from specs/ after 1-4 random mutations (tests/dsl/mutations.py:
deleted, inserted, duplicated or swapped characters and tokens, truncation, injected
keywords and punctuation), checked with `compiler.check_sources` together with the other
example specs (so imports resolve). Prints inputs/second and the totals; exits 1 if any
input raised or gave a diagnostic outside its file, writing the first offenders to --out.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compiler import check_sources  # noqa: E402
from tests.dsl.mutations import example_specs, mutate, position_problems  # noqa: E402


class RandomChooser:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def choice(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    specs = example_specs()
    names = sorted(specs)
    chooser = RandomChooser(args.seed)
    failures: list[str] = []
    failed = 0
    start = time.perf_counter()
    for i in range(args.n):
        name = chooser.choice(names)
        text = mutate(chooser, specs[name], chooser.integer(1, 4))
        files = {**specs, name: text}
        problem = _check(files, name)
        if problem:
            failed += 1
            if len(failures) < 20:
                failures.append(f"--- input {i} ({name}):\n{text!r}\n{problem}\n")
        if args.progress and (i + 1) % args.progress == 0:
            _rate(i + 1, failed, start)
    _rate(args.n, failed, start)
    if failures:
        Path(args.out).write_text("\n".join(failures), encoding="utf-8")
        print(f"first offending inputs written to {args.out}")
    return 1 if failed else 0


def _check(files: dict[str, str], root: str) -> str | None:
    """None if the check went fine; else what went wrong."""
    try:
        diags = check_sources(files, [root])
    except Exception:
        return traceback.format_exc()
    bad = position_problems(diags, files)
    bad += [f"internal error: {d.message}" for d in diags if d.code == "SWF099"]
    return "\n".join(bad) or None


def _rate(n: int, failed: int, start: float) -> None:
    elapsed = time.perf_counter() - start
    print(f"{n} inputs in {elapsed:.1f} s ({n / elapsed:.0f} inputs/s), {failed} failed", flush=True)


def _args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000, help="number of inputs (default 100000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="fuzz_failures.txt", help="where to write offending inputs")
    p.add_argument("--progress", type=int, default=10_000, help="print a rate every N inputs")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
