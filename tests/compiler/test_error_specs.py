"""Every broken spec in specs/errors/ yields exactly the findings written inline on its
lines (`# E: SWF012`, `# W: SWF080`, mypy test-data style), and renders exactly as its
golden text (tests/golden/errors/<stem>.txt; SWFC_REGEN_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from cli.main import main
from compiler import FileSource, analyse
from dsl.diagnostics import CODES
from tests.compiler.helpers import ROOT, golden

ERROR_SPECS = sorted((ROOT / "specs" / "errors").glob("SWF*.swf"))
EXPECT = re.compile(r"#\s*([EW]):\s*(SWF\d{3})")
SEVERITY = {"E": "error", "W": "warning"}


def expectations(files: list[str]) -> list[tuple[str, int, str, str]]:
    found = []
    for name in files:
        text = Path(name).read_bytes().decode("utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            for sev, code in EXPECT.findall(line):
                found.append((name, lineno, SEVERITY[sev], code))
    return sorted(found)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", ERROR_SPECS, ids=lambda p: p.stem)
def test_inline_expectations(path, at_root):
    _, diags, loaded = analyse([rel(path)], FileSource(), emit_ir=False)
    files = sorted(set(loaded.texts) | {rel(path)})
    got = sorted((d.span.file, d.span.line, d.severity, d.code) for d in diags)
    assert got == expectations(files)


@pytest.mark.parametrize("path", ERROR_SPECS, ids=lambda p: p.stem)
def test_rendered_text(path, at_root):
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["validate", rel(path)])
    has_error = "# E:" in path.read_bytes().decode("utf-8", errors="replace")
    assert code == (1 if has_error else 0)
    golden(ROOT / "tests" / "golden" / "errors" / (path.stem + ".txt"), out.getvalue())


def test_every_code_has_a_broken_spec():
    covered = {p.stem[:6] for p in ERROR_SPECS}
    assert covered == set(CODES) - {"SWF099"}
