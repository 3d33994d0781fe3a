"""`check_sources` never raises and never reports an internal error, whatever the text:
random text, and the example specs with random slices cut out or duplicated."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import check_sources, compile_sources
from tests.compiler.helpers import ROOT

EXAMPLES = {p.name: p.read_text() for p in (ROOT / "specs").glob("*.swf")}
ALPHABET = st.sampled_from(list('abcdefghijklmnopqrstuvwxyz{}[]()?"#.:,-> \n\\/*0159') +
                           ["api ", "entity ", "workflow ", "child ", "deploy ", "token ",
                            "source ", "import ", "env(", "manages ", "key", "string", "5m"])


def no_internal_errors(diags):
    assert not [d for d in diags if d.code == "SWF099"], diags


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=80).map("".join))
def test_random_text(text):
    no_internal_errors(check_sources({"a.swf": text}, ["a.swf"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_mutated_examples(name, data):
    text = EXAMPLES[name]
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, min(len(text), i + 40)))
    k = data.draw(st.integers(0, len(text)))
    mutated = text[:i] + text[j:] if data.draw(st.booleans()) else text[:k] + text[i:j] + text[k:]
    files = {**EXAMPLES, name: mutated}
    no_internal_errors(compile_sources(files, [name])[1])
