"""Deploying an edited spec upgrades the running hierarchy: the root moves to the new IR
(the `upgrade` update), passes it down, and every workflow reloads under it — state,
tokens and children carried over, nothing restarted."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from runtime.roots import running_ir_hash
from tests.cli.marketplace import make_marketplace
from tests.helpers import assert_eventually, compile_spec


async def test_deploying_an_edited_spec_upgrades_the_whole_hierarchy(
    client: Client, http_api, tmp_path, temporal_address, processes
) -> None:
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=(1, 1))
    first = await asyncio.to_thread(market.deploy, "--until-loaded", "--timeout", "60")
    assert first.returncode == 0, first.stdout + first.stderr
    runs = {wid: (await client.get_workflow_handle(wid).describe()).run_id for wid in market.workflow_ids}
    old_hash = compile_spec(market.spec)["hash"]

    listings = tmp_path / "listings.swf"
    listings.write_text(listings.read_text().replace('get "/listings/{id}"', 'get "/listings/{id}" every 1h'))
    new_hash = compile_spec(market.spec)["hash"]
    assert new_hash != old_hash
    second = await asyncio.to_thread(market.deploy, "--until-loaded", "--timeout", "60")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "upgraded to" in second.stdout, second.stdout
    assert "loaded: all 5 workflows" in second.stdout, second.stdout  # under the new spec
    processes.append(market.spawn_worker())  # the deploy's own worker has stopped: carry on

    async def all_on_the_new_spec() -> None:
        for wid in market.workflow_ids:
            handle = client.get_workflow_handle(wid)
            errors = {w: (await client.get_workflow_handle(w).query("state"))["errors"] for w in market.workflow_ids}
            assert await running_ir_hash(handle) == new_hash, (wid, errors)
            status = await handle.query("status")
            assert status["loaded"] and status["last_error"] is None, (wid, status)

    await assert_eventually(all_on_the_new_spec, timeout=60, interval=0.5)
    tree = market.status()
    assert len([tree, *tree["children"]]) == 3  # the same root and listings, none restarted
    for wid, run_id in runs.items():  # each moved on by continue-as-new: the first run is its own
        first_run = (await client.get_workflow_handle(wid).describe()).raw_description
        assert first_run.workflow_execution_info.first_run_id == run_id, wid


async def test_an_upgrade_no_worker_can_run_is_refused_and_changes_nothing(
    client: Client, http_api, tmp_path, temporal_address, processes
) -> None:
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=(1,))
    worker = market.spawn_worker()  # holds only the first version of the spec
    processes.append(worker)
    first = await asyncio.to_thread(market.deploy, "--no-worker", "--until-loaded", "--timeout", "60")
    assert first.returncode == 0, first.stdout + first.stderr
    old_hash = compile_spec(market.spec)["hash"]

    market.spec.write_text(market.spec.read_text().replace("every 5m", "every 10m"))
    second = await asyncio.to_thread(market.deploy, "--no-worker")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "not upgraded" in second.stdout and "run workers with the new spec first" in second.stdout, second.stdout
    assert await running_ir_hash(client.get_workflow_handle(market.root)) == old_hash
