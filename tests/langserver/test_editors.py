"""`editors/`: the TextMate grammar knows every keyword of grammar.lark, and the VS Code
extension's manifest names files that exist and starts `swfc lsp`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from compiler.resolve import PRIMITIVES
from langserver.index import keywords

VSCODE = Path(__file__).resolve().parents[2] / "editors" / "vscode"


def textmate() -> dict:
    return json.loads((VSCODE / "syntaxes" / "swf.tmLanguage.json").read_text())


def alternatives(pattern: str) -> set[str]:
    return set(re.fullmatch(r"\\b\((.*)\)\\b", pattern).group(1).split("|"))


def test_the_grammar_highlights_every_keyword_and_type():
    repo = textmate()["repository"]
    assert alternatives(repo["keyword"]["match"]) == set(keywords()), \
        "grammar.lark's keywords changed: update editors/vscode/syntaxes/swf.tmLanguage.json"
    assert alternatives(repo["type"]["match"]) == set(PRIMITIVES)


def test_every_pattern_compiles_and_finds_what_it_names():
    repo = textmate()["repository"]
    spec = 'workflow UserWorkflow manages User {  # a comment\n  source crm get "/users/{id}" every 5m\n}'
    # TextMate matches line by line
    found = {name: next(filter(None, (re.search(rule["match"], line) for line in spec.split("\n"))), None)
             for name, rule in repo.items() if "match" in rule}
    assert found["declaration"].group(2, 4) == ("UserWorkflow", "User")
    assert found["comment"].group(0) == "# a comment"
    assert found["duration"].group(0) == "5m"
    assert re.search(repo["string"]["patterns"][1]["match"], spec).group(0) == "{id}"


def test_the_extension_starts_swfc_lsp_with_the_grammar():
    manifest = json.loads((VSCODE / "package.json").read_text())
    contributes = manifest["contributes"]
    assert (VSCODE / contributes["grammars"][0]["path"]).is_file()
    assert (VSCODE / contributes["languages"][0]["configuration"]).is_file()
    assert contributes["languages"][0]["extensions"] == [".swf"]
    assert contributes["configuration"]["properties"]["swfc.command"]["default"] == ["swfc", "lsp"]
    assert "LanguageClient" in (VSCODE / manifest["main"]).read_text()
