"""The README's code table is generated from the CODES registry and kept in step."""

from __future__ import annotations

import re

from compiler.codes_table import table
from dsl.diagnostics import CODES
from tests.compiler.helpers import ROOT


def test_readme_contains_the_generated_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Diagnostic codes", 1)[1]
    assert table() in section, "run: python -m compiler.codes_table --write README.md"


def test_every_code_is_well_formed_and_used():
    sources = "".join(p.read_text() for p in (ROOT / "compiler").glob("*.py"))
    sources += "".join(p.read_text() for p in (ROOT / "dsl").glob("*.py") if p.name != "diagnostics.py")
    for code, entry in CODES.items():
        assert re.fullmatch(r"SWF\d{3}", code) and entry.code == code
        assert f'"{code}"' in sources, f"{code} is registered but never reported"
