"""`swfc lsp` driven by a real LSP client (pygls's) over stdio, as an editor drives it.

One scripted session: open a broken file → the findings `swfc validate` reports, at the same
spans (imported files included); fix it → cleared; go to definition; hover; completion;
formatting. Plus `swfc validate` still imports no language-server code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

from tests.helpers import _SWFC, assert_eventually, imports_of_command, run_swfc, swfc_env

COMMON = """\
api crm { base "http://127.0.0.1:8787"  auth bearer }
entity User    { id string  name string  email string?  listings [Listing] }
entity Listing { id string  title string  price number }
"""

BROKEN_IMPORT = COMMON.replace("price number", "price numbr")  # SWF024 in the imported file

FIXED = """\
import "common.swf"
workflow UserWorkflow manages User {
  source crm get "/users/{id}"
  child listings -> ListingWorkflow { autostart }
}
workflow ListingWorkflow manages Listing { source crm get "/listings/{id}" }
deploy UserWorkflow "u1" { token crm from env "CRM_TOKEN" }
"""

BROKEN = FIXED.replace("manages User {", "manages Usr {").replace("-> ListingWorkflow", "-> ListingFlow") \
    + 'workflow ListingWorkflow manages Listing { source crm get "/listings/{id}" }\n'  # SWF010, with a note


class Editor:
    """The client's side: what the server published, by uri."""

    def __init__(self) -> None:
        self.client = LanguageClient("swfc-test-editor", "1")
        self.published: dict[str, list[lsp.Diagnostic]] = {}

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
            self.published[params.uri] = params.diagnostics

    def findings(self, path: Path) -> list[tuple]:
        """(code, line, column, end line, end column, message, notes), 1-based as `swfc
        validate` prints them; a note is (message, line, column, end line, end column)."""
        return sorted((d.code, *_lsp_range(d.range), d.message,
                       tuple((n.message, *_lsp_range(n.location.range)) for n in d.related_information or ()))
                      for d in self.published.get(from_fs_path(str(path)), []))


def _lsp_range(r: lsp.Range) -> tuple[int, int, int, int]:
    return r.start.line + 1, r.start.character + 1, r.end.line + 1, r.end.character + 1


def validate_findings(path: Path, cwd: Path) -> list[tuple]:
    """What `swfc validate --format json FILE` reports in `path`, as `Editor.findings` has it
    (the hint ends the message, as an editor shows it)."""
    proc = run_swfc("validate", "--format", "json", path.name, cwd=cwd)
    return sorted((d["code"], d["line"], d["column"], d["end_line"], d["end_column"],
                   d["message"] + (f"\nhint: {d['hint']}" if d["hint"] else ""),
                   tuple((n["message"], n["line"], n["column"], n["end_line"], n["end_column"]) for n in d["notes"]))
                  for d in json.loads(proc.stdout) if Path(cwd, d["file"]) == path)


@pytest.fixture
async def session(tmp_path: Path):
    editor = Editor()
    await editor.client.start_io(sys.executable, "-c", _SWFC, "lsp", env=swfc_env(), cwd=str(tmp_path))
    await editor.client.initialize_async(lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(), root_uri=from_fs_path(str(tmp_path))))
    editor.client.initialized(lsp.InitializedParams())
    yield editor
    await editor.client.shutdown_async(None)
    editor.client.exit(None)
    await editor.client.stop()


def position(text: str, needle: str, offset: int = 0) -> lsp.Position:
    """The position of the first `needle` in `text` (plus `offset` characters)."""
    before = text[: text.index(needle) + offset]
    return lsp.Position(line=before.count("\n"), character=len(before) - (before.rfind("\n") + 1))


