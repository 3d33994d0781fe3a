"""Canonical formatting: a parsed spec and its comments → the spec's canonical text.

Stage: beside the compiler, after `dsl.parse` and `dsl.comments`; used by `swfc fmt`.
Takes a `Spec` and its `Comment`s (no Lark object, no source text); gives text that parses
to the same spec, keeps every comment in order, and formats to itself again.

The layout is DESIGN.md §1's: two-space indent, one statement per line, declarations in
the order written and one blank line between them (a run of `import`s, or of brace-less
`deploy`s, stays together if it was), single blank lines inside blocks kept, values
aligned in `api` blocks, entity fields and deploy tokens, strings re-escaped, durations as
written, `child F -> W { opt }` on one line when it has at most one option and no comment.

Comments are placed by position. One after code on the same line stays on that
statement's line (trailing comments of a declaration's statements share a column); one on
a line of its own stays above what follows it, or at the end of its block; one inside a
statement that is written over several lines moves above that statement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dsl.api import parse
from dsl.ast import (
    AllowStmt, Api, AuthStmt, AutostartOpt, BaseStmt, CancelOnDeleteOpt, ChildStmt, Deploy,
    DeployToken, DeployWith, Entity, EnvValue, EveryOpt, Field, FromOpt, Import, MaxPagesOpt,
    PaginateOpt, RateStmt, RetryStmt, SelectStmt, SourceStmt, Span, Spec, Str, SubscribeOpt,
    TimeoutStmt, TokenStmt, TypeRef, Workflow,
)
from dsl.comments import Comment, collect
from dsl.diagnostics import CODES, Diagnostic

INDENT = "  "
Pos = tuple[int, int]
_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"'})


def format_text(text: str, filename: str) -> tuple[str | None, list[Diagnostic]]:
    """Formats one file's text.

    Args:
        text: the file's contents.
        filename: how to name the file in diagnostics.
    Returns:
        `(canonical text, [])`, or `(None, diagnostics)` when the file has syntax errors
        (a broken file is never rewritten) or, as SWF099, when the result would not parse
        back to the same spec and comments (a formatter bug; the file must stay as it is).
    """
    spec, diags = parse(text, filename)
    if any(d.severity == "error" for d in diags):
        return None, diags
    comments = collect(text)
    out = format_spec(spec, comments)
    again, again_diags = parse(out, filename)
    if again_diags or shape(again) != shape(spec) or _texts(collect(out)) != _texts(comments):
        message = "internal error: formatting would change the spec; the file is left as it is"
        return None, [Diagnostic("SWF099", CODES["SWF099"].severity, message,
                                 Span(filename, 1, 1, 1, 2))]
    return out, diags


def format_spec(spec: Spec, comments: Sequence[Comment]) -> str:
    """The canonical text of `spec`, with `comments` (those of the text it was parsed from)."""
    printer = _Printer()
    printer.top_level(spec.decls, sorted(comments))
    return printer.render()


def shape(node):
    """`node` with every span left out: what was written, not where (for comparing specs)."""
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple(
            shape(getattr(node, f.name)) for f in dataclasses.fields(node)
            if f.name not in ("span", "file"))
    if isinstance(node, tuple):
        return tuple(shape(n) for n in node)
    return node


def _texts(comments: Sequence[Comment]) -> list[str]:
    return [c.text for c in comments]


# ------------------------------------------------------------------ placing comments


def _start(node) -> Pos:
    return (node.span.line, node.span.col)


def _end(node) -> Pos:
    return (node.span.end_line, node.span.end_col)


@dataclass
class _Placed:
    """A statement or declaration with its comments: `leading` (full lines above it),
    `inner` (inside its span), `trailing` (after it on its last line)."""

    node: object
    leading: list[Comment] = field(default_factory=list)
    inner: list[Comment] = field(default_factory=list)
    trailing: Comment | None = None


def _place(nodes, comments, header_line: int):
    """Distributes the `comments` of a block (or the file) among its `nodes`.

    Returns `(head, placed, dangling)`: the comment on the block's header line (after
    `{`) or None, the nodes with their comments, and the comments after the last node."""
    placed = [_Placed(n) for n in nodes]
    head, dangling, k = None, [], 0
    for c in comments:
        pos = (c.line, c.col)
        while k < len(placed) and _end(placed[k].node) <= pos:
            k += 1
        prev = placed[k - 1] if k else None
        if k < len(placed) and _start(placed[k].node) < pos:
            placed[k].inner.append(c)
        elif prev is not None and prev.node.span.end_line == c.line:
            prev.trailing = c
        elif prev is None and c.line == header_line:
            head = c
        elif k < len(placed):
            placed[k].leading.append(c)
        else:
            dangling.append(c)
    return head, placed, dangling


# ---------------------------------------------------------------------- the printer


@dataclass
class _Line:
    """An output line: `code` at `indent` levels, its trailing `comment`, and the `group`
    (top-level declaration) whose trailing comments share a column; None = a blank line."""

    indent: int
    code: str | None
    comment: str | None = None
    group: int | None = None


class _Printer:
    """Builds the output lines. Statements dispatch by `visit_<Node>` to their text."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self.group = 0

    # ------------------------------------------------------------------ output

    def emit(self, indent: int, code: str, comment: Comment | None = None) -> None:
        group = self.group if indent else None  # top-level lines: two spaces, not aligned
        self.lines.append(_Line(indent, code, comment.text if comment else None, group))

    def comment_lines(self, indent: int, comments: Sequence[Comment]) -> None:
        for c in comments:
            self.lines.append(_Line(indent, c.text))

    def blank(self) -> None:
        if self.lines and self.lines[-1].code is not None:
            self.lines.append(_Line(0, None))

    def render(self) -> str:
        columns: dict[int, int] = {}
        for line in self.lines:
            if line.comment is not None and line.group is not None:
                width = len(INDENT) * line.indent + len(line.code) + 2
                columns[line.group] = max(columns.get(line.group, 0), width)
        out = []
        for line in self.lines:
            if line.code is None:
                out.append("")
                continue
            text = INDENT * line.indent + line.code
            if line.comment is not None:
                text = text.ljust(columns.get(line.group, len(text) + 2)) + line.comment
            out.append(text)
        return "".join(text + "\n" for text in out)

    # ------------------------------------------------------------------ layout

    def top_level(self, decls, comments) -> None:
        _, placed, dangling = _place(decls, comments, header_line=0)
        prev = None
        for number, item in enumerate(placed):
            self.group = number
            if prev is not None and not _kept_together(prev.node, item.node):
                self.blank()
            self.entries([item], [], 0, prev)
            prev = item
        if prev is not None and dangling and not _one_line(prev.node):
            self.blank()
        self.entries([], dangling, 0, prev)

    def entries(self, placed, dangling, indent: int, prev=None, code=None) -> None:
        """Comments and statements in source order; a blank line between two of them is
        kept (one), none is added. `code` gives a simple statement's text."""
        last = prev.node.span.end_line if prev is not None else None
        for item in placed:
            for c in item.leading:
                self.gap(last, c.line)
                self.comment_lines(indent, [c])
                last = c.line
            self.gap(last, item.node.span.line)
            self.statement(item, indent, code)
            last = item.node.span.end_line
        for c in dangling:
            self.gap(last, c.line)
            self.comment_lines(indent, [c])
            last = c.line

    def gap(self, last: int | None, line: int) -> None:
        if last is not None and line > last + 1:
            self.blank()

    def statement(self, item: _Placed, indent: int, code) -> None:
        node = item.node
        if isinstance(node, (Api, Entity, Workflow, Deploy, ChildStmt)):
            self.block(item, indent)
            return
        self.comment_lines(indent, item.inner)
        self.emit(indent, code(node) if code else self.visit(node), item.trailing)

    def block(self, item: _Placed, indent: int) -> None:
        """A declaration or `child` with a `{ ... }` body (which it may leave out)."""
        node = item.node
        header_end = _end(_HEADER_END[type(node)](node))
        self.comment_lines(indent, [c for c in item.inner if (c.line, c.col) < header_end])
        inside = [c for c in item.inner if (c.line, c.col) >= header_end]
        body = _BODY[type(node)](node)
        header = self.visit(node)
        if not body and not inside:
            brace = "" if isinstance(node, (Deploy, ChildStmt)) else " {}"
            self.emit(indent, header + brace, item.trailing)
            return
        code = self.aligned(node, body)
        if isinstance(node, ChildStmt) and len(body) == 1 and not inside:
            self.emit(indent, f"{header} {{ {code(body[0])} }}", item.trailing)
            return
        head, placed, dangling = _place(body, inside, header_end[0])
        self.emit(indent, header + " {", head)
        self.entries(placed, dangling, indent + 1, code=code)
        self.emit(indent, "}", item.trailing)

    def aligned(self, node, body) -> Callable:
        """The text of a statement of `node`'s body, its values in one column."""
        if isinstance(node, Api):
            width = max((len(_API_WORD[type(s)]) for s in body), default=0)
            return lambda s: f"{_API_WORD[type(s)]:<{width}} {self.visit(s)}"
        if isinstance(node, Entity):
            width = max((len(f.name.value) for f in body), default=0)
            return lambda f: f"{f.name.value:<{width}} {self.visit(f)}"
        if isinstance(node, Deploy):
            width = max((len(t.api.value) for t in node.tokens), default=0)
            return lambda t: (f"token {t.api.value:<{width}} from env {_str(t.env_var)}"
                              if isinstance(t, DeployToken) else self.visit(t))
        return self.visit

    # ------------------------------------------------------------ statements' text

    def visit(self, node) -> str:
        return getattr(self, "visit_" + type(node).__name__)(node)

    def visit_Api(self, n: Api) -> str:
        return f"api {n.name.value}"

    def visit_Entity(self, n: Entity) -> str:
        return f"entity {n.name.value}"

    def visit_Workflow(self, n: Workflow) -> str:
        return f"workflow {n.name.value} manages {n.entity.value}"

    def visit_Deploy(self, n: Deploy) -> str:
        return f"deploy {n.workflow.value} {_str(n.entity_id)}"

    def visit_Import(self, n: Import) -> str:
        return f"import {_str(n.path)}"

    # The api statements' values (the keyword is `_API_WORD`, aligned by `aligned`).
    def visit_BaseStmt(self, n: BaseStmt) -> str:
        v = n.value
        if isinstance(v, EnvValue):
            default = f", {_str(v.default)}" if v.default is not None else ""
            return f"env({_str(v.var)}{default})"
        return _str(v)

    def visit_AuthStmt(self, n: AuthStmt) -> str:
        if n.scheme == "query":
            return f"query {_str(n.query)}"
        if n.scheme != "header":
            return n.scheme
        return f"header {_str(n.header)}" + (f" prefix {_str(n.prefix)}" if n.prefix is not None else "")

    def visit_RateStmt(self, n: RateStmt) -> str:
        return f"{n.count.value}/{n.unit.value}"

    def visit_AllowStmt(self, n: AllowStmt) -> str:
        return ", ".join(_str(o) for o in n.origins)

    def visit_TimeoutStmt(self, n: TimeoutStmt) -> str:
        return n.duration.text

    def visit_RetryStmt(self, n: RetryStmt) -> str:
        backoff = ""
        if n.backoff_min is not None and n.backoff_max is not None:
            backoff = f" backoff {n.backoff_min.text} .. {n.backoff_max.text}"
        return f"{n.times.value} times{backoff}"

    # An entity field's type (the name is aligned by `aligned`).
    def visit_Field(self, n: Field) -> str:
        return self.visit(n.type) + (" key" if n.is_key else "")

    def visit_TypeRef(self, n: TypeRef) -> str:
        name = f"[{n.name.value}]" if n.is_list else n.name.value
        return name + ("?" if n.optional else "")

    def visit_SourceStmt(self, n: SourceStmt) -> str:
        every = f" every {n.every.text}" if n.every is not None else ""
        return f"source {n.api.value} {n.method.value} {_str(n.path)}{every}"

    def visit_SelectStmt(self, n: SelectStmt) -> str:
        return f"select {_str(n.path)}"

    def visit_TokenStmt(self, n: TokenStmt) -> str:
        return f"token {n.mode}"

    def visit_ChildStmt(self, n: ChildStmt) -> str:
        return f"child {n.field.value} -> {n.workflow.value}"

    def visit_AutostartOpt(self, n: AutostartOpt) -> str:
        return "autostart"

    def visit_CancelOnDeleteOpt(self, n: CancelOnDeleteOpt) -> str:
        return "cancel on delete"

    def visit_SubscribeOpt(self, n: SubscribeOpt) -> str:
        return f"subscribe update {_str(n.selector)}"

    def visit_FromOpt(self, n: FromOpt) -> str:
        return f"from {n.api.value} {n.method.value} {_str(n.template)}"

    def visit_PaginateOpt(self, n: PaginateOpt) -> str:
        words = ["paginate", n.style]
        if n.param is not None:
            words.append(_str(n.param))
        if n.as_param is not None:
            words += ["as", _str(n.as_param)]
        if n.size_param is not None and n.size is not None:
            words += ["size", _str(n.size_param), str(n.size.value)]
        if n.total is not None:
            words += ["total", _str(n.total)]
        if n.more is not None:
            words += ["while", _str(n.more)]
        return " ".join(words)

    def visit_EveryOpt(self, n: EveryOpt) -> str:
        return f"every {n.duration.text}"

    def visit_MaxPagesOpt(self, n: MaxPagesOpt) -> str:
        return f"max {n.count.value} pages"

    def visit_DeployToken(self, n: DeployToken) -> str:
        return f"token {n.api.value} from env {_str(n.env_var)}"

    def visit_DeployWith(self, n: DeployWith) -> str:
        return f"with {n.field.value} {_str(n.value)}"


_API_WORD = {BaseStmt: "base", AuthStmt: "auth", AllowStmt: "allow", TimeoutStmt: "timeout",
             RetryStmt: "retry", RateStmt: "rate"}

# The last node before a block's `{`, and the block's statements.
_HEADER_END = {Api: lambda n: n.name, Entity: lambda n: n.name, Workflow: lambda n: n.entity,
               Deploy: lambda n: n.entity_id, ChildStmt: lambda n: n.workflow}
_BODY = {Api: lambda n: n.body, Entity: lambda n: n.fields, Workflow: lambda n: n.body,
         Deploy: lambda n: n.body, ChildStmt: lambda n: n.options}


def _str(s: Str) -> str:
    return '"' + s.value.translate(_ESCAPE) + '"'


def _one_line(node) -> bool:
    return isinstance(node, Import) or (isinstance(node, Deploy) and not node.body)


def _kept_together(prev, node) -> bool:
    """Whether two declarations may go without a blank line between them (if written so):
    a run of imports, or of brace-less deploys."""
    return _one_line(prev) and _one_line(node) and type(prev) is type(node)
