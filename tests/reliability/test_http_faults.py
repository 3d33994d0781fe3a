"""Scenario 3: every kind of HTTP fault, alone and mixed. Each workflow ends loaded or
stopped with the reason in `swfc status`; retries stay within the spec's `retry`; 429s wait
out Retry-After; no fault puts data in a state; no workflow task fails."""

import pytest

from tests.reliability.scenarios import FAULTS, http_fault


@pytest.mark.parametrize("kind", list(FAULTS))
async def test_every_workflow_ends_loaded_or_visibly_errored(rel_env, kind):
    out = await http_fault(rel_env, kind, children=12)
    assert out.problems == [], "\n".join(out.problems)
    assert out.loaded + out.errored == out.expected == 13, out
    assert (out.silent, out.duplicates, out.task_failures, out.token_leaks, out.uncaught) == (0, 0, 0, 0, 0), out
    assert out.ok, out
