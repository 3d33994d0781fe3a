"""Helpers for the front-end tests: parse a snippet, and compare ASTs without their spans."""

from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from dsl import parse
from dsl.ast import Span

# A placeholder span for expected nodes: `shape()` ignores spans.
S = Span("t.swf", 0, 0, 0, 0)


def parse_ok(text: str, filename: str = "t.swf"):
    """The declarations of `text`, asserting it has no syntax error."""
    spec, diags = parse(text, filename)
    assert diags == [], [f"{d.span.line}:{d.span.col} {d.message}" for d in diags]
    return spec.decls


def shape(node):
    """`node` as nested (class name, fields) tuples, spans left out: what was written,
    not where."""
    if dataclasses.is_dataclass(node):
        fields = tuple(
            (f.name, shape(getattr(node, f.name)))
            for f in dataclasses.fields(node)
            if f.name != "span"
        )
        return (type(node).__name__, fields)
    if isinstance(node, tuple):
        return tuple(shape(n) for n in node)
    return node


def errors(text: str, filename: str = "t.swf"):
    """`(line, col, message)` of every diagnostic for `text`."""
    _, diags = parse(text, filename)
    return [(d.span.line, d.span.col, d.message) for d in diags]


def assert_plain_ast(value) -> None:
    """`value` holds nothing but `dsl.ast` nodes, tuples and builtins: no Lark object."""
    assert type(value).__module__ in ("builtins", "dsl.ast"), type(value)
    if isinstance(value, tuple):
        for item in value:
            assert_plain_ast(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            assert_plain_ast(getattr(value, name))


class DrawChooser:
    """Mutation choices drawn from hypothesis, so that a failure shrinks."""

    def __init__(self, data) -> None:
        self.data = data

    def choice(self, seq):
        return seq[self.data.draw(st.integers(0, len(seq) - 1))]

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))
