"""The example specs compile to schema-valid, deterministic IR equal to the golden files
(tests/golden/<stem>.ir.json; SWFC_REGEN_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from compiler import compile_files, dump_ir
from compiler.validate import validator
from tests.compiler.helpers import ROOT, golden

EXAMPLES = ["marketplace", "support_desk", "build_system", "github"]


def compiled(path: str) -> dict:
    ir, diags = compile_files([path])
    assert [d for d in diags if d.severity == "error"] == [], diags
    assert ir is not None
    return ir


@pytest.mark.parametrize("stem", EXAMPLES)
def test_example_matches_golden_and_schema(stem, at_root):
    ir = compiled(f"specs/{stem}.swf")
    assert list(validator().iter_errors(ir)) == []
    golden(ROOT / "tests" / "golden" / f"{stem}.ir.json", dump_ir(ir))


@pytest.mark.parametrize("stem", EXAMPLES)
def test_examples_have_no_findings(stem, at_root):
    assert compile_files([f"specs/{stem}.swf"])[1] == []


@pytest.mark.parametrize("stem", EXAMPLES)
def test_ir_does_not_depend_on_cwd_or_directory(stem, at_root, tmp_path, monkeypatch):
    reference = dump_ir(compiled(f"specs/{stem}.swf"))
    assert dump_ir(compiled(f"specs/{stem}.swf")) == reference
    copy = tmp_path / "elsewhere" / "specs"
    shutil.copytree(ROOT / "specs", copy)
    monkeypatch.chdir(copy)
    assert dump_ir(compiled(f"{stem}.swf")) == reference
    monkeypatch.chdir(tmp_path)
    assert dump_ir(compiled(str(copy / f"{stem}.swf"))) == reference


def test_ir_identical_across_processes(at_root):
    code = ("import sys; from compiler import compile_files, dump_ir; "
            "sys.stdout.write(dump_ir(compile_files(['specs/build_system.swf'])[0]))")
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                                capture_output=True, text=True).stdout)
    assert len(outs) == 1


def test_token_routing_of_examples(at_root):
    support = compiled("specs/support_desk.swf")["workflows"]
    assert support["OrganisationWorkflow"]["needs"] == ["desk", "notes"]
    assert support["TicketWorkflow"]["children"][0]["tokens"] == ["notes"]
    build = compiled("specs/build_system.swf")["workflows"]
    assert build["JobWorkflow"]["needs"] == ["ci"]
    assert build["JobWorkflow"]["children"][0]["tokens"] == []
    assert build["ArtifactWorkflow"] == {**build["ArtifactWorkflow"], "token": "none",
                                         "needs": []}


@pytest.mark.parametrize("stem", EXAMPLES)
def test_hash_is_as_docs_ir_md_defines_it(stem, at_root):
    import hashlib
    import json

    ir = compiled(f"specs/{stem}.swf")
    body = {k: v for k, v in ir.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert ir["hash"] == "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
