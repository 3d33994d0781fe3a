"""The typed syntax tree of a `.swf` spec.

Stage: produced by `dsl.parser` from Lark's parse tree, consumed by `compiler/`.
Every node is a frozen, slotted dataclass carrying the `Span` it was written at, so that
every later finding can point at the user's own text. Nothing here knows about Lark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node sits: `file` as the user named it, 1-based `line`/`col`, and the
    exclusive `end_line`/`end_col` (the column just after the last character)."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Name:
    """An identifier as written: `value` and its `span` (used for every reference)."""

    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Str:
    """A string literal: `value` with escapes resolved, and its `span` (quotes included)."""

    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration literal such as `500ms` or `5m`, kept as written (`text`): the compiler
    checks the unit and converts, so that a bad unit is a diagnostic, not a syntax error."""

    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Integer:
    """An integer literal."""

    value: int
    span: Span


@dataclass(frozen=True, slots=True)
class EnvValue:
    """`env("VAR", "default")`: `var` is read at deploy time, `default` (or None) otherwise."""

    var: Str
    default: Str | None
    span: Span


Value = Union[Str, EnvValue]


# ---------------------------------------------------------------------------------- api


@dataclass(frozen=True, slots=True)
class BaseStmt:
    """`base VALUE`: the API's base URL."""

    value: Value
    span: Span


@dataclass(frozen=True, slots=True)
class AuthStmt:
    """`auth bearer` | `auth header "X-Api-Key" [prefix "token "]` | `auth query "api_key"` |
    `auth none`; `header` and `prefix` only for "header", `query` (the parameter) for "query"."""

    scheme: Literal["bearer", "header", "query", "none"]
    header: Str | None
    span: Span
    prefix: Str | None = None
    query: Str | None = None


