"""`swfc fmt`: rewrites only what changes, `--check`/`--diff` write nothing, a broken file is
reported and never touched; exit codes 0/1/2; no runtime imports."""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

from cli.main import main
from tests.compiler.helpers import ROOT
from tests.helpers import imports_of_command

MESSY = 'entity  User{id string  # the key\n  name   string?}\nimport "x.swf"\n'
CANONICAL = 'entity User {\n  id   string  # the key\n  name string?\n}\n\nimport "x.swf"\n'
BROKEN = 'api a {\n  base "x\n}\n'


def run(*argv, stdin: bytes | None = None):
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse usage errors
                code = exc.code
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def files(tmp_path):
    def make(**texts: str | bytes):
        paths = []
        for stem, text in texts.items():
            path = tmp_path / f"{stem}.swf"
            path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
            paths.append(path)
        return paths

    return make


def test_rewrites_in_place_and_says_so(files):
    messy, clean = files(messy=MESSY, clean=CANONICAL)
    clean_mtime = clean.stat().st_mtime_ns
    code, out, err = run("fmt", messy, clean)
    assert (code, out, err) == (0, "", f"reformatted {messy}\n")
    assert messy.read_text() == CANONICAL
    assert clean.stat().st_mtime_ns == clean_mtime  # unchanged files are not written
    assert run("fmt", messy) == (0, "", "")


def test_check_writes_nothing_and_exits_1_if_anything_would_change(files):
    messy, clean = files(messy=MESSY, clean=CANONICAL)
    assert run("fmt", "--check", clean) == (0, "", "")
    code, out, err = run("fmt", "--check", messy, clean)
    assert (code, out, err) == (1, "", f"would reformat {messy}\n")
    assert messy.read_text() == MESSY


def test_diff_shows_the_change_and_writes_nothing(files):
    (messy,) = files(messy=MESSY)
    code, out, err = run("fmt", "--diff", messy)
    assert code == 0 and err == f"would reformat {messy}\n"
    assert out.startswith(f"--- {messy}\n+++ {messy}\n@@ ")
    assert "-entity  User{id string  # the key\n" in out and "+entity User {\n" in out
    assert messy.read_text() == MESSY
    assert run("fmt", "--check", "--diff", messy)[0] == 1


def test_a_file_with_syntax_errors_is_reported_and_left_alone(files):
    broken, messy = files(broken=BROKEN, messy=MESSY)
    for flags in ((), ("--check",)):
        code, out, err = run("fmt", *flags, broken)
        assert code == 1 and out == ""
        assert f"{broken}:2:8: error[SWF001]" in err
        assert broken.read_text() == BROKEN
    code, _, err = run("fmt", broken, messy)  # the other files are still formatted
    assert code == 1 and f"reformatted {messy}" in err
    assert messy.read_text() == CANONICAL and broken.read_text() == BROKEN


def test_unreadable_files_are_findings(files, tmp_path):
    (latin1,) = files(latin1=b'import "caf\xe9.swf"\n')
    code, _, err = run("fmt", latin1, tmp_path / "missing.swf")
    assert code == 1
    assert err.count("error[SWF002]") == 2 and "Traceback" not in err
    assert latin1.read_bytes() == b'import "caf\xe9.swf"\n'


def test_fmt_and_validate_name_a_bad_byte_at_the_same_line_and_column(files):
    (bad,) = files(bad=b'entity User {\n  id string # caf\xe9\n}\n')
    _, fmt_err = run("fmt", bad)[1:]
    _, validate_out, _ = run("validate", bad)
    where = f"{bad}:2:18: error[SWF002]: cannot read `{bad}`: not valid UTF-8 (byte 0xe9)"
    assert where in fmt_err and where in validate_out


def test_usage_errors_exit_2():
    assert run("fmt")[0] == 2
    assert run("fmt", "--nonsense", "specs/marketplace.swf")[0] == 2


def test_stdin_to_stdout():
    assert run("fmt", "-", stdin=MESSY.encode()) == (0, CANONICAL, "")
    assert run("fmt", "--check", "-", stdin=MESSY.encode()) == (1, "", "")
    assert run("fmt", "--check", "-", stdin=CANONICAL.encode()) == (0, "", "")


def test_line_endings_and_bom_are_normalised(files):
    (crlf,) = files(crlf=b"\xef\xbb\xbf" + CANONICAL.replace("\n", "\r\n").encode())
    assert run("fmt", crlf)[0] == 0
    assert crlf.read_bytes() == CANONICAL.encode()


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes and symlinks")
def test_permissions_and_symlinks_are_kept(files, tmp_path):
    (messy,) = files(messy=MESSY)
    messy.chmod(0o640)
    link = tmp_path / "link.swf"
    link.symlink_to(messy.name)
    assert run("fmt", link)[0] == 0
    assert link.is_symlink() and messy.read_text() == CANONICAL
    assert messy.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_example_specs_are_canonical(monkeypatch):
    monkeypatch.chdir(ROOT)
    specs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.swf"))
    assert run("fmt", "--check", *specs) == (0, "", "")


def test_fmt_imports_neither_runtime_nor_heavy_libraries(files):
    (messy,) = files(messy=MESSY)
    heavy = ("temporalio", "httpx", "runtime", "compiler", "jsonschema", "rich")
    assert imports_of_command(["fmt", "--check", str(messy)], heavy) == (1, [])
