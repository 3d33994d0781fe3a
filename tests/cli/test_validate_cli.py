"""`swfc validate` / `compile` / `graph`: exit codes, output formats, and what it imports."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

from cli.main import main
from tests.compiler.helpers import ROOT, golden
from tests.helpers import imports_of_command


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_clean_spec_exits_0_with_summary():
    code, out, _ = run("validate", "specs/marketplace.swf")
    assert code == 0
    assert out == "0 errors, 0 warnings in 3 files\n"


def test_several_files_and_errors_exit_1():
    code, out, _ = run("validate", "specs/support_desk.swf", "specs/errors/SWF012_repeated_statement.swf")
    assert code == 1
    assert "specs/errors/SWF012_repeated_statement.swf:4:3: error[SWF012]: `base` is given twice" in out
    assert out.endswith("1 error, 0 warnings in 2 files\n")


def test_warnings_alone_exit_0():
    code, out, _ = run("validate", "specs/errors/SWF080_relation_cycle.swf")
    assert code == 0
    assert "warning[SWF080]" in out


def test_usage_errors_exit_2():
    assert run("validate")[0] == 2
    assert run("validate", "--format", "xml", "specs/marketplace.swf")[0] == 2
    assert run("nonsense")[0] == 2


def test_missing_file_is_a_finding_not_a_traceback():
    code, out, err = run("validate", "specs/no_such.swf")
    assert code == 1
    assert "error[SWF002]" in out and "Traceback" not in out + err


def test_json_format_is_one_array_of_flat_records():
    code, out, _ = run("validate", "--format", "json", "specs/errors/SWF050_bad_deploy.swf",
                       "specs/errors/SWF082_child_without_autostart.swf")
    assert code == 1
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == 3
    for row in rows:
        assert set(row) == {"file", "line", "column", "end_line", "end_column", "severity",
                            "code", "message", "notes", "hint"}
    assert [(r["code"], r["severity"], r["line"]) for r in rows] == [
        ("SWF050", "error", 16), ("SWF050", "error", 17), ("SWF082", "warning", 18)]
    assert rows[0]["file"] == "specs/errors/SWF050_bad_deploy.swf"


def test_json_format_carries_notes_and_hints_as_the_text_does(tmp_path):
    code, out, _ = run("validate", "--format", "json", "specs/errors/SWF064_query_token_in_url.swf")
    first = json.loads(out)[0]
    assert first["notes"] == [{"file": "specs/errors/SWF064_query_token_in_url.swf", "line": 4, "column": 14,
                               "end_line": 4, "end_column": 23, "message": "the token's parameter is named here"}]
    assert first["hint"] == "remove it from the URL: the token is added to every request"
    junk = tmp_path / "junk.swf"
    junk.write_text("entity {\n" * 100)  # more syntax errors than are reported
    code, out, _ = run("validate", "--format", "json", str(junk))
    rows = json.loads(out)
    capped = [n for row in rows for n in row["notes"] if n["message"].startswith("too many syntax errors")]
    assert code == 1 and len(capped) == 1 and capped[0]["file"] == str(junk)


def test_json_format_clean_is_empty_array():
    code, out, _ = run("validate", "--format", "json", "specs/marketplace.swf")
    assert (code, json.loads(out)) == (0, [])


def test_compile_prints_or_writes_ir(tmp_path):
    code, out, err = run("compile", "specs/marketplace.swf")
    assert code == 0 and err == ""
    assert out == (ROOT / "tests" / "golden" / "marketplace.ir.json").read_text()
    target = tmp_path / "ir.json"
    assert run("compile", "specs/marketplace.swf", "-o", str(target))[0] == 0
    assert target.read_text() == out


def test_compile_with_errors_prints_findings_on_stderr():
    code, out, err = run("compile", "specs/errors/SWF060_token_none_crossed.swf")
    assert code == 1 and out == ""
    assert "error[SWF060]" in err


@pytest.mark.parametrize("stem", ["marketplace", "support_desk", "build_system", "github"])
def test_graph_is_mermaid(stem):
    code, out, _ = run("graph", f"specs/{stem}.swf")
    assert code == 0
    assert out.startswith("flowchart TD\n")
    golden(ROOT / "tests" / "golden" / f"{stem}.mmd", out)


def test_graph_of_broken_spec_reports_instead():
    code, out, err = run("graph", "specs/errors/SWF031_child_wrong_entity.swf")
    assert (code, out) == (1, "") and "error[SWF031]" in err


def test_validate_imports_neither_runtime_nor_heavy_libraries():
    heavy = ("temporalio", "httpx", "runtime", "jsonschema", "rich")
    assert imports_of_command(["validate", "specs/marketplace.swf"], heavy) == (0, [])


def test_console_entry_point_runs_as_module():
    proc = subprocess.run([sys.executable, "-m", "cli.main", "validate", "specs/marketplace.swf"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_colour_rendering_has_the_same_text():
    from cli import render
    from compiler import FileSource, analyse

    _, diags, loaded = analyse(["specs/errors/SWF060_token_none_crossed.swf"], FileSource(),
                               emit_ir=False)
    plain = render.render_text(diags, loaded.texts, 1)
    coloured = io.StringIO()
    render.print_text(diags, loaded.texts, 1, file=coloured, color=True)
    assert "\x1b[" in coloured.getvalue()
    import re
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured.getvalue()) == plain


def test_compile_to_unwritable_place_is_a_usage_error(tmp_path):
    code, _, err = run("compile", "specs/marketplace.swf", "-o", str(tmp_path / "no" / "ir.json"))
    assert code == 2 and "cannot write" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, expected", [
    (["deploy", "s.swf", "--address", "h:7233", "--namespace", "ns", "--task-queue", "q",
      "--no-worker", "--until-loaded", "--timeout", "30", "--tls", "--api-key", "k"],
     {"file": "s.swf", "address": "h:7233", "namespace": "ns", "task_queue": "q",
      "no_worker": True, "until_loaded": True, "timeout": 30.0, "tls": True, "api_key": "k"}),
    (["worker", "s.swf", "--task-queue", "q"], {"file": "s.swf", "task_queue": "q"}),
    (["status", "User-u1", "--format", "json", "--address", "h:1"],
     {"workflow_id": "User-u1", "format": "json", "address": "h:1"}),
    (["token", "set", "User-u1", "--api", "crm", "--from-env", "CRM_TOKEN"],
     {"workflow_id": "User-u1", "api": "crm", "from_env": "CRM_TOKEN", "token_command": "set"}),
    (["payloads", "prune", "--grace", "60", "--dry-run", "--payload-store", "s3://b/p"],
     {"payloads_command": "prune", "grace": 60.0, "dry_run": True, "payload_store": "s3://b/p"}),
])
def test_runtime_commands_parse_into_the_names_runtime_cmds_reads(argv, expected):
    from cli.main import build_parser

    args = vars(build_parser().parse_args(argv))
    assert {k: args[k] for k in expected} == expected


def test_runtime_command_defaults_are_left_to_runtime_cmds():
    from cli.main import build_parser

    args = build_parser().parse_args(["deploy", "s.swf"])
    assert (args.address, args.namespace, args.task_queue, args.timeout, args.tls) == (None,) * 5


def test_bare_swfc_shows_the_commands_and_exits_2(capsys) -> None:
    from cli.main import main

    assert main([]) == 2
    err = capsys.readouterr().err
    assert "validate" in err and "deploy" in err and "Traceback" not in err
