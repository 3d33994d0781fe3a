"""Scenario 8: every attack of the security review, at CI size, against real `swfc`
processes, a dev server and loopback servers that record what they receive."""

import pytest

from tests.reliability.scenarios import ATTACKS, security_attack


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_an_attack_sees_no_secret_and_sends_nothing_to_a_foreign_origin(rel_env, name):
    out = await security_attack(rel_env, name)
    assert out.problems == [], "\n".join(out.problems)
    assert (out.token_leaks, out.disallowed_requests, out.task_failures, out.uncaught) == (0, 0, 0, 0), out
    assert out.ok, out
