"""Compiler tests run from the repository root, so file names in diagnostics and golden
files read `specs/...` whatever directory pytest started in."""

from __future__ import annotations

import pytest

from tests.compiler.helpers import ROOT


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    return ROOT
