"""Keywords are keywords only where one is expected: elsewhere they are plain names."""

from __future__ import annotations

import pytest

from dsl import parse
from tests.dsl.helpers import parse_ok
from tests.dsl.mutations import KEYWORDS


@pytest.mark.parametrize("word", [w for w in KEYWORDS if w != "key"])
def test_any_keyword_is_a_field_name(word):
    (entity,) = parse_ok(f"entity E {{\n  id string\n  {word} string\n  other [{word}]?\n}}")
    assert [f.name.value for f in entity.fields] == ["id", word, "other"]
    assert entity.fields[2].type.name.value == word


def test_key_is_a_field_name_where_it_cannot_mark_a_key():
    # first in the body, or right after a field already marked `key`
    (entity,) = parse_ok("entity E { key string  id string key  key2 string }")
    assert [(f.name.value, f.is_key) for f in entity.fields] == [
        ("key", False), ("id", True), ("key2", False),
    ]


def test_key_after_a_field_marks_that_field():
    # newlines do not matter, so `id string key string` reads `key` as the marker: one
    # parse only, and the leftover `string` then lacks a type
    _, [d] = parse("entity E {\n  id string\n  key string\n}", "t.swf")
    assert (d.span.line, d.span.col) == (4, 1) and "type" in d.message
    assert "a field named `key` must come first" in d.hint


@pytest.mark.parametrize(
    "text",
    [
        "entity source { select string }",
        'workflow select manages source { source api get "/x" }',
        'api token { base "http://x" }',
        'deploy workflow "x" { token entity from env "X" }',
        'workflow W manages E { child child -> workflow { autostart } }',
    ],
)
def test_keywords_as_declaration_and_reference_names(text):
    parse_ok(text)
