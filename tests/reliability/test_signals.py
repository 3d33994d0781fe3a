"""Scenario 7: malformed signals are refused with a recorded error; nothing else changes."""

from tests.reliability.scenarios import bad_signals_refused


async def test_each_bad_signal_is_refused_and_the_workflow_lives_on(rel_env):
    out = await bad_signals_refused(rel_env, children=2)
    assert out.problems == [], "\n".join(out.problems)
    assert out.ok, out
