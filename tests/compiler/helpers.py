"""Test helpers: the repository root and golden-file comparison."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REGEN = os.environ.get("SWFC_REGEN_GOLDEN") == "1"


def golden(path: Path, actual: str) -> None:
    """Compare `actual` with the golden file `path`; with SWFC_REGEN_GOLDEN=1, rewrite it."""
    if REGEN or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        if not REGEN:
            pytest.fail(f"{path} did not exist; written now, check it in")
    assert actual == path.read_text(encoding="utf-8")
