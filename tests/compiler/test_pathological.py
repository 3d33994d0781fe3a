"""Pathological inputs: whatever is handed to `swfc validate` — a huge file, deep nesting,
binary garbage, an import cycle, a directory, a symlink loop — it answers with findings
(a stable code, a position inside the file, exit 1), never a traceback or a hang.

The huge inputs are 1 MB here to keep the suite quick; `bench/pathological.py` runs the
same kinds of input at 10 MB and prints the time each takes. No test asserts a duration:
`run_swfc` only gives up (a hang) after its generous timeout.
"""

from __future__ import annotations

import json
import os
import random

import pytest

from cli.render import render_text
from compiler import check_files, check_sources, compile_files
from tests.compiler.pathological_specs import API, hierarchy_spec
from tests.dsl.mutations import position_problems
from tests.helpers import run_swfc

MB = 1_000_000


def validate(tmp_path, *files: str):
    """`swfc validate --format json FILES` in `tmp_path`: (exit status, findings)."""
    proc = run_swfc("validate", "--format", "json", *files, cwd=tmp_path)
    assert "Traceback" not in proc.stderr and proc.stderr == "", proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def codes(findings) -> list[str]:
    return sorted({f["code"] for f in findings})


def assert_inside(findings, tmp_path) -> None:
    """Each finding starts on a line of its file, at a column of that line (or just past)."""
    for f in findings:
        lines = (tmp_path / f["file"]).read_bytes().decode("utf-8", "replace").split("\n")
        assert 1 <= f["line"] <= len(lines), f
        assert 1 <= f["column"] <= len(lines[f["line"] - 1]) + 1, f


# --------------------------------------------------------------- huge files


def test_huge_valid_spec_is_clean(tmp_path):
    block = ('entity E{i} {{\n  id string\n}}\n'
             'workflow W{i} manages E{i} {{\n  source crm get "/e/{{id}}" every 5m\n}}\n'
             'deploy W{i} "r{i}" {{ token crm from env "CRM_TOKEN" }}\n')
    n = MB // len(block.format(i=1000))
    (tmp_path / "big.swf").write_text(API + "".join(block.format(i=i) for i in range(n)))
    assert validate(tmp_path, "big.swf") == (0, [])


def test_huge_line_of_junk_is_a_syntax_error_near_its_start(tmp_path):
    rng = random.Random(1)
    (tmp_path / "junk.swf").write_text("".join(rng.choice("abxyz09{}[]()?,.-> ") for _ in range(MB)))
    status, findings = validate(tmp_path, "junk.swf")
    assert status == 1 and codes(findings) == ["SWF001"]
    assert (findings[0]["line"], findings[0]["column"]) == (1, 1)
    assert_inside(findings, tmp_path)
    (last,) = check_sources({"junk.swf": (tmp_path / "junk.swf").read_text()}, ["junk.swf"])
    (note,) = last.notes
    assert note.message.startswith("too many syntax errors (1 reported, and ")


