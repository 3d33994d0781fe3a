"""After a syntax error the parser carries on: every error of a file is reported, each
once, and the declarations that parsed are still in the Spec for the compiler to check."""

from __future__ import annotations

from dsl import parse
from tests.dsl.helpers import errors

BROKEN = """\
api a {
  base http://x
  timeout 10
  retry 5
}
entity E {
  id string
  tags [string
}
workflow W E {
  source a get "/x"
  child x Y { autostart }
  token crm
}
deploy W u1
import common
"""


def test_every_error_in_a_file_is_reported_once():
    found = [(line, col) for line, col, _ in errors(BROKEN)]
    assert found == [(2, 8), (3, 11), (5, 1), (9, 1), (10, 12), (12, 11), (13, 9), (15, 10), (16, 8)]


def test_the_declarations_around_errors_are_kept():
    spec, _ = parse(BROKEN, "t.swf")
    api, entity, workflow = spec.decls
    assert [type(s).__name__ for s in api.body] == ["RetryStmt"]  # `times` was put back
    assert [f.name.value for f in entity.fields] == ["id", "tags"]  # `]` was put back
    # `manages` and `->` were put back, so the workflow reads as meant
    assert (workflow.name.value, workflow.entity.value) == ("W", "E")
    assert [type(s).__name__ for s in workflow.body] == ["SourceStmt", "ChildStmt"]
    assert workflow.body[1].workflow.value == "Y"


def test_a_missing_closing_brace_does_not_swallow_the_next_declaration():
    text = "entity A {\n  id string\n\nworkflow W manages A {\n  token none\n}\nentity B { id string }"
    spec, diags = parse(text, "t.swf")
    assert [(d.span.line, d.span.col) for d in diags] == [(4, 1)]
    assert [d.name.value for d in spec.decls] == ["A", "W", "B"]
    assert [f.name.value for f in spec.decls[0].fields] == ["id"]


def test_a_bad_statement_is_dropped_and_the_next_one_parsed():
    spec, diags = parse('workflow W manages E {\n  select\n  source a get "/x"\n}', "t.swf")
    assert [(d.span.line, d.span.col) for d in diags] == [(3, 3)]
    assert [type(s).__name__ for s in spec.decls[0].body] == ["SourceStmt"]


def test_one_error_per_line():
    assert len(errors("entity E { id string ; ; ; @ @ }")) == 1


def test_errors_stop_after_a_limit_with_a_note_on_the_last_one():
    text = "\n".join("entity E { @ }" for _ in range(200))
    _, diags = parse(text, "t.swf")
    assert len(diags) == 30 and all(d.code == "SWF001" for d in diags)
    assert [n.message for n in diags[-1].notes] == [
        "too many syntax errors (30 reported): reading stopped here, the rest of the file was not checked"]
    assert (diags[-1].notes[0].span.line, diags[-1].notes[0].span.col) == (30, 13)


def test_junk_costs_parser_steps_linear_in_its_length_and_is_reported_once_per_run(monkeypatch):
    # Counted, not timed: a recovery that reopened what it had closed took steps
    # quadratic in the junk (a 1M-line file hung); linear work stays under one step per character.
    import dsl.recover as recover

    steps = 0
    for name in ("feed", "try_feed", "resync", "skip_text"):
        def counted(self, *args, _step=getattr(recover._Run, name), **kwargs):
            nonlocal steps
            steps += 1
            return _step(self, *args, **kwargs)
        monkeypatch.setattr(recover._Run, name, counted)
    for junk in ["€" * 100_000, "{" * 100_000, '"\n' * 50_000, "api " * 50_000]:
        steps = 0
        assert len(errors(junk)) <= 2
        assert steps <= len(junk), (junk[:8], steps)


def test_an_unclosed_file_keeps_what_parsed():
    spec, diags = parse('workflow W manages E {\n  child x -> Y {\n    autostart\n', "t.swf")
    assert len(diags) == 1 and "end of the file" in diags[0].message
    (workflow,) = spec.decls
    assert [type(o).__name__ for o in workflow.body[0].options] == ["AutostartOpt"]


def test_garbage_never_raises():
    for text in ["\x00\x01\x02", "{" * 10_000, "}" * 1000, '"' * 999, "é" * 100, "\r\n" * 50,
                 "api " * 3000, "entity E { x " + "[" * 5000, "#" * 10_000, "\ufeffapi a {}"]:
        spec, diags = parse(text, "t.swf")
        assert all(d.code == "SWF001" for d in diags), [d.message for d in diags if d.code != "SWF001"]


def test_a_field_named_like_a_declaration_is_not_taken_for_one():
    # the error is elsewhere; `api string` stays a field
    spec, diags = parse("entity E {\n  api string\n  x = 1\n}", "t.swf")
    assert [(d.span.line, d.span.col) for d in diags] == [(3, 5)]
    assert [f.name.value for f in spec.decls[0].fields] == ["api"]
