"""`dsl.format` and `dsl.comments`: canonical layout, idempotent, AST-preserving, and no
comment lost or reordered — on every example spec, on hand-written cases, and on mutated
specs that still parse (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lark import Lark

import dsl.format
from dsl import parse
from dsl.comments import Comment, collect
from dsl.format import format_text, shape
from tests.dsl.helpers import DrawChooser
from tests.dsl.mutations import ROOT, example_specs, mutate

SPECS = example_specs()
CLEAN = sorted(name for name, text in SPECS.items() if not parse(text, name)[1])


def fmt(text: str) -> str:
    out, diags = format_text(text, "t.swf")
    assert diags == [] and out is not None, [d.message for d in diags]
    return out


def assert_round_trip(text: str) -> str:
    """fmt(text) parses to the same spec, keeps the comments in order, and is a fixed point."""
    out = fmt(text)
    before, after = parse(text, "t.swf")[0], parse(out, "t.swf")[0]
    assert shape(after) == shape(before)
    assert [c.text for c in collect(out)] == [c.text for c in collect(text)]
    assert fmt(out) == out
    return out


# ------------------------------------------------------------------ comments pass


@pytest.fixture(scope="module")
def lark_lexer():
    return Lark.open(str(ROOT / "dsl" / "grammar.lark"), parser="lalr", lexer="basic")


@pytest.mark.parametrize("name", CLEAN)
def test_comment_scan_agrees_with_lark(name, lark_lexer):
    text = SPECS[name]
    tokens = [t for t in lark_lexer.lex(text, dont_ignore=True) if t.type == "COMMENT"]
    assert collect(text) == [Comment(t.line, t.column, str(t).rstrip()) for t in tokens]


def test_comment_scan_positions_and_strings():
    text = 'api a { # one\n  base "http://x/#not" # two\n}\n\ufeff' + "# three\r\n"
    assert collect(text) == [Comment(1, 9, "# one"), Comment(2, 24, "# two"),
                             Comment(4, 2, "# three")]
    assert collect("\ufeff# bom\n") == [Comment(1, 1, "# bom")]


# ---------------------------------------------------------------- example specs


@pytest.mark.parametrize("name", CLEAN)
def test_example_specs_round_trip(name):
    assert_round_trip(SPECS[name])


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "specs").glob("*.swf")))
def test_example_specs_are_formatted(name):
    """specs/ (not specs/errors/, whose `# E:` lines are pinned) is kept in canonical form."""
    assert fmt(SPECS[name]) == SPECS[name]


def test_real_api_settings_are_formatted():
    messy = 'api gh {\n  base "https://x"\n  auth header "Authorization"   prefix "token "\n  rate 5000 /h\n}\n' \
            'api q {\n  auth query  "api_key"\n}\n'
    assert fmt(messy) == ('api gh {\n  base "https://x"\n  auth header "Authorization" prefix "token "\n  rate 5000/h\n}\n'
                          '\napi q {\n  auth query "api_key"\n}\n')
    assert fmt(fmt(messy)) == fmt(messy)


# ---------------------------------------------------------------------- golden

MESSY = '''\
# header comment


import   "common.swf"
import "b.swf"   # why b
api crm{base env( "X" ,"http://x" ) # the base
  auth header    "X-Key"
 allow "a:1","b:2"
      timeout 10s retry 005 times
    backoff 1s..30s   # retry it
  # end of api
}
entity   User { id string key  # the key
  # about names
  name string?   tags [ string ] ?


  listings [Listing]
}
workflow UserWorkflow manages User { # the user
source crm get "/u/{id}" every 5m
  child listings->ListingWorkflow{autostart}
  child x -> Y { autostart # why
  }
  child y -> Z {} child z -> Q { subscribe update "a\\"b\\\\c" cancel on delete }
} # after the workflow
deploy UserWorkflow "u1" {}
deploy UserWorkflow "u2"
deploy UserWorkflow "u3" { token crm # which api
  from env "T" token longer from env "L" }
# trailing file comment
'''

EXPECTED = '''\
# header comment

import "common.swf"
import "b.swf"  # why b

api crm {
  base    env("X", "http://x")       # the base
  auth    header "X-Key"
  allow   "a:1", "b:2"
  timeout 10s
  retry   5 times backoff 1s .. 30s  # retry it
  # end of api
}

entity User {
  id       string key  # the key
  # about names
  name     string?
  tags     [string]?

  listings [Listing]
}

workflow UserWorkflow manages User {  # the user
  source crm get "/u/{id}" every 5m
  child listings -> ListingWorkflow { autostart }
  child x -> Y {
    autostart  # why
  }
  child y -> Z
  child z -> Q {
    subscribe update "a\\"b\\\\c"
    cancel on delete
  }
}  # after the workflow

deploy UserWorkflow "u1"
deploy UserWorkflow "u2"

deploy UserWorkflow "u3" {
  # which api
  token crm    from env "T"
  token longer from env "L"
}

# trailing file comment
'''


def test_messy_input_golden():
    assert assert_round_trip(MESSY) == EXPECTED


# ------------------------------------------------------------------------ cases


@pytest.mark.parametrize("text, expected", [
    ("", ""),
    ("\n\n  \n", ""),
    ("# only a comment", "# only a comment\n"),
    ("entity E {}", "entity E {}\n"),
    ("entity E {\n}\n", "entity E {}\n"),
    ("entity E { # why empty\n}", "entity E {  # why empty\n}\n"),
    ("entity E {\n  # nothing yet\n}", "entity E {\n  # nothing yet\n}\n"),
    ("entity E{id string}entity F{id string}", "entity E {\n  id string\n}\n\nentity F {\n  id string\n}\n"),
    # a comment written inside a statement moves above it
    ("api a {\n  retry 5 # five\n  times backoff 1s # from\n .. 2s # to\n}",
     "api a {\n  # five\n  # from\n  retry 5 times backoff 1s .. 2s  # to\n}\n"),
    # ... and one inside a declaration's header, above the declaration
    ("workflow W # w\n manages E # e\n { token none }",
     "# w\nworkflow W manages E {  # e\n  token none\n}\n"),
    # a comment glued to the code
    ('import "a"# glued', 'import "a"  # glued\n'),
    ("entity E# glued\n{ id string }", "entity E {  # glued\n  id string\n}\n"),
    # a child block with a comment inside is never put on one line
    ("workflow W manages E {\n  child c -> C { # c\n  }\n}",
     "workflow W manages E {\n  child c -> C {  # c\n  }\n}\n"),
    ("workflow W manages E { child c -> C { autostart } # after\n}",
     "workflow W manages E {\n  child c -> C { autostart }  # after\n}\n"),
    # a comment between declarations sits above the next one, a blank line before it
    ("entity E {}\n# about F\nentity F {}", "entity E {}\n\n# about F\nentity F {}\n"),
    ("entity E {}\n# about F\n\nentity F {}", "entity E {}\n\n# about F\n\nentity F {}\n"),
    ('import "a"\n\n\nimport "b"\nimport "c"', 'import "a"\n\nimport "b"\nimport "c"\n'),
    ('import "a"\nentity E {}', 'import "a"\n\nentity E {}\n'),
    # line endings, byte-order mark, tabs, stray blanks after comments
    ("\ufeffentity E {\r\n\tid string   # k  \r\n}\r\n", "entity E {\n  id string  # k\n}\n"),
    # strings re-escaped, durations as written
    ('api a { base env("A\\\\B") timeout 1500ms }',
     'api a {\n  base    env("A\\\\B")\n  timeout 1500ms\n}\n'),
    ('workflow W manages E { source a get "/x/{id}" every 5x }',
     'workflow W manages E {\n  source a get "/x/{id}" every 5x\n}\n'),
])
def test_cases(text, expected):
    assert assert_round_trip(text) == expected


def test_trailing_comments_share_a_column_within_a_declaration():
    out = fmt('workflow W manages E {\n  source a get "/a/long/path/{id}" # one\n'
              '  child c -> C {\n    autostart # two\n  }\n}\n# top\nimport "x" # three\n')
    assert out == ('workflow W manages E {\n'
                   '  source a get "/a/long/path/{id}"  # one\n'
                   '  child c -> C {\n'
                   '    autostart                       # two\n'
                   '  }\n'
                   '}\n\n# top\nimport "x"  # three\n')


def test_syntax_error_is_refused_with_diagnostics():
    out, diags = format_text('api a {\n  base "x\n}\n', "bad.swf")
    assert out is None
    assert [d.code for d in diags] == ["SWF001"] and diags[0].span.line == 2


def test_bad_escape_is_refused():
    out, diags = format_text('import "a\\x"', "bad.swf")
    assert out is None and diags[0].code == "SWF001"


def test_a_formatter_bug_is_refused_not_written(monkeypatch):
    """Self-check: if the output lost a comment (or changed the spec), nothing is written."""
    monkeypatch.setattr(dsl.format, "format_spec", lambda spec, comments: "entity E {}\n")
    out, diags = format_text("entity E {} # gone\n", "t.swf")
    assert out is None and [d.code for d in diags] == ["SWF099"]


def test_format_does_not_slow_or_touch_the_normal_parse():
    """Comments are collected by a side pass: `dsl.parse` itself never loads it."""
    import subprocess
    import sys

    code = ("import sys; from dsl import parse; parse('entity E {} # c', 'x');"
            "print('dsl.comments' in sys.modules, 'dsl.format' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"], out.stderr


# ------------------------------------------------------------------------- fuzz


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(CLEAN), st.integers(1, 3), st.data())
def test_mutated_specs_that_parse_format_idempotently(name, rounds, data):
    text = mutate(DrawChooser(data), SPECS[name], rounds)
    assume(not parse(text, name)[1])
    assert_round_trip(text)


def test_design_example_round_trips():
    design = Path("/work/shared/DESIGN.md")
    if not design.exists():
        pytest.skip("no DESIGN.md here")
    block = design.read_text(encoding="utf-8").split("```\n")[1]
    assert block.startswith("# marketplace.swf")
    assert_round_trip(block)
