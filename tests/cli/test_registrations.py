"""After an edit to the spec, workflows started under the earlier version keep running:
every worker also serves the registrations its directory has run before."""

from __future__ import annotations

import asyncio
import json

from temporalio.client import Client

from cli import registrations
from tests.cli.marketplace import make_marketplace
from tests.helpers import assert_eventually


async def test_a_worker_for_the_edited_spec_still_serves_workflows_started_before(
    client: Client, http_api, tmp_path, temporal_address, processes
) -> None:
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=(1,))
    deployed = await asyncio.to_thread(market.deploy, "--until-loaded", "--timeout", "60")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    listings = tmp_path / "listings.swf"
    listings.write_text(listings.read_text().replace('get "/listings/{id}"', 'get "/listings/{id}" every 1h'))

    worker = market.spawn("worker", str(market.spec), *market.connection())  # a new process: no cache
    processes.append(worker)
    root = client.get_workflow_handle(market.root)
    requests_before = len(http_api.log())
    await root.signal("update", {})  # stale: the root reloads, under the IR it started with

    async def reloaded() -> None:
        assert len(http_api.log()) > requests_before
        status = await root.query("status")
        assert status["loaded"] and status["last_error"] is None, status

    await assert_eventually(reloaded, timeout=45, interval=0.5)
    kept = sorted(p.name for p in (tmp_path / registrations.REGISTRATIONS_DIR).glob("*.json"))
    assert len(kept) == 2, kept  # the first deploy's IR and the edited one


def test_a_kept_file_that_is_not_an_ir_is_skipped(tmp_path) -> None:
    ir = {"hash": "sha256:" + "0" * 64}
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"swf_ir": 2}))
    assert registrations.earlier(ir, tmp_path) == []
