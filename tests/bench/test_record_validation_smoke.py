"""A smoke run of bench/record_validation.py at a tiny size: it runs end to end, both paths
build the same stores, and it prints its figures. No timing assertions: the real run is by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_bench_prints_both_rates_and_their_ratio():
    done = subprocess.run([sys.executable, "bench/record_validation.py", "--records", "20", "--rounds", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for line in ("(a) now", "(b) before", "ratio (a)/(b):"):
        assert line in done.stdout, done.stdout
