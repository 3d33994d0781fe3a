"""Smoke runs of bench/big_parent.py (no Temporal: the carried state gives back the store, no
update is echoed to its sender) and bench/big_parent_replay.py (a dev server of its own) at
tiny sizes: they run end to end and print their figures and ratios. No timing assertions:
the real runs are by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_bench_prints_each_size_and_the_ratio_of_update_costs():
    done = subprocess.run([sys.executable, "bench/big_parent.py", "--sizes", "20,60", "--record-bytes", "100",
                           "--rounds", "1", "--prose"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for shown in ("(a) update+round", "unsettled", "(d) encode", "issue-tracker text", "ratio (a) at 60 / at 20:"):
        assert shown in done.stdout, done.stdout


def test_the_replay_bench_replays_a_big_parents_history_both_ways():
    done = subprocess.run([sys.executable, "bench/big_parent_replay.py", "--members", "50", "--updates", "10",
                           "--record-bytes", "100"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for line in ("(a) now:", "(b) before:", "ratio (b)/(a):"):
        assert line in done.stdout, done.stdout
