"""What an editor asks about a spec, answered from the compiler's own passes.

Stage: beside the CLI, above `compiler/`. Takes a root file and the texts the editor holds
(open buffers win over the disk); gives the same findings as `swfc validate` (same codes,
same spans: it is the same pipeline), and for a position in any loaded file the name there,
its declaration, a hover text and completions. No LSP type here: positions are the
compiler's (1-based line, 1-based column counted in characters); `langserver.server`
converts.

Names are found by walking the AST generically: a `Name` under an attribute called `api`,
`entity` or `workflow` refers to a declaration of that kind, whatever statement holds it,
so statements added to the language later are understood without a change here.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass

from compiler import Analysis, FileSource, understand
from compiler.resolve import PRIMITIVES, Symbols
from dsl import ast
from dsl.diagnostics import Diagnostic

KINDS = ("api", "entity", "workflow")  # attribute names that refer to a declaration of that kind


@dataclass(frozen=True)
class Occurrence:
    """A name in the text: `kind` (api, entity, workflow, field, import), the `name` it
    spells, whether it is the declaration itself, and for a field the entity it belongs to."""

    kind: str
    name: str
    span: ast.Span
    is_declaration: bool = False
    entity: str | None = None


class OverlaySource(FileSource):
    """Files on disk, except those the editor has open: their unsaved text wins."""

    def __init__(self, buffers: dict[str, str]):
        self.buffers = {os.path.realpath(path): text for path, text in buffers.items()}

    def read(self, name: str) -> str:
        text = self.buffers.get(os.path.realpath(name))
        return super().read(name) if text is None else text


class SpecIndex:
    """One root file understood: its findings, and the names written in every loaded file."""

    def __init__(self, root: str, buffers: dict[str, str]):
        self.root = root
        self.analysis: Analysis = understand([root], OverlaySource(buffers))
        self.symbols: Symbols = self.analysis.symbols or Symbols()
        self.needs: dict[str, list[str]] = getattr(self.analysis.routes, "needs", {}) or {}
        self.occurrences: dict[str, list[Occurrence]] = {}  # by real path
        for spec in self.analysis.loaded.specs:
            found = self.occurrences.setdefault(os.path.realpath(spec.file), [])
            for decl in spec.decls:
                found.extend(_walk(decl, None, None))

    # ---------------------------------------------------------------- findings

    def diagnostics_by_file(self) -> dict[str, list[Diagnostic]]:
        """Every finding of `swfc validate ROOT`, by the real path of the file it is in."""
        found: dict[str, list[Diagnostic]] = {}
        for diag in self.analysis.diagnostics:
            found.setdefault(os.path.realpath(diag.span.file), []).append(diag)
        return found

    # ---------------------------------------------------------------- positions

    def at(self, path: str, line: int, col: int) -> Occurrence | None:
        """The name at a position (the column just after a name still counts as on it)."""
        for occ in self.occurrences.get(os.path.realpath(path), ()):
            s = occ.span
            if s.line == line and s.col <= col <= s.end_col:
                return occ
        return None

    def definition(self, occ: Occurrence) -> ast.Span | str | None:
        """Where `occ` is declared: a span, a file path (an import), or None if unknown."""
        if occ.kind == "import":
            return os.path.join(os.path.dirname(occ.span.file), occ.name)
        if occ.kind == "field":
            entity = self.symbols.entities.get(occ.entity or "")
            field = entity.fields.get(occ.name) if entity else None
            return field.name.span if field else None
        view = self._table(occ.kind).get(occ.name)
        return view.decl.name.span if view is not None else None

    def hover(self, occ: Occurrence) -> str | None:
        """Markdown about the name: a field's type, a workflow's token needs, an api's base."""
        return getattr(self, "_hover_" + occ.kind)(occ)

    def completions(self, before: str) -> list[tuple[str, str]]:
        """`(label, kind)` pairs for the text `before` the cursor on its line: the names a
        position can take after `manages`, `->`, `source` and the like, else every keyword
        and declared name."""
        wanted = _AFTER.get(_word_before(before))
        names = [(n, kind) for kind in KINDS for n in self._table(kind) if wanted in (None, kind)]
        return names if wanted is not None else language_words() + names

    # ---------------------------------------------------------------- hover texts

    def _table(self, kind: str) -> dict:
        return {"api": self.symbols.apis, "entity": self.symbols.entities,
                "workflow": self.symbols.workflows}.get(kind, {})

    def _hover_field(self, occ: Occurrence) -> str | None:
        entity = self.symbols.entities.get(occ.entity or "")
        field = entity.fields.get(occ.name) if entity else None
        if field is None:
            return None
        text = f"`{occ.name}`: `{type_text(field.type)}` — field of entity `{occ.entity}`"
        if field.is_key or (occ.name == "id" and not any(f.is_key for f in entity.fields.values())):
            text += " (its key)"
        if entity.is_relation(field):
            text += f"; a relation to `{field.type.name.value}`"
        return text

    def _hover_entity(self, occ: Occurrence) -> str | None:
        entity = self.symbols.entities.get(occ.name)
        if entity is None:
            return None
        rows = "\n".join(f"  {f.name.value} {type_text(f.type)}{' key' if f.is_key else ''}"
                         for f in entity.fields.values())
        managers = [w.name for w in self.symbols.workflows.values() if w.decl.entity.value == occ.name]
        text = f"```swf\nentity {occ.name} {{\n{rows}\n}}\n```"
        return text + (f"\nmanaged by {', '.join(f'`{m}`' for m in managers)}" if managers else "")

    def _hover_workflow(self, occ: Occurrence) -> str | None:
        wf = self.symbols.workflows.get(occ.name)
        if wf is None:
            return None
        lines = [f"workflow `{occ.name}` manages `{wf.decl.entity.value}`"]
        if wf.token_none:
            lines.append("`token none`: never holds a token")
        needs = self.needs.get(occ.name, [])
        lines.append("tokens: " + ("; ".join(self._why(wf, api) for api in needs) if needs else "needs none"))
        return "\n\n".join(lines)

    def _why(self, wf, api: str) -> str:
        """Why a workflow needs `api`'s token, as the compiler routed it."""
        reasons = ["its own `source`"] if wf.source is not None and wf.source.api.value == api else []
        below = [c.stmt.workflow.value for c in wf.children if api in self.needs.get(c.stmt.workflow.value, [])]
        if below:
            reasons.append("passes it to " + ", ".join(f"`{w}`" for w in dict.fromkeys(below)))
        return f"needs `{api}` ({' and '.join(reasons) or 'routed'})"

    def _hover_api(self, occ: Occurrence) -> str | None:
        api = self.symbols.apis.get(occ.name)
        if api is None:
            return None
        lines = [f"api `{occ.name}`"]
        if api.base is not None:
            value = api.base.value
            lines.append("base " + (f'"{value.value}"' if isinstance(value, ast.Str) else f"env(\"{value.var.value}\")"))
        lines.append("auth " + (api.auth.scheme if api.auth else "none"))
        users = [w for w, needs in self.needs.items() if occ.name in needs]
        lines.append("token held by " + (", ".join(f"`{w}`" for w in users) if users else "no workflow"))
        return "\n\n".join(lines)

    def _hover_import(self, occ: Occurrence) -> str | None:
        return f"imports `{os.path.normpath(os.path.join(os.path.dirname(occ.span.file), occ.name))}`"


