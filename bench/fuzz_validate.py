"""Fuzz the full check: 100,000 mutated or generated specs, count what went wrong.

Usage: python bench/fuzz_validate.py [--n 100000] [--seed 1] [--out fuzz_failures.txt]
                                     [--pathological | --pathological-small]

Nine inputs in ten are a spec from specs/ after 1-4 random mutations (tests/dsl/mutations.py:
deleted, inserted, duplicated or swapped characters and tokens, truncation, injected
keywords and punctuation); one in ten is generated: a random run of the language's words
and punctuation, or random text. Each is checked with `compiler.check_sources` together
with the other example specs (so imports resolve) and rendered as `swfc validate` renders
it. Prints the rate and the totals: inputs, uncaught exceptions, findings at an invalid
position, internal errors (SWF099); exits 1 if any, writing the first offenders to --out.
`--pathological` then runs bench/pathological.py's inputs at full size.

`run_fuzz(n, seed)` is the same as a function (bench/reliability.py imports it).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.render import render_text  # noqa: E402
from compiler import check_sources  # noqa: E402
from tests.dsl.mutations import KEYWORDS, PUNCTUATION, example_specs, mutate, position_problems  # noqa: E402

WORDS = KEYWORDS + PUNCTUATION + ("E", "W", "crm", "id", '"x"', '"/u/{id}"', "5s", "5", "\n", " ")


class RandomChooser:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def choice(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


def generate(c: RandomChooser) -> str:
    """A spec made up from nothing: words of the language in random order, or random text."""
    if c.integer(0, 1):
        return " ".join(c.choice(WORDS) for _ in range(c.integer(0, 80)))
    return "".join(chr(c.choice((c.integer(0, 127), c.integer(0, 0x2FFF)))) for _ in range(c.integer(0, 200)))


def run_fuzz(n: int, seed: int, *, failures: list[str] | None = None, progress: int = 0) -> dict:
    """Check `n` inputs drawn with `seed`.

    Returns:
        `{"inputs", "uncaught", "bad_positions", "internal_errors", "seconds"}`:
        exceptions that escaped, findings at an invalid position (counted one by one),
        SWF099 findings. The first offending inputs are appended to `failures` if given.
    """
    specs = example_specs()
    names = sorted(specs)
    chooser = RandomChooser(seed)
    totals = {"inputs": 0, "uncaught": 0, "bad_positions": 0, "internal_errors": 0}
    start = time.perf_counter()
    for i in range(n):
        name = chooser.choice(names)
        if i % 10 == 9:
            text = generate(chooser)
        else:
            text = mutate(chooser, specs[name], chooser.integer(1, 4))
        files = {**specs, name: text}
        problems = _check(files, name, totals)
        totals["inputs"] += 1
        if problems and failures is not None and len(failures) < 20:
            failures.append(f"--- input {i} ({name}):\n{text!r}\n" + "\n".join(problems) + "\n")
        if progress and (i + 1) % progress == 0:
            _rate(totals, start)
    totals["seconds"] = round(time.perf_counter() - start, 1)
    return totals


def _check(files: dict[str, str], root: str, totals: dict) -> list[str]:
    """What went wrong with one input (counted into `totals`); [] if nothing."""
    try:
        diags = check_sources(files, [root])
        render_text(diags, files, 1)
    except Exception:
        totals["uncaught"] += 1
        return [traceback.format_exc()]
    bad = position_problems(diags, files)
    totals["bad_positions"] += len(bad)
    internal = [f"internal error: {d.message}" for d in diags if d.code == "SWF099"]
    totals["internal_errors"] += len(internal)
    return bad + internal


def _rate(totals: dict, start: float) -> None:
    elapsed = time.perf_counter() - start
    n = totals["inputs"]
    print(f"{n} inputs in {elapsed:.1f} s ({n / elapsed:.0f} inputs/s): {totals['uncaught']} uncaught, "
          f"{totals['bad_positions']} bad positions, {totals['internal_errors']} internal errors",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    failures: list[str] = []
    totals = run_fuzz(args.n, args.seed, failures=failures, progress=args.progress)
    print(f"inputs {totals['inputs']}, uncaught exceptions {totals['uncaught']}, "
          f"findings at invalid positions {totals['bad_positions']}, internal errors "
          f"{totals['internal_errors']}, {totals['seconds']} s "
          f"(target: 0 uncaught, 0 invalid positions)")
    if failures:
        Path(args.out).write_text("\n".join(failures), encoding="utf-8")
        print(f"first offending inputs written to {args.out}")
    code = 1 if failures else 0
    if args.pathological or args.pathological_small:
        from bench.pathological import print_rows, run_pathological

        rows = run_pathological(full=args.pathological)
        print_rows(rows)
        code = max(code, 0 if all(r["ok"] for r in rows) else 1)
    return code


def _args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000, help="number of inputs (default 100000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="fuzz_failures.txt", help="where to write offending inputs")
    p.add_argument("--progress", type=int, default=10_000, help="print a rate every N inputs")
    p.add_argument("--pathological", action="store_true",
                   help="then run bench/pathological.py's inputs at full size (10 MB)")
    p.add_argument("--pathological-small", action="store_true", help="the same at 1 MB")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
