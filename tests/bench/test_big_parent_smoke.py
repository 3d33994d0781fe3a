"""A smoke run of bench/big_parent.py at tiny sizes: it runs end to end (the carried state
gives back the store, no update is echoed to its sender) and prints its figures and ratio.
No timing assertions: the real run is by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_bench_prints_each_size_and_the_ratio_of_update_costs():
    done = subprocess.run([sys.executable, "bench/big_parent.py", "--sizes", "20,60", "--record-bytes", "100",
                           "--rounds", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "(a) update+round" in done.stdout and "ratio (a) at 60 / at 20:" in done.stdout, done.stdout
