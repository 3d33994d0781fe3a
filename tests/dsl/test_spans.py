"""Spans: 1-based line and column, end column exclusive, the file as named by the caller."""

from __future__ import annotations

from dsl import parse
from dsl.ast import Span
from tests.dsl.helpers import parse_ok

TEXT = """\
# a comment line
api crm {
  base "http://x"
  retry 5 times backoff 1s .. 30s
}
entity User {
  tags [string]? key
}
workflow W manages User {
  child tags -> T { cancel on delete }
}
deploy W "u1"
"""


def at(line, col, end_line, end_col):
    return Span("dir/t.swf", line, col, end_line, end_col)


def decls():
    return parse_ok(TEXT, "dir/t.swf")


def test_a_declaration_spans_keyword_to_closing_brace():
    api, entity, workflow, deploy = decls()
    assert api.span == at(2, 1, 5, 2)
    assert entity.span == at(6, 1, 8, 2)
    assert workflow.span == at(9, 1, 11, 2)
    assert deploy.span == at(12, 1, 12, 14)


def test_names_and_literals():
    api, entity, workflow, deploy = decls()
    assert api.name.span == at(2, 5, 2, 8)
    base, retry = api.body
    assert base.value.span == at(3, 8, 3, 18)  # the quotes included
    assert retry.times.span == at(4, 9, 4, 10)
    assert retry.backoff_min.span == at(4, 25, 4, 27)
    assert retry.backoff_max.span == at(4, 31, 4, 34)
    assert deploy.entity_id.span == at(12, 10, 12, 14)


def test_statements_and_types():
    api, entity, workflow, _ = decls()
    assert api.body[1].span == at(4, 3, 4, 34)
    (field,) = entity.fields
    assert field.span == at(7, 3, 7, 21)
    assert field.type.span == at(7, 8, 7, 17)  # `[string]?`
    assert field.type.name.span == at(7, 9, 7, 15)
    (child,) = workflow.body
    assert child.span == at(10, 3, 10, 39)
    assert child.options[0].span == at(10, 21, 10, 37)


def test_syntax_error_span_covers_the_token_found():
    _, [d] = parse("entity E {\n  id string\n  name = 1\n}", "f.swf")
    assert d.span == Span("f.swf", 3, 8, 3, 9)


def test_unicode_columns_count_characters():
    (deploy,) = parse_ok('deploy W "ünï✓" { token crm from env "X" }')
    assert deploy.entity_id.span.end_col == 16
    assert deploy.tokens[0].span.col == 19


def test_spans_made_by_the_parser_are_ordinary_spans():
    # the transformer builds Spans without the dataclass __init__ (for speed)
    (api,) = parse_ok("api a {}", "f.swf")
    made = api.name.span
    assert type(made) is Span and made == Span("f.swf", 1, 5, 1, 6)
    assert hash(made) == hash(Span("f.swf", 1, 5, 1, 6)) and str(made) == "f.swf:1:5"
    try:
        made.line = 2
    except AttributeError:
        pass
    else:
        raise AssertionError("a span must stay frozen")