async def test_an_editor_session(session: Editor, tmp_path: Path):
    main, common = tmp_path / "main.swf", tmp_path / "common.swf"
    main.write_text(BROKEN)
    common.write_text(BROKEN_IMPORT)
    uri = from_fs_path(str(main))
    client = session.client

    # Open a broken file: the findings of `swfc validate`, at its spans, in both files.
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=uri, language_id="swf", version=1, text=BROKEN)))
    expected_main, expected_common = validate_findings(main, tmp_path), validate_findings(common, tmp_path)
    assert {c for c, *_ in expected_main} >= {"SWF010", "SWF020", "SWF021"} and expected_common[0][0] == "SWF024"
    assert any(notes for *_, notes in expected_main)
    await assert_eventually(lambda: session.findings(main) == expected_main, timeout=30)
    await assert_eventually(lambda: session.findings(common) == expected_common)
    unknown = next(d for d in session.published[uri] if d.code == "SWF020")
    assert unknown.range.start == position(BROKEN, "Usr")
    assert unknown.severity == lsp.DiagnosticSeverity.Error and "did you mean `User`?" in unknown.message

    # Fix both (the import on disk, the open file in the buffer only): cleared.
    common.write_text(COMMON)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [lsp.TextDocumentContentChangeWholeDocument(text=FIXED)]))
    await assert_eventually(lambda: session.findings(main) == [] and session.findings(common) == [])

    # Go to definition: a workflow in this file, an entity and a field in the imported one, the import.
    here = lsp.TextDocumentIdentifier(uri=uri)
    found = await client.text_document_definition_async(lsp.DefinitionParams(here, position(FIXED, "-> Listing", 4)))
    assert found.uri == uri and found.range.start == position(FIXED, "ListingWorkflow manages")
    found = await client.text_document_definition_async(lsp.DefinitionParams(here, position(FIXED, "User {", 1)))
    assert found.uri == from_fs_path(str(common)) and found.range.start == position(COMMON, "User ")
    found = await client.text_document_definition_async(lsp.DefinitionParams(here, position(FIXED, "listings")))
    assert found.uri == from_fs_path(str(common)) and found.range.start == position(COMMON, "listings")
    found = await client.text_document_definition_async(lsp.DefinitionParams(here, position(FIXED, "common.swf")))
    assert found.uri == from_fs_path(str(common))

    # Hover: a field's type; a workflow's token needs as the compiler routed them.
    hover = await client.text_document_hover_async(lsp.HoverParams(here, position(FIXED, "listings")))
    assert "`listings`: `[Listing]`" in hover.contents.value
    hover = await client.text_document_hover_async(lsp.HoverParams(here, position(FIXED, "UserWorkflow")))
    assert "needs `crm` (its own `source` and passes it to `ListingWorkflow`)" in hover.contents.value

    # Completion: declared names where a name of that kind goes, keywords elsewhere.
    after_arrow = position(FIXED, "-> ", 3)
    items = await client.text_document_completion_async(lsp.CompletionParams(here, after_arrow))
    assert {i.label for i in items.items} == {"UserWorkflow", "ListingWorkflow"}
    items = await client.text_document_completion_async(lsp.CompletionParams(here, lsp.Position(line=7, character=0)))
    labels = {i.label for i in items.items}
    assert {"workflow", "entity", "deploy", "string", "crm", "User"} <= labels

    # Formatting is `swfc fmt`'s.
    edits = await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        here, lsp.FormattingOptions(tab_size=2, insert_spaces=True)))
    main.write_text(FIXED)
    assert run_swfc("fmt", "--check", "main.swf", cwd=tmp_path).returncode == 1
    run_swfc("fmt", "main.swf", cwd=tmp_path)
    assert [e.new_text for e in edits] == [main.read_text()]

    # A buffer never saved (no file): keywords, and the server lives on.
    untitled = "untitled:Untitled-1"
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=untitled, language_id="swf", version=1, text="ent")))
    items = await client.text_document_completion_async(lsp.CompletionParams(
        lsp.TextDocumentIdentifier(uri=untitled), lsp.Position(line=0, character=3)))
    assert "entity" in {i.label for i in items.items}


def test_validate_imports_no_language_server_code():
    assert imports_of_command(["validate", "specs/marketplace.swf"], ("pygls", "lsprotocol", "langserver")) == (0, [])
