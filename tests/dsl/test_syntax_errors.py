"""Syntax errors (SWF001): where, and what was expected, in the user's words.

The table is the specification: each row is broken text, the line and column of the
(first) error, and words its message must contain. Add a row for every mistake you see
users make.
"""

from __future__ import annotations

import re

import pytest

from dsl import parse

W = "workflow W manages E {\n  "  # a workflow header; rows below continue on line 2
A = "api a {\n  "  # an api header; ditto
E = "entity E {\n  "

TABLE = [
    # --- declarations
    ("foo bar", 1, 1, "expected a declaration (`api`, `entity`, `workflow`, `deploy` or `import`), found `foo`"),
    ("}", 1, 1, "expected a declaration"),
    ("entityUser { }", 1, 1, "found `entityUser`"),
    ("workflow W User {\n}", 1, 12, "missing `manages`"),
    ("workflow W {\n}", 1, 12, "missing `manages`"),
    ("entity E id string }", 1, 10, "missing `{`"),
    ("api a base \"x\" }", 1, 7, "missing `{`"),
    ("entity E { id string", 1, 21, "missing `}` at the end of the file"),
    ("entity E { id string }}", 1, 23, "expected a declaration"),
    ("workflow A manages X {\n  token none\nworkflow B manages Y {}", 3, 1,
     "missing `}` before this `workflow`: the block opened at line 1 is not closed"),
    ("entity A {\n  id string\n\nentity B { id string }", 4, 1, "missing `}` before this `entity`"),
    ("entity A {\n  id string\n\nworkflow W manages A {\n  token none\n}", 4, 1,
     "missing `}` before this `workflow`"),
    ("deploy W u1", 1, 10, "`deploy WORKFLOW \"id\"`"),
    ("import common.swf", 1, 8, "`import \"common.swf\"`"),
    # --- api
    (A + "base http://x\n}", 2, 8, "a value is a string in double quotes or `env(\"VAR\")`"),
    (A + "base env(X)\n}", 2, 12, "(found `X`)"),
    (A + "auth basic\n}", 2, 8, "`auth` is `auth bearer`, `auth header \"NAME\" [prefix \"TEXT\"]`, `auth query \"NAME\"` or `auth none` (found `basic`)"),
    (A + "timeout 10\n}", 2, 11, "a duration needs a unit"),
    (A + "timeout\n}", 3, 1, "expected a duration such as `10s`, found `}`"),
    (A + "retry 5\n}", 3, 1, "`retry` needs `times`"),
    (A + "retry 5 backoff 1s .. 2s\n}", 2, 11, "`retry` needs `times`"),
    (A + "retry five times\n}", 2, 9, "`retry` takes a whole number of attempts"),
    (A + "retry 5 times backoff 1s 30s\n}", 2, 28, "`backoff MIN .. MAX`"),
    (A + "allow \"x\",\n}", 3, 1, "expected a string in double quotes, found `}`"),
    (A + "source crm get \"/x\"\n}", 2, 3, "expected an api setting (`base`, `auth`, `allow`, `timeout`, `retry` or `rate`) or `}`"),
    # --- entity
    (E + "id\n}", 3, 1, "a field needs a type, such as `string`"),
    (E + "name = \"x\"\n}", 2, 8, "a field needs a type, such as `string`, `[string]` or an entity name (found the character `=`)"),
    (E + "tags [string\n}", 3, 1, "missing `]`"),
    (E + "tags [[string]]\n}", 2, 9, "expected a type such as `string` or an entity name, found `[`"),
    (E + "id string;\n}", 2, 12, "statements need no separator"),
    (E + "id string?? \n}", 2, 13, "found `?`"),
    # --- workflow
    (W + "child x ListingWorkflow\n}", 2, 11, "missing `->` in `child`"),
    (W + "child x -> Y { cancel }\n}", 2, 25, "write `cancel on delete`"),
    (W + "child x -> Y { subscribe \"*\" }\n}", 2, 28, "write `subscribe update \"SELECTOR\"`"),
    (W + "child x -> Y { autostart, cancel on delete }\n}", 2, 27, "found `,`"),
    (W + "source crm \"/x\"\n}", 2, 14, "`source` takes an api, a method and a path"),
    (W + "source crm get /users/{id}\n}", 2, 18, "must be a string in double quotes"),
    (W + "source crm get \"/x\" every\n}", 3, 1, "expected a duration such as `10s`"),
    (W + "token crm\n}", 2, 9, "`token none` or `token inherit`"),
    (W + "select data\n}", 2, 10, "expected a string in double quotes, found `data`"),
    (W + "base \"x\"\n}", 2, 3,
     "expected a workflow statement (`source`, `select`, `token` or `child`) or `}`, found `base`"),
    # --- deploy
    ("deploy W \"x\" { token crm from \"X\" }", 1, 31, "`token API from env \"VAR\"`"),
    ("deploy W \"x\" { token crm env \"X\" }", 1, 26, "`token API from env \"VAR\"`"),
    # --- lexical
    (A + "base \"http://x\n}", 2, 8, "unterminated string"),
    (A + "base \"a\\qb\"\n}", 2, 10, "unknown escape `\\q`"),
    ("entity E { id string }\n\x00", 2, 1, "U+0000"),
    ("entity E { id string } €", 1, 24, "the character `€`"),
]


