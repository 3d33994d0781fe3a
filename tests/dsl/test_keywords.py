"""Keywords are keywords only where one is expected: elsewhere they are plain names."""

from __future__ import annotations

import itertools

import pytest

from compiler import compile_sources
from langserver.index import keywords
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
    (entity,) = parse_ok("entity E {\n  id string key\n  name string\n}")
    assert [(f.name.value, f.is_key) for f in entity.fields] == [("id", True), ("name", False)]


@pytest.mark.parametrize("text, fields", [
    # Jira: the key is a field `key`, declared anywhere and marked as the key
    ("entity Issue {\n  id   string\n  key  string key\n  self string\n}",
     [("id", "string", False), ("key", "string", True), ("self", "string", False)]),
    # not marked: the key is `id`, as for any entity with no field marked
    ("entity Issue { id string  key string }", [("id", "string", False), ("key", "string", False)]),
    ("entity Issue { id string  key string?  fields json }",
     [("id", "string", False), ("key", "string", False), ("fields", "json", False)]),
    ("entity Issue { id string  key [string]? }", [("id", "string", False), ("key", "string", False)]),
    ("entity Issue { id string key  key string }", [("id", "string", True), ("key", "string", False)]),
    ("entity Issue { id Other  key Project  summary string }",
     [("id", "Other", False), ("key", "Project", False), ("summary", "string", False)]),
])
def test_a_field_named_key_anywhere(text, fields):
    (entity,) = parse_ok(text)
    assert [(f.name.value, f.type.name.value, f.is_key) for f in entity.fields] == fields


def test_a_body_that_reads_no_way_with_one_key_keeps_the_marker_reading():
    # two fields marked whichever way it is read: the compiler's SWF033 says so
    (entity,) = parse_ok("entity E { a string key  b string key }")
    assert [f.is_key for f in entity.fields] == [True, True]


def readings(words: tuple[str, ...]) -> list[list[tuple[str, str, bool]]]:
    """Every reading of an entity body as the grammar's fields `NAME TYPE [key]` (types
    `T`, `T?`, `[T]`, `[T]?`), with any `key` after a type taken either way: the
    specification `dsl.keys` is held to, by enumeration."""
    if not words:
        return [[]]
    out = []
    if words[0] in "?[]":
        return out
    rest = words[1:]
    types = []
    if rest and rest[0] not in "?[]":
        types.append((rest[0], 1))
    if len(rest) > 2 and rest[0] == "[" and rest[1] not in "?[]" and rest[2] == "]":
        types.append((rest[1], 3))
    types += [(t, n + 1) for t, n in types if len(rest) > n and rest[n] == "?"]
    for t, n in types:
        after = rest[n:]
        out += [[(words[0], t, False), *r] for r in readings(after)]
        if after and after[0] == "key":
            out += [[(words[0], t, True), *r] for r in readings(after[1:])]
    return out


def good(reading) -> bool:
    return sum(marked for _, _, marked in reading) <= 1 and all(t != "key" for _, t, _ in reading)


def test_a_body_has_at_most_one_reading_with_typed_fields_and_one_key_and_it_is_the_one_taken():
    """Every body of up to 7 words made of a name, `key`, `?`, `[` and `]`: no spelling is
    read silently another way than the one in which every field has a type and one at
    most is the key."""
    checked = 0
    for size in range(1, 8):
        for words in itertools.product(("a", "key", "?", "[", "]"), repeat=size):
            fit = [r for r in readings(words) if good(r)]
            assert len(fit) <= 1, (words, fit)
            if fit and size <= 6:
                (entity,) = parse_ok("entity E { " + " ".join(words) + " }")
                assert [(f.name.value, f.type.name.value, f.is_key) for f in entity.fields] == fit[0], words
                checked += 1
    assert checked > 50


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


@pytest.mark.parametrize("word", sorted({*keywords(), "type", "id_", "self"}))
def test_any_keyword_is_a_field_anywhere_a_field_is_named(word):
    """Real APIs name fields `key` (Jira), `type` (Zendesk), `from`, `select`... : each
    keyword is declarable after another field, marked as the key, named in URL templates,
    in a `child` edge and in a `deploy` block's `with`, and compiles."""
    text = f"""
api a {{ base "http://127.0.0.1:9"  auth none }}
entity P {{ name string key  {word} [E]  label string }}
entity E {{ id integer  {word} string key  note string? }}
workflow PW manages P {{
  source a get "/p/{{name}}?l={{label}}"
  child {word} -> EW {{ from a get "/p/{{name}}/e" autostart }}
}}
workflow EW manages E {{ source a get "/e/{{{word}}}" }}
deploy PW "p1" {{ with label "x" }}
"""
    ir, diags = compile_sources({"a.swf": text}, ["a.swf"])
    assert diags == [], [(d.code, d.message) for d in diags]
    assert ir["entities"]["E"]["key"] == word
    assert [c["field"] for c in ir["workflows"]["PW"]["children"]] == [word]


def test_a_type_key_left_after_two_readings_fail_says_why():
    """`key` as a type only stays where neither reading works (here two keys either way)."""
    ir, diags = compile_sources({"a.swf": "entity J { id string key  key2 string  key string key }"}, ["a.swf"])
    assert ir is None
    (unknown,) = [d for d in diags if d.code == "SWF024"]
    assert unknown.message == "unknown type `key`" and "marks that field as the key" in unknown.hint
