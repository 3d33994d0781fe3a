"""A smoke run of bench/collections_bench.py at a tiny size: it runs end to end on a real dev
server and prints its three rows and their ratios. Counts, not times: a refresh of a
collection costs one request per page, and all-304 pages put less into history than 200s."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_bench_prints_requests_and_events_per_refresh():
    done = subprocess.run([sys.executable, "bench/collections_bench.py", "--children", "12", "--page", "4"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {m[1]: (int(m[2]), int(m[3]), float(m[4])) for m in
            re.finditer(r"^\((a|b|c)\) [^\n]*?\s+(\d+)\s+(\d+)\s+([\d.]+)$", done.stdout, re.M)}
    assert set(rows) == {"a", "b", "c"}, done.stdout
    pages = 12 // 4 + 1  # `paginate page` stops at a page shorter than the size: here an empty 4th
    assert rows["a"][0] == rows["b"][0] == pages + 1, done.stdout  # the parent's own load + its pages
    assert rows["c"][0] == 12 + 1, done.stdout
    assert rows["b"][2] < rows["a"][2], done.stdout
    assert "against (c):" in done.stdout
