"""Diagnostics: the one record every stage reports problems with, and the code registry.

Stage: shared by `dsl/` (syntax) and `compiler/` (semantics); rendered by `cli/`.
Codes are stable: once published, a code keeps its meaning. `CODES` is the single source
of the README's table (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dsl.ast import Span

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Note:
    """A second location that helps ("first defined here")."""

    message: str
    span: Span


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: `code` (SWFnnn), `severity`, `message`, where (`span`), plus optional
    `notes` (other locations) and a `hint` (how to fix it)."""

    code: str
    severity: Severity
    message: str
    span: Span
    notes: tuple[Note, ...] = ()
    hint: str | None = None

    def sort_key(self) -> tuple:
        s = self.span
        return (s.file, s.line, s.col, self.code, self.message)


@dataclass(frozen=True, slots=True)
class Code:
    """A registered code: its `severity` and a one-line `summary` for the docs."""

    code: str
    severity: Severity
    summary: str


# The registry. Order here is the order of the README's table.
CODES: dict[str, Code] = {
    c.code: c
    for c in [
        Code("SWF001", "error", "syntax error: the text does not follow the grammar"),
        Code("SWF002", "error", "a file cannot be read (missing, unreadable, not UTF-8)"),
        Code("SWF003", "warning", "a file declares nothing (it is empty or holds only comments)"),
        Code("SWF010", "error", "duplicate declaration name (api, entity or workflow)"),
        Code("SWF011", "error", "duplicate field in an entity"),
        Code("SWF012", "error", "a statement given twice where only one is allowed"),
        Code("SWF013", "error", "the same root deployed twice"),
        Code("SWF014", "error", "two workflows manage the same entity (their workflow ids `<Entity>-<id>` would collide)"),
        Code("SWF020", "error", "unknown entity"),
        Code("SWF021", "error", "unknown workflow"),
        Code("SWF022", "error", "unknown api"),
        Code("SWF023", "error", "unknown field"),
        Code("SWF024", "error", "unknown type"),
        Code("SWF030", "error", "`child FIELD` where FIELD is not a relation of the managed entity"),
        Code("SWF031", "error", "the child workflow manages a different entity than the relation's target"),
        Code("SWF032", "error", "URL template placeholder that is not a field of the managed entity"),
        Code("SWF033", "error", "bad `key`: none, several, or on a field that cannot be a key"),
        Code("SWF034", "error", "bad `source`: unsupported method, or a path that is not a URL path"),
        Code("SWF035", "error", "bad `select` path or `subscribe` selector"),
        Code("SWF036", "error", "bad URL template expression, or a template URL outside the api's `allow` list"),
        Code("SWF037", "error", "a deployed root's URL template needs a value other than its key and its `with` values"),
        Code("SWF038", "error", "bad collection: `from` on a single relation, a bad method or URL, or a collection option without `from`"),
        Code("SWF039", "error", "bad `paginate` (query parameter, body path, page size) or `max N pages`"),
        Code("SWF040", "error", "bad duration"),
        Code("SWF041", "error", "bad retry count or backoff range"),
        Code("SWF042", "error", "bad URL"),
        Code("SWF043", "error", "bad origin in `allow`, or a base URL outside its own allow list"),
        Code("SWF044", "error", "api without a `base`"),
        Code("SWF045", "error", "bad `auth header` name"),
        Code("SWF046", "error", "a base URL with no origin a token may go to (user info, a backslash, non-ASCII text)"),
        Code("SWF047", "error", "an `allow` entry that would send an https api's token over plain http"),
        Code("SWF048", "error", "bad `rate`: a count of at least 1 per `s`, `m` or `h`"),
        Code("SWF049", "error", "bad `auth header` prefix or `auth query` parameter name"),
        Code("SWF050", "error", "malformed `deploy`: empty or invalid id, or a bad env variable name"),
        Code("SWF051", "error", "bad `with` value in a `deploy` block: the key, a field that is not a scalar, or a value not of the field's type"),
        Code("SWF060", "error", "a token need crosses a `token none` workflow"),
        Code("SWF061", "error", "a deployed root needs a token its `deploy` block does not provide"),
        Code("SWF062", "error", "an `auth` api is used where no token can ever reach"),
        Code("SWF063", "error", "a `deploy` block gives a token for an api that needs none"),
        Code("SWF064", "error", "a `source` or collection `from` URL, or a `paginate` parameter, sets the query parameter that `auth query` carries the token in"),
        Code("SWF070", "error", "import cycle"),
        Code("SWF071", "error", "imported file not found"),
        Code("SWF080", "warning", "relation cycle in the workflow graph: the runtime stops recursion there"),
        Code("SWF081", "warning", "declared but never used"),
        Code("SWF082", "warning", "child edge without `autostart` only attaches to running workflows"),
        Code("SWF099", "error", "internal compiler error (a bug in swfc, not in your spec)"),
    ]
}


@dataclass
class Collector:
    """Where passes put their findings; they carry on after each one."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(
        self,
        code: str,
        message: str,
        span: Span,
        *,
        notes: tuple[Note, ...] = (),
        hint: str | None = None,
    ) -> None:
        self.items.append(Diagnostic(code, CODES[code].severity, message, span, notes, hint))

    def extend(self, diagnostics: list[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        """Findings in a stable order (file, line, column, code), duplicates removed."""
        return sorted(set(self.items), key=Diagnostic.sort_key)
