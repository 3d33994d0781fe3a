"""Scenarios 1 and 2: the worker or the server goes away in the middle; nothing is lost."""

from tests.reliability.scenarios import server_restarted, worker_killed_mid_fanout


async def test_a_worker_killed_mid_fan_out_is_replaced_without_duplicates_or_loss(rel_env):
    out = await worker_killed_mid_fanout(rel_env, children=40)
    assert out.problems == [], "\n".join(out.problems)
    assert (out.loaded, out.duplicates, out.token_leaks) == (41, 0, 0), out
    assert out.ok, out


async def test_the_dev_server_restarted_on_its_database_carries_the_hierarchy_on(tmp_path):
    out = await server_restarted(tmp_path, children=8)
    assert out.problems == [], "\n".join(out.problems)
    assert (out.loaded, out.duplicates, out.token_leaks) == (9, 0, 0), out
    assert out.ok, out