def test_huge_line_is_shown_as_a_window_around_the_caret(tmp_path):
    (tmp_path / "long.swf").write_text("x " * (MB // 2))
    proc = run_swfc("validate", "long.swf", cwd=tmp_path)
    assert proc.returncode == 1 and "error[SWF001]" in proc.stdout
    assert len(proc.stdout) < 2000  # not the megabyte line once per finding


def test_a_million_stray_lines_after_a_declaration_are_one_error_not_a_million(tmp_path):
    (tmp_path / "stray.swf").write_text("entity E { id string }\n" + "x\n" * (MB // 2))
    status, findings = validate(tmp_path, "stray.swf")
    assert status == 1 and codes(findings) == ["SWF001"]
    assert [(f["line"], f["column"]) for f in findings][0] == (2, 1)
    assert len(findings) <= 31


def test_stray_word_after_a_block_does_not_reopen_it():
    files = {"a.swf": "entity E { id string }\nstray\nentity F { id string }\n"}
    (d,) = check_sources(files, ["a.swf"])
    assert (d.code, d.span.line, d.span.col) == ("SWF001", 2, 1)


def test_unterminated_huge_string_is_a_syntax_error(tmp_path):
    (tmp_path / "s.swf").write_text('import "' + "a" * MB)
    status, findings = validate(tmp_path, "s.swf")
    assert status == 1 and codes(findings) == ["SWF001"]
    assert "unterminated string" in findings[0]["message"]


@pytest.mark.parametrize("digits", [101, 5000, MB])
def test_too_long_a_number_is_a_syntax_error_not_an_internal_error(digits):
    files = {"a.swf": API.replace("}", "  retry " + "9" * digits + " times\n}")}
    (d,) = check_sources(files, ["a.swf"])
    assert (d.code, d.span.line, d.span.col) == ("SWF001", 4, 9)
    assert f"{digits} digits is too long" in d.message


def test_long_zero_padded_numbers_and_durations_are_read_exactly():
    text = API.replace("}", "  retry " + "0" * 5000 + "5 times backoff " + "0" * 5000 + "1s .. 2s\n}")
    assert check_sources({"a.swf": text}, ["a.swf"]) == []


def test_too_long_a_duration_is_a_bad_duration():
    text = API.replace("}", "  timeout " + "9" * 5000 + "s\n}")
    (d,) = check_sources({"a.swf": text}, ["a.swf"])
    assert d.code == "SWF040" and "at most 365d" in d.message


# ------------------------------------------------------------- deep nesting


@pytest.mark.parametrize("text", [
    "{" * 5000,
    "entity E " + "{" * 5000 + "}" * 5000,
    "entity E { id " + "[" * 5000 + "string" + "]" * 5000 + " }",
    'api crm { base env' + "(" * 5000 + '"X"' + ")" * 5000 + " }",
    "workflow W manages E " * 5000,
], ids=["braces", "entity-braces", "brackets", "parentheses", "unclosed-headers"])
def test_5000_deep_nesting_is_a_syntax_error_at_the_first_opener(text):
    diags = check_sources({"deep.swf": text}, ["deep.swf"])
    assert diags and "SWF099" not in {d.code for d in diags}
    first = next(d for d in diags if d.code == "SWF001")
    assert first.span.line == 1 and first.span.col <= 23
    assert position_problems(diags, {"deep.swf": text}) == []


def test_5000_deep_workflow_hierarchy_compiles():
    from compiler import compile_sources

    ir, diags = compile_sources({"h.swf": hierarchy_spec(5000)}, ["h.swf"])
    assert diags == [] and ir is not None


# ------------------------------------------------------------ binary input


def test_random_bytes_are_not_utf8(tmp_path):
    rng = random.Random(3)
    (tmp_path / "bin.swf").write_bytes(bytes(rng.randrange(256) for _ in range(100_000)))
    status, findings = validate(tmp_path, "bin.swf")
    assert status == 1 and codes(findings) == ["SWF002"]
    assert "not valid UTF-8" in findings[0]["message"]
    assert_inside(findings, tmp_path)


def test_nul_bytes_are_a_syntax_error_shown_without_the_raw_bytes(tmp_path):
    (tmp_path / "nul.swf").write_bytes(b"entity E {\x00 id string }\n" + b"\x00" * 10_000)
    proc = run_swfc("validate", "nul.swf", cwd=tmp_path)
    assert proc.returncode == 1 and "nul.swf:1:11: error[SWF001]" in proc.stdout
    assert "U+0000" in proc.stdout and "\x00" not in proc.stdout


def test_bad_byte_column_counts_characters_not_bytes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.swf").write_bytes("# café ".encode() + b"\xff\n")
    (d,) = check_files(["a.swf"])
    assert (d.code, d.span.line, d.span.col) == ("SWF002", 1, 8)


def test_utf16_file_is_named_as_such(tmp_path):
    (tmp_path / "u16.swf").write_bytes("entity E { id string }\n".encode("utf-16"))
    status, findings = validate(tmp_path, "u16.swf")
    assert status == 1 and codes(findings) == ["SWF002"]
    assert "UTF-16 byte-order mark" in findings[0]["message"]


def test_empty_file_is_an_empty_spec_with_a_warning(tmp_path):
    (tmp_path / "empty.swf").write_bytes(b"")
    status, findings = validate(tmp_path, "empty.swf")
    assert status == 0 and [(f["code"], f["severity"], f["line"], f["column"]) for f in findings] == [
        ("SWF003", "warning", 1, 1)]


def test_an_empty_import_is_warned_about_where_it_is_not_where_it_is_imported(tmp_path):
    (tmp_path / "a.swf").write_text('import "b.swf"\n')
    (tmp_path / "b.swf").write_text("# nothing yet\n")
    status, findings = validate(tmp_path, "a.swf")
    assert status == 0 and [(f["file"], f["code"]) for f in findings] == [("b.swf", "SWF003")]


# ------------------------------------------------------------------ imports


def test_import_cycle_of_50_files_is_one_finding_naming_the_chain(tmp_path):
    for i in range(1, 51):
        (tmp_path / f"a{i}.swf").write_text(f'import "a{i % 50 + 1}.swf"\n')
    status, findings = validate(tmp_path, "a1.swf")
    assert status == 1 and codes(findings) == ["SWF070"]
    (f,) = findings
    assert (f["file"], f["line"], f["column"]) == ("a50.swf", 1, 8)
    assert f["message"].count("->") == 50


def test_huge_import_path_is_cut_in_the_message():
    diags = check_sources({"a.swf": 'import "' + "x" * MB + '"\n'}, ["a.swf"])
    assert [d.code for d in diags] == ["SWF071"]
    assert len(diags[0].message) < 300
    assert len(render_text(diags, {"a.swf": 'import "' + "x" * MB + '"\n'}, 1)) < 2000


# ------------------------------------------------------- not regular files


def test_directory_is_unreadable(tmp_path):
    (tmp_path / "specs.swf").mkdir()
    status, findings = validate(tmp_path, "specs.swf")
    assert status == 1 and codes(findings) == ["SWF002"]
    assert "is a directory" in findings[0]["message"]


def test_import_of_a_directory_is_reported_at_the_import(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "main.swf").write_text('import "lib"\n')
    status, findings = validate(tmp_path, "main.swf")
    assert status == 1
    assert [(f["code"], f["file"], f["line"], f["column"]) for f in findings] == [("SWF002", "main.swf", 1, 8)]


def test_nonexistent_file(tmp_path):
    status, findings = validate(tmp_path, "nowhere.swf")
    assert status == 1 and codes(findings) == ["SWF002"]


def test_symlink_loop_is_unreadable(tmp_path):
    os.symlink("b.swf", tmp_path / "a.swf")
    os.symlink("a.swf", tmp_path / "b.swf")
    (tmp_path / "main.swf").write_text('import "a.swf"\n')
    status, findings = validate(tmp_path, "a.swf", "main.swf")
    assert status == 1
    assert [(f["code"], f["file"], f["line"]) for f in findings] == [("SWF002", "a.swf", 1), ("SWF002", "main.swf", 1)]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads a chmod 000 file")
def test_unreadable_file(tmp_path):
    (tmp_path / "secret.swf").write_text("entity E { id string }\n")
    os.chmod(tmp_path / "secret.swf", 0)
    status, findings = validate(tmp_path, "secret.swf")
    assert status == 1 and codes(findings) == ["SWF002"]


def test_compile_answers_pathological_input_with_findings_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.swf").mkdir()
    (tmp_path / "bin.swf").write_bytes(b"\xff\xfe\x00garbage")
    for name, code in (("dir.swf", "SWF002"), ("bin.swf", "SWF002"), ("missing.swf", "SWF002")):
        ir, diags = compile_files([name])
        assert ir is None and [d.code for d in diags] == [code]
