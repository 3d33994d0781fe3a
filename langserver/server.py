"""The language server behind `swfc lsp`: pygls over stdio.

Stage: the editor's end of the CLI. Takes LSP messages; answers them from
`langserver.index` (which runs the compiler's own passes) and `dsl.format` (`swfc fmt`).
Converts between the compiler's positions (1-based, in characters) and the client's
(0-based, in the position encoding agreed at `initialize`, UTF-16 unless the client offers
another).

Every open file is a root, checked with its imports as `swfc validate FILE` checks it; a
change to any open file re-checks every open root (one of them may import it), and the
findings are published for every file they are in, imports included. A file whose
findings went away gets an empty list, which clears it in the editor.
"""

from __future__ import annotations

import os
from importlib import metadata

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from dsl.ast import Span
from dsl.diagnostics import Diagnostic
from langserver.index import Occurrence, SpecIndex, language_words

SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}
COMPLETION_KIND = {"keyword": lsp.CompletionItemKind.Keyword, "type": lsp.CompletionItemKind.TypeParameter,
                   "api": lsp.CompletionItemKind.Module, "entity": lsp.CompletionItemKind.Struct,
                   "workflow": lsp.CompletionItemKind.Class}


class SwfcLanguageServer(LanguageServer):
    """Keeps the last index of each open root and the files it published findings for."""

    def __init__(self) -> None:
        try:
            version = metadata.version("swfc")
        except metadata.PackageNotFoundError:
            version = "dev"
        super().__init__("swfc", version)
        self.indexes: dict[str, SpecIndex] = {}  # by the open root's path
        self.published: set[str] = set()  # uris that hold findings in the editor

    # ---------------------------------------------------------------- documents

    def buffers(self) -> dict[str, str]:
        """The open files' texts by path (an unsaved `untitled:` buffer has none: skipped)."""
        paths = ((to_fs_path(uri), doc) for uri, doc in self.workspace.text_documents.items())
        return {path: doc.source for path, doc in paths if path is not None}

    def recheck(self) -> None:
        """Check every open root again and publish what changed."""
        buffers = self.buffers()
        self.indexes = {path: SpecIndex(path, buffers) for path in buffers if path.endswith(".swf")}
        found: dict[str, set[Diagnostic]] = {}
        for index in self.indexes.values():
            for path, diags in index.diagnostics_by_file().items():
                found.setdefault(from_fs_path(path), set()).update(diags)
        for uri in self.published - set(found):
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        for uri, diags in found.items():
            items = [self.to_lsp(uri, d) for d in sorted(diags, key=Diagnostic.sort_key)]
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=items))
        self.published = set(found)

    def index_for(self, uri: str) -> SpecIndex | None:
        """The index that knows `uri`: its own if it is open, else an open root importing it."""
        path = to_fs_path(uri)
        if path is None:
            return None
        if path in self.indexes:
            return self.indexes[path]
        real = os.path.realpath(path)
        return next((i for i in self.indexes.values() if real in i.occurrences), None)

    # ---------------------------------------------------------------- positions

    def document(self, uri: str) -> TextDocument:
        return self.workspace.get_text_document(uri)

    def to_range(self, uri: str, span: Span) -> lsp.Range:
        start = ServerTextPosition(span.line - 1, span.col - 1)
        end = ServerTextPosition(span.end_line - 1, span.end_col - 1)
        try:
            return self.document(uri).range_to_client_units(ServerTextRange(start, end))
        except (OSError, IndexError):  # a file that cannot be read: characters as they are
            return lsp.Range(lsp.Position(start.line, start.character), lsp.Position(end.line, end.character))

    def to_lsp(self, uri: str, diag: Diagnostic) -> lsp.Diagnostic:
        related = [lsp.DiagnosticRelatedInformation(
            lsp.Location(from_fs_path(os.path.abspath(n.span.file)), self.to_range(uri_of(n.span), n.span)),
            n.message) for n in diag.notes]
        message = diag.message + (f"\nhint: {diag.hint}" if diag.hint else "")
        return lsp.Diagnostic(range=self.to_range(uri, diag.span), message=message, code=diag.code,
                              severity=SEVERITY[diag.severity], source="swfc",
                              related_information=related or None)

    def occurrence(self, uri: str, position: lsp.Position) -> tuple[SpecIndex, Occurrence] | None:
        index = self.index_for(uri)
        if index is None:
            return None
        at = self.document(uri).position_from_client_units(position)
        occ = index.at(to_fs_path(uri), at.line + 1, at.character + 1)
        return (index, occ) if occ is not None else None


def uri_of(span: Span) -> str:
    return from_fs_path(os.path.abspath(span.file))


server = SwfcLanguageServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def on_text(ls: SwfcLanguageServer, params) -> None:
    ls.recheck()


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def on_hover(ls: SwfcLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
    found = ls.occurrence(params.text_document.uri, params.position)
    if found is None:
        return None
    index, occ = found
    text = index.hover(occ)
    if text is None:
        return None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
                     range=ls.to_range(params.text_document.uri, occ.span))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def on_definition(ls: SwfcLanguageServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    found = ls.occurrence(params.text_document.uri, params.position)
    if found is None:
        return None
    index, occ = found
    target = index.definition(occ)
    if target is None:
        return None
    if isinstance(target, str):  # an imported file: its beginning
        start = lsp.Position(0, 0)
        return lsp.Location(from_fs_path(os.path.abspath(target)), lsp.Range(start, start))
    return lsp.Location(uri_of(target), ls.to_range(uri_of(target), target))


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[">", " "]))
def on_completion(ls: SwfcLanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    uri = params.text_document.uri
    document = ls.document(uri)
    at = document.position_from_client_units(params.position)
    line = document.lines[at.line] if at.line < len(document.lines) else ""
    index = ls.index_for(uri)
    before = line[: at.character]
    pairs = index.completions(before) if index is not None else language_words()
    items = [lsp.CompletionItem(label=label, kind=COMPLETION_KIND[kind], detail=kind) for label, kind in pairs]
    return lsp.CompletionList(is_incomplete=False, items=items)


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def on_formatting(ls: SwfcLanguageServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    from dsl.format import format_text

    document = ls.document(params.text_document.uri)
    text = document.source
    formatted, _ = format_text(text, to_fs_path(params.text_document.uri) or params.text_document.uri)
    if formatted is None or formatted == text:
        return None  # a file with syntax errors is never rewritten (as `swfc fmt`)
    lines = text.split("\n")
    end = ServerTextPosition(len(lines) - 1, len(lines[-1]))
    whole = document.range_to_client_units(ServerTextRange(ServerTextPosition(0, 0), end))
    return [lsp.TextEdit(range=whole, new_text=formatted)]


def serve() -> None:
    """Serve one editor over stdin/stdout until it says `exit`."""
    server.start_io()
