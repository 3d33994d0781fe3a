"""A smoke run of bench/scale.py at tiny sizes (its own dev server, `swfc worker` and
`swfc deploy` processes): every phase runs end to end — load, `swfc status`, upgrade,
rotation — and the table and the per-child ratio are printed. No timing assertions: the
real run is by hand (README "10,000 children")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_scale_bench_loads_upgrades_and_rotates_a_small_hierarchy():
    done = subprocess.run([sys.executable, "bench/scale.py", "--sizes", "3,6", "--record-bytes", "100",
                           "--timeout", "240"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for line in ("upgraded in", "rotated in", "| 1 + 6 ", "per-child load time, 6 vs 3:", "CPU per child while loading"):
        assert line in done.stdout, done.stdout