@pytest.mark.parametrize("text, line, col, words", TABLE, ids=[repr(r[0])[:40] for r in TABLE])
def test_syntax_error(text, line, col, words):
    _, diags = parse(text, "t.swf")
    assert diags, "expected a syntax error"
    first = diags[0]
    assert first.code == "SWF001"
    assert (first.span.line, first.span.col) == (line, col), first.message
    assert words in first.message


@pytest.mark.parametrize("text", [row[0] for row in TABLE], ids=[repr(r[0])[:40] for r in TABLE])
def test_messages_never_show_lark_terminal_names(text):
    # outside `code` (where `NAME` may stand for "a name" in a template to follow)
    for d in parse(text, "t.swf")[1]:
        for words in (d.message, d.hint or ""):
            prose = re.sub(r"`[^`]*`", "", words)
            assert not re.search(r"__ANON|[A-Z]{3,}|\$END", prose), words


def test_an_unclosed_block_points_back_at_its_brace():
    _, [d] = parse("api a {\n  auth none\n\nentity E { id string }", "t.swf")
    (note,) = d.notes
    assert (note.span.line, note.span.col) == (1, 7)
    assert "not closed" in note.message


def test_a_labelled_mistake_still_says_what_was_expected_in_its_hint():
    _, [d] = parse("api a {\n  auth basic\n}", "t.swf")
    assert d.hint == "expected `bearer`, `header`, `none` or `query`"


def test_a_plain_error_needs_no_hint():
    _, [d] = parse("entity E { id string } }", "t.swf")
    assert d.message.startswith("expected a declaration") and d.hint is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("api a {\n  auth none\n  source x get \"/\"\n}", "expected an api setting"),
        ("entity E {\n  id string\n  42 string\n}", "expected a field name, `?`, `key` or `}`"),
        ("entity E {\n  x [42]\n}", "expected a type such as `string` or an entity name"),
        ("workflow W manages E {\n  child 1\n}", "expected a field name (a relation of the managed entity)"),
        ("workflow W manages E {\n  child x -> 1\n}", "expected a workflow name"),
        ("workflow W manages 1", "expected an entity name"),
        ("api 1", "expected a name for the api"),
        ("deploy 1", "expected a workflow name"),
        ("deploy W \"x\" {\n  token 1\n}", "expected an api name"),
        ("workflow W manages E {\n  source 1\n}", "expected an api name"),
        ("workflow W manages E {\n  child x -> Y { 1 }\n}", "expected a child option (`autostart`, `cancel on delete`, `subscribe update"),
    ],
)
def test_what_a_name_is_depends_on_where_it_goes(text, expected):
    _, diags = parse(text, "t.swf")
    assert expected in diags[0].message + (diags[0].hint or "")


@pytest.mark.parametrize(
    "text, guess",
    [
        ("pai a {}", "api"),
        ("api a {\n  bas \"x\"\n}", "base"),
        ("api a {\n  auth baerer\n}", "bearer"),
        ("workflow W manages E {\n  sorce a get \"/x\"\n}", "source"),
        ("workflow W manages E {\n  child x -> Y { autostrat }\n}", "autostart"),
        ("workflow W manage E {}", "manages"),
    ],
)
def test_a_misspelt_keyword_gets_a_suggestion(text, guess):
    _, diags = parse(text, "t.swf")
    assert diags[0].message.endswith(f"did you mean `{guess}`?")


def test_a_misspelt_keyword_is_read_as_the_keyword():
    spec, diags = parse("workflow W manages E {\n  sorce a get \"/x\"\n  selct \"data\"\n}", "t.swf")
    assert len(diags) == 2
    assert [type(s).__name__ for s in spec.decls[0].body] == ["SourceStmt", "SelectStmt"]


def test_no_suggestion_for_a_word_unlike_any_keyword():
    _, [d] = parse("api a {\n  frobnicate \"x\"\n}", "t.swf")
    assert "did you mean" not in d.message