@dataclass(frozen=True, slots=True)
class AllowStmt:
    """`allow "host:port", ...`: origins a token may be sent to."""

    origins: tuple[Str, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class TimeoutStmt:
    """`timeout DURATION`: per-request timeout."""

    duration: Duration
    span: Span


@dataclass(frozen=True, slots=True)
class RetryStmt:
    """`retry N times [backoff MIN .. MAX]`."""

    times: Integer
    backoff_min: Duration | None
    backoff_max: Duration | None
    span: Span


@dataclass(frozen=True, slots=True)
class RateStmt:
    """`rate N/UNIT`: at most `count` requests per `unit` (s, m or h) to the api, across workers."""

    count: Integer
    unit: Name
    span: Span


ApiStmt = Union[BaseStmt, AuthStmt, AllowStmt, TimeoutStmt, RetryStmt, RateStmt]


@dataclass(frozen=True, slots=True)
class Api:
    """`api NAME { ... }`: an HTTP API that workflows load their data from."""

    name: Name
    body: tuple[ApiStmt, ...]
    span: Span


# ------------------------------------------------------------------------------- entity


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A field's type: `name` is a primitive (`string`, ...) or an entity name;
    `is_list` for `[T]`, `optional` for a trailing `?`."""

    name: Name
    is_list: bool
    optional: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Field:
    """`NAME TYPE [key]` inside an entity."""

    name: Name
    type: TypeRef
    is_key: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Entity:
    """`entity NAME { fields }`."""

    name: Name
    fields: tuple[Field, ...]
    span: Span


# ----------------------------------------------------------------------------- workflow


@dataclass(frozen=True, slots=True)
class SourceStmt:
    """`source API METHOD "PATH" [every DURATION]`: how the workflow loads its entity."""

    api: Name
    method: Name
    path: Str
    every: Duration | None
    span: Span


@dataclass(frozen=True, slots=True)
class SelectStmt:
    """`select "a.b"`: where the entity sits in the response body."""

    path: Str
    span: Span


@dataclass(frozen=True, slots=True)
class TokenStmt:
    """`token none` | `token inherit`."""

    mode: Literal["none", "inherit"]
    span: Span


@dataclass(frozen=True, slots=True)
class AutostartOpt:
    """`autostart` inside a child block."""

    span: Span


@dataclass(frozen=True, slots=True)
class CancelOnDeleteOpt:
    """`cancel on delete` inside a child block."""

    span: Span


@dataclass(frozen=True, slots=True)
class SubscribeOpt:
    """`subscribe update "SELECTOR"` inside a child block."""

    selector: Str
    span: Span


@dataclass(frozen=True, slots=True)
class FromOpt:
    """`from API METHOD "TEMPLATE"` inside a child block: the relation is a collection,
    filled from this list endpoint; the template names fields of the *parent's* entity."""

    api: Name
    method: Name
    template: Str
    span: Span


@dataclass(frozen=True, slots=True)
class PaginateOpt:
    """`paginate STYLE ...` inside a child block (DESIGN.md §6 "Pagination").

    `style` is link | page | cursor | last | next | offset. `param`: the page or offset
    query parameter (page, offset), the body path of the cursor (cursor) or next URL (next),
    or the path in the last item of the value sent for the next page (last); `as_param`: the
    query parameter a cursor or that value is sent as; `size_param`/`size`: the page-size
    query parameter and its value (page, offset); `total`: the body path of the item count
    (offset); `more`: the body path of the boolean that says more pages follow (last's
    `while`). Fields a style does not take are None."""

    style: Literal["link", "page", "cursor", "last", "next", "offset"]
    param: Str | None
    as_param: Str | None
    size_param: Str | None
    size: Integer | None
    total: Str | None
    span: Span
    more: Str | None = None


@dataclass(frozen=True, slots=True)
class EveryOpt:
    """`every DURATION` inside a child block: how often the collection is listed again."""

    duration: Duration
    span: Span


@dataclass(frozen=True, slots=True)
class MaxPagesOpt:
    """`max N pages` inside a child block: the most pages one listing reads."""

    count: Integer
    span: Span


ChildOpt = Union[AutostartOpt, CancelOnDeleteOpt, SubscribeOpt, FromOpt, SelectStmt, PaginateOpt,
                 EveryOpt, MaxPagesOpt]


@dataclass(frozen=True, slots=True)
class ChildStmt:
    """`child FIELD -> WORKFLOW [{ options }]`."""

    field: Name
    workflow: Name
    options: tuple[ChildOpt, ...]
    span: Span


WorkflowStmt = Union[SourceStmt, SelectStmt, TokenStmt, ChildStmt]


@dataclass(frozen=True, slots=True)
class Workflow:
    """`workflow NAME manages ENTITY { ... }`."""

    name: Name
    entity: Name
    body: tuple[WorkflowStmt, ...]
    span: Span


# ------------------------------------------------------------------------ deploy, import


@dataclass(frozen=True, slots=True)
class DeployToken:
    """`token API from env "VAR"` inside a deploy block."""

    api: Name
    env_var: Str
    span: Span


@dataclass(frozen=True, slots=True)
class DeployWith:
    """`with FIELD "value"` inside a deploy block: a field value the root's templates need
    before its first load (besides its key)."""

    field: Name
    value: Str
    span: Span


@dataclass(frozen=True, slots=True)
class Deploy:
    """`deploy WORKFLOW "ID" [{ tokens and with values }]`: a root the CLI starts. `tokens`
    and `values` keep their source order; `body` gives both in source order."""

    workflow: Name
    entity_id: Str
    tokens: tuple[DeployToken, ...]
    span: Span
    values: tuple[DeployWith, ...] = ()

    @property
    def body(self) -> tuple[DeployToken | DeployWith, ...]:
        return tuple(sorted((*self.tokens, *self.values), key=lambda s: (s.span.line, s.span.col)))


@dataclass(frozen=True, slots=True)
class Import:
    """`import "path.swf"`, relative to the importing file."""

    path: Str
    span: Span


Decl = Union[Api, Entity, Workflow, Deploy, Import]


@dataclass(frozen=True, slots=True)
class Spec:
    """One parsed file: its declarations in source order."""

    file: str
    decls: tuple[Decl, ...] = field(default_factory=tuple)