# Which kind of name comes after a word (`manages User`, `-> ListingWorkflow`, `source crm`).
_AFTER = {"manages": "entity", "->": "workflow", "deploy": "workflow", "source": "api",
          "from": "api", "token": "api"}


def _word_before(before: str) -> str:
    """The word before the one being typed at the end of `before` (`->` counts as a word)."""
    words = before.replace("->", " -> ").split()
    typing = bool(before) and (before[-1].isalnum() or before[-1] == "_")
    if typing:
        words = words[:-1]
    return words[-1] if words else ""


def type_text(t: ast.TypeRef) -> str:
    """A type as written: `string`, `[Listing]`, `User?`."""
    text = f"[{t.name.value}]" if t.is_list else t.name.value
    return text + ("?" if t.optional else "")


def language_words() -> list[tuple[str, str]]:
    """Every keyword and primitive type, as `(label, kind)` completions."""
    return [(k, "keyword") for k in keywords()] + [(p, "type") for p in PRIMITIVES]


@functools.lru_cache(maxsize=1)
def keywords() -> tuple[str, ...]:
    """The language's keywords, read from the grammar itself (so they cannot drift)."""
    from dsl.parser import get_parser

    parser = get_parser()
    return tuple(sorted({t.pattern.value for t in parser.terminals
                         if t.pattern.type == "str" and t.pattern.value.isalpha()}))


def _walk(node, entity: str | None, managed: str | None):
    """Every name under `node`; `entity` is the enclosing entity, `managed` the entity the
    enclosing workflow manages."""
    if isinstance(node, ast.Entity):
        entity = node.name.value
    if isinstance(node, ast.Workflow):
        managed = node.entity.value
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        occ = _occurrence(node, f.name, value, entity, managed)
        if occ is not None:
            yield occ
        for child in value if isinstance(value, tuple) else (value,):
            if dataclasses.is_dataclass(child) and not isinstance(child, (ast.Name, ast.Str, ast.Span)):
                yield from _walk(child, entity, managed)


def _occurrence(node, attr: str, value, entity: str | None, managed: str | None) -> Occurrence | None:
    if isinstance(node, ast.Import) and attr == "path":
        return Occurrence("import", value.value, value.span)
    if not isinstance(value, ast.Name):
        return None
    if attr in KINDS:
        return Occurrence(attr, value.value, value.span)
    if attr == "name":
        if isinstance(node, (ast.Api, ast.Entity, ast.Workflow)):
            return Occurrence(type(node).__name__.lower(), value.value, value.span, is_declaration=True)
        if isinstance(node, ast.Field):
            return Occurrence("field", value.value, value.span, is_declaration=True, entity=entity)
        if isinstance(node, ast.TypeRef) and value.value not in PRIMITIVES:
            return Occurrence("entity", value.value, value.span)
    if attr == "field":
        return Occurrence("field", value.value, value.span, entity=managed)
    return None
