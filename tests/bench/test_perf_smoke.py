"""A smoke run of bench/perf.py at its --quick size: it runs end to end and prints the table.

No timing assertions (the machine is shared and noisy): only that every benchmark produced
a row. The real benchmark is run by hand (`python bench/perf.py`), never by CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

ROWS = ("1. fan-out", "2a. deep", "2b. deep", "worker CPU", "history events", "3a. refresh", "3b. refresh", "3c. refresh", "4. worker RSS",
        "5a. compile", "5b. validate")


def test_quick_run_prints_the_table() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SWFC_SEAL_KEY"}
    done = subprocess.run([sys.executable, "bench/perf.py", "--quick", "--reps", "1"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    out = done.stdout
    assert "benchmark" in out and "swfc median" in out and "baseline median" in out, out + done.stderr
    table = out[out.index("benchmark  "):]
    for row in ROWS:
        assert row in table, f"no {row!r} row in:\n{table}\n{done.stderr[-2000:]}"
