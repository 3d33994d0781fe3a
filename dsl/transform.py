"""Lark callbacks → the typed AST of `dsl.ast`.

Stage: runs *inside* the LALR parse (it is handed to `Lark(transformer=...)`), so no parse
tree is ever built: each rule's callback receives its children — AST nodes, and the keyword
and brace tokens that `!rules` keep — and returns a frozen node. Spans come straight from
the tokens: a node starts at its first token and ends after its last one.

Takes: terminals and reduced rules from Lark. Gives: `dsl.ast` nodes. Problems found here
(an unknown string escape, an absurdly long number) go to the parse's `ParseRun.problems`,
never raised, so the parse carries on.

Lark binds one transformer into its cached parser, so what belongs to one parse (the file
name, the problems) is not kept on it: each parse opens its own `ParseRun` (`parse_run`),
held in a context variable, so parses in several threads or tasks never see each other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from lark import Token, Transformer

from dsl.ast import (
    AllowStmt,
    Api,
    AuthStmt,
    AutostartOpt,
    BaseStmt,
    CancelOnDeleteOpt,
    ChildStmt,
    Deploy,
    DeployToken,
    DeployWith,
    EveryOpt,
    FromOpt,
    MaxPagesOpt,
    PaginateOpt,
    Duration,
    Entity,
    EnvValue,
    Field,
    Import,
    Integer,
    Name,
    RateStmt,
    RetryStmt,
    SelectStmt,
    SourceStmt,
    Span,
    Str,
    SubscribeOpt,
    TimeoutStmt,
    TokenStmt,
    TypeRef,
    Workflow,
)

_ESCAPES = {'"': '"', "\\": "\\"}
# Longer whole numbers are refused (SWF001) rather than converted: no count needs them, and
# Python will not even read one of more than 4300 digits (`int()` raises ValueError).
MAX_INT_DIGITS = 100


def _span_maker():
    """`Span(...)` without the frozen dataclass `__init__`, which sets each field through
    `object.__setattr__` and costs about twice as much. A parse makes a Span for every
    token, so this is a tenth of the front end's time. Same class, same fields: the
    result is equal to (and hashes like) `Span(...)`; tests/dsl/test_spans.py checks it."""
    new = object.__new__
    set_file, set_line, set_col, set_end_line, set_end_col = (
        Span.__dict__[name].__set__ for name in ("file", "line", "col", "end_line", "end_col")
    )

    def make(file: str, line: int, col: int, end_line: int, end_col: int) -> Span:
        span = new(Span)
        set_file(span, file)
        set_line(span, line)
        set_col(span, col)
        set_end_line(span, end_line)
        set_end_col(span, end_col)
        return span

    return make


_span = _span_maker()


@dataclass
class ParseRun:
    """One parse's own state: the file's name (for spans), the problems found, and the
    offsets of the `key` words after a type that name a field (`dsl.keys`)."""

    file: str
    problems: list[tuple[str, Span]] = field(default_factory=list)
    key_names: frozenset[int] = frozenset()


_RUN: ContextVar[ParseRun] = ContextVar("swfc_parse_run")  # no default: parse inside `parse_run`


@contextmanager
def parse_run(file: str, key_names: frozenset[int] = frozenset()) -> Iterator[ParseRun]:
    """Whatever is parsed inside belongs to `file` (with `key_names` of `dsl.keys`); yields
    the run to read its problems."""
    run = ParseRun(file, key_names=key_names)
    token = _RUN.set(run)
    try:
        yield run
    finally:
        _RUN.reset(token)


def current_key_names() -> frozenset[int]:
    """The `key_names` of the parse under way (none outside `parse_run`)."""
    run = _RUN.get(None)
    return run.key_names if run is not None else frozenset()


class ToAst(Transformer):
    """The callbacks. `file` names the file of the current parse; `problems` collects its
    `(message, span)` pairs for the caller to turn into SWF001 (both from `parse_run`)."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=True)

    @property
    def file(self) -> str:
        return _RUN.get().file

    @property
    def problems(self) -> list[tuple[str, Span]]:
        return _RUN.get().problems

    # ------------------------------------------------------------------ helpers

    def span(self, first, last=None) -> Span:
        """The span from the start of `first` to the end of `last` (tokens or nodes)."""
        if last is None:
            last = first
        if isinstance(first, Token):
            line, col = first.line, first.column
        else:
            line, col = first.span.line, first.span.col
        if isinstance(last, Token):
            return _span(self.file, line, col, last.end_line, last.end_column)
        end = last.span
        return _span(self.file, line, col, end.end_line, end.end_col)

    def tok_span(self, tok: Token) -> Span:
        return _span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)

    @staticmethod
    def nodes(children) -> tuple:
        """The AST nodes among `children`, dropping the keyword and brace tokens."""
        return tuple(c for c in children if not isinstance(c, Token))

    # ---------------------------------------------------------------- terminals

    def NAME(self, tok: Token) -> Name:
        return Name(str(tok), self.tok_span(tok))

    def STRING(self, tok: Token) -> Str:
        return Str(self.unescape(tok), self.tok_span(tok))

    def DURATION(self, tok: Token) -> Duration:
        return Duration(str(tok), self.tok_span(tok))

    def INT(self, tok: Token) -> Integer:
        significant = tok.lstrip("0") or "0"
        digits = len(significant)
        if digits > MAX_INT_DIGITS:
            self.problems.append((f"a number of {digits} digits is too long: a count here has "
                                  f"at most {MAX_INT_DIGITS} digits", self.tok_span(tok)))
            return Integer(0, self.tok_span(tok))  # reported: nothing else need mention it
        return Integer(int(significant), self.tok_span(tok))

    def unescape(self, tok: Token) -> str:
        """The string's value; an escape other than `\\"` or `\\\\` is reported and kept as written."""
        body = tok[1:-1]
        if "\\" not in body:
            return body
        out, i = [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                else:
                    self.bad_escape(tok, i, nxt)
                    out.append(ch + nxt)
                i += 2
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def bad_escape(self, tok: Token, i: int, ch: str) -> None:
        col = tok.column + 1 + i  # +1 for the opening quote
        where = Span(self.file, tok.line, col, tok.line, col + 2)
        self.problems.append(
            (f"unknown escape `\\{ch}` in a string: only `\\\"` and `\\\\` are allowed", where)
        )

    # ------------------------------------------------------------- declarations

    def start(self, children) -> tuple:
        return tuple(children)

    def api(self, c) -> Api:
        return Api(c[1], self.nodes(c[3:-1]), self.span(c[0], c[-1]))

    def entity(self, c) -> Entity:
        return Entity(c[1], self.nodes(c[3:-1]), self.span(c[0], c[-1]))

    def workflow(self, c) -> Workflow:
        return Workflow(c[1], c[3], self.nodes(c[5:-1]), self.span(c[0], c[-1]))

    def deploy(self, c) -> Deploy:
        body = self.nodes(c[3:])
        tokens = tuple(s for s in body if isinstance(s, DeployToken))
        values = tuple(s for s in body if isinstance(s, DeployWith))
        return Deploy(c[1], c[2], tokens, self.span(c[0], c[-1]), values)

    def import_decl(self, c) -> Import:
        return Import(c[1], self.span(c[0], c[-1]))

    # --------------------------------------------------------------------- api

    def base(self, c) -> BaseStmt:
        return BaseStmt(c[1], self.span(c[0], c[-1]))

    def env_value(self, c) -> EnvValue:
        strings = self.nodes(c)
        default = strings[1] if len(strings) > 1 else None
        return EnvValue(strings[0], default, self.span(c[0], c[-1]))

    def auth_bearer(self, c) -> AuthStmt:
        return AuthStmt("bearer", None, self.span(c[0], c[-1]))

    def auth_header(self, c) -> AuthStmt:
        # [auth, header, NAME] or [auth, header, NAME, prefix, PREFIX]
        return AuthStmt("header", c[2], self.span(c[0], c[-1]), prefix=c[4] if len(c) == 5 else None)

    def auth_query(self, c) -> AuthStmt:
        return AuthStmt("query", None, self.span(c[0], c[-1]), query=c[2])

    def auth_none(self, c) -> AuthStmt:
        return AuthStmt("none", None, self.span(c[0], c[-1]))

    def allow(self, c) -> AllowStmt:
        return AllowStmt(self.nodes(c), self.span(c[0], c[-1]))

    def timeout(self, c) -> TimeoutStmt:
        return TimeoutStmt(c[1], self.span(c[0], c[-1]))

    def rate(self, c) -> RateStmt:
        return RateStmt(c[1], c[3], self.span(c[0], c[-1]))

    def retry(self, c) -> RetryStmt:
        # [retry, N, times] or [retry, N, times, MIN, MAX] (`_backoff` is inlined)
        lo, hi = (c[3], c[4]) if len(c) == 5 else (None, None)
        return RetryStmt(c[1], lo, hi, self.span(c[0], c[-1]))

    # ------------------------------------------------------------------ entity

    def field(self, c) -> Field:
        return Field(c[0], c[1], len(c) == 3, self.span(c[0], c[-1]))

    def type_name(self, c) -> TypeRef:
        return TypeRef(c[0], False, len(c) == 2, self.span(c[0], c[-1]))

    def type_list(self, c) -> TypeRef:
        return TypeRef(c[1], True, len(c) == 4, self.span(c[0], c[-1]))

    # ---------------------------------------------------------------- workflow

    def source(self, c) -> SourceStmt:
        every = c[4] if len(c) == 5 else None
        return SourceStmt(c[1], c[2], c[3], every, self.span(c[0], c[-1]))

    def select(self, c) -> SelectStmt:
        return SelectStmt(c[1], self.span(c[0], c[-1]))

    def token_none(self, c) -> TokenStmt:
        return TokenStmt("none", self.span(c[0], c[-1]))

    def token_inherit(self, c) -> TokenStmt:
        return TokenStmt("inherit", self.span(c[0], c[-1]))

    def child(self, c) -> ChildStmt:
        return ChildStmt(c[1], c[3], self.nodes(c[4:]), self.span(c[0], c[-1]))

    def autostart(self, c) -> AutostartOpt:
        return AutostartOpt(self.span(c[0]))

    def cancel_on_delete(self, c) -> CancelOnDeleteOpt:
        return CancelOnDeleteOpt(self.span(c[0], c[-1]))

    def subscribe(self, c) -> SubscribeOpt:
        return SubscribeOpt(c[2], self.span(c[0], c[-1]))

    def collection_from(self, c) -> FromOpt:
        return FromOpt(c[1], c[2], c[3], self.span(c[0], c[-1]))

    def paginate_link(self, c) -> PaginateOpt:
        return PaginateOpt("link", None, None, None, None, None, self.span(c[0], c[-1]))

    def paginate_page(self, c) -> PaginateOpt:
        # [paginate, page, PARAM] or [paginate, page, PARAM, size, SIZE_PARAM, N]
        size_param, size = (c[4], c[5]) if len(c) == 6 else (None, None)
        return PaginateOpt("page", c[2], None, size_param, size, None, self.span(c[0], c[-1]))

    def paginate_cursor(self, c) -> PaginateOpt:
        return PaginateOpt("cursor", c[2], c[4], None, None, None, self.span(c[0], c[-1]))

    def paginate_last(self, c) -> PaginateOpt:
        # [paginate, last, ITEM_PATH, as, PARAM] (+ [while, MORE_PATH])
        more = c[6] if len(c) == 7 else None
        return PaginateOpt("last", c[2], c[4], None, None, None, self.span(c[0], c[-1]), more=more)

    def paginate_next(self, c) -> PaginateOpt:
        return PaginateOpt("next", c[2], None, None, None, None, self.span(c[0], c[-1]))

    def paginate_offset(self, c) -> PaginateOpt:
        # [paginate, offset, PARAM, size, SIZE_PARAM, N] (+ [total, PATH])
        total = c[7] if len(c) == 8 else None
        return PaginateOpt("offset", c[2], None, c[4], c[5], total, self.span(c[0], c[-1]))

    def child_every(self, c) -> EveryOpt:
        return EveryOpt(c[1], self.span(c[0], c[-1]))

    def max_pages(self, c) -> MaxPagesOpt:
        return MaxPagesOpt(c[1], self.span(c[0], c[-1]))

    # ------------------------------------------------------------------ deploy

    def deploy_token(self, c) -> DeployToken:
        return DeployToken(c[1], c[4], self.span(c[0], c[-1]))

    def deploy_with(self, c) -> DeployWith:
        return DeployWith(c[1], c[2], self.span(c[0], c[-1]))
