"""Fuzz: whatever the text, the full check never raises and every finding points inside
its file.

Inputs are the example specs of specs/ after a few mutations (tests/dsl/mutations.py):
characters and tokens deleted, inserted, duplicated or swapped, truncation, keywords and
punctuation injected. `bench/fuzz_validate.py` runs the same mutations 100,000 times.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import check_sources
from dsl import parse
from tests.dsl.helpers import DrawChooser, assert_plain_ast
from tests.dsl.mutations import example_specs, mutate, position_problems

SPECS = example_specs()
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def assert_sound(diags, files) -> None:
    assert position_problems(diags, files) == []
    assert [d for d in diags if d.code == "SWF099"] == []


@SETTINGS
@given(st.sampled_from(sorted(SPECS)), st.integers(1, 4), st.data())
def test_full_check_of_mutated_specs(name, rounds, data):
    text = mutate(DrawChooser(data), SPECS[name], rounds)
    files = {**SPECS, name: text}
    assert_sound(check_sources(files, [name]), files)


WORDS = st.sampled_from(["api", "entity", "workflow", "deploy", "import", "manages", "source",
                         "child", "->", "{", "}", "[", "]", "?", '"x"', "5s", "5", "key", "env(",
                         ")", ",", "..", "token", "none", "times", "backoff", "\n", " ", "E"])


@SETTINGS
@given(st.one_of(st.text(max_size=300), st.lists(WORDS, max_size=60).map(" ".join)))
def test_parse_of_any_text(text):
    spec, diags = parse(text, "any.swf")
    assert spec.file == "any.swf"
    assert_plain_ast(spec)
    assert_sound(diags, {"any.swf": text})
    assert all(d.code == "SWF001" for d in diags)
    for d in diags:  # in the user's words: no Lark terminal names outside `code`
        prose = re.sub(r"`[^`]*`|U\+[0-9A-F]{4,6}", "", d.message + " " + (d.hint or ""))
        assert not re.search(r"__ANON|[A-Z]{3,}|\$END", prose), d.message
