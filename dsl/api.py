"""`parse(text, filename)`: the one entry point of the front end.

Stage: glue between `dsl.parser` (fast path: one LALR parse that builds the AST as it goes),
`dsl.recover` (slow path on a syntax error: recover and report every error) and
`dsl.diagnostics`. Takes any string; gives `(Spec, diagnostics)` and never raises.
"""

from __future__ import annotations

import functools

from lark.exceptions import UnexpectedInput, VisitError

from dsl.ast import Entity, Span, Spec
from dsl.diagnostics import CODES, Diagnostic
from dsl.keys import key_field_names
from dsl.parser import get_parser
from dsl.transform import parse_run


def parse(text: str, filename: str) -> tuple[Spec, list[Diagnostic]]:
    """Parses one `.swf` file.

    Args:
        text: the file's contents (any string: broken, empty or binary-looking).
        filename: how to name the file in spans, as the user wrote it.

    Returns:
        The `Spec` (on syntax errors: the declarations that did parse) and the syntax
        diagnostics (SWF001), in source order. Nothing is raised.
    """
    try:
        return _parse(text, filename)
    except Exception as exc:  # a bug in swfc, never the user's fault: report, don't crash
        if isinstance(exc, VisitError):
            exc = exc.orig_exc
        span = Span(filename, 1, 1, 1, 2)
        message = f"internal error while parsing: {type(exc).__name__}: {exc}"
        return Spec(filename, ()), [_diag("SWF099", message, span)]


def _parse(text: str, filename: str) -> tuple[Spec, list[Diagnostic]]:
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark: editors do not show it or count it as a column
    spec, diags = _parse_reading(text, filename, frozenset())
    # A `key` after a type names a field only where reading it as the key mark leaves its
    # entity broken (`dsl.keys`): only then is the text scanned for such words.
    if diags or any(_mark_reading_fails(d) for d in spec.decls if isinstance(d, Entity)):
        names = key_field_names(text)
        if names:
            return _parse_reading(text, filename, names)
    return spec, diags


def _mark_reading_fails(entity: Entity) -> bool:
    """Two fields marked as the key, or a type spelt `key`."""
    return sum(f.is_key for f in entity.fields) > 1 or any(f.type.name.value == "key" for f in entity.fields)


def _parse_reading(text: str, filename: str, key_names: frozenset[int]) -> tuple[Spec, list[Diagnostic]]:
    """One parse, reading the `key` words at `key_names` as field names."""
    with parse_run(filename, key_names) as run:
        try:
            decls = get_parser().parse(text)
        except UnexpectedInput as failure:
            return _parse_broken(text, filename, failure, run.problems)
    return Spec(filename, decls), [_diag("SWF001", m, s) for m, s in run.problems]


def _parse_broken(text: str, filename: str, failure, found) -> tuple[Spec, list[Diagnostic]]:
    """The slow path: recover; `found` collects the transformer's problems as it goes."""
    from dsl.recover import parse_recovering  # only loaded when a file is broken

    decls, problems = parse_recovering(get_parser(), _wording(), text, filename, failure)
    diags = {_diag("SWF001", m, s, notes, hint) for m, s, notes, hint in problems}
    diags |= {_diag("SWF001", m, s) for m, s in found}  # a restart repeats them
    order = sorted(diags, key=lambda d: (d.sort_key(), d.hint or "", repr(d.notes)))
    return Spec(filename, tuple(d for d in decls if d is not None)), order


@functools.lru_cache(maxsize=1)
def _wording():
    from dsl.syntax import Wording

    return Wording(get_parser())


def _diag(code: str, message: str, span: Span, notes=(), hint=None) -> Diagnostic:
    return Diagnostic(code, CODES[code].severity, message, span, tuple(notes), hint)
