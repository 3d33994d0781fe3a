"""Loads beyond one delivery batch: a parent with more children than one local activity
carries (`DELIVERY_BATCH`) starts, rotates and cancels them all."""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus

from runtime.sealing import deployment, fingerprint, seal
from tests.helpers import assert_eventually, new_worker, unique
from tests.runtime.irs import listing, marketplace_ir, put_user
from tests.runtime.util import execution_status, query, start_root, tree

CHILDREN = 230  # more than two delivery batches


async def test_a_parent_with_hundreds_of_children_starts_rotates_and_cancels_them(client, http_api):
    old, new = "old-" + unique("a"), "new-" + unique("b")
    http_api.require_auth("/", old, new)
    uid = unique("u")
    listings = [listing(unique("l"), uid, photos=0) for _ in range(CHILDREN)]
    put_user(http_api, uid, listings)
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, old)

        async def all_loaded():
            t = await tree(client, root)
            assert len(t) == 1 + CHILDREN and all(s["loaded"] for s in t.values())

        await assert_eventually(all_loaded, timeout=120, interval=0.5)
        await handle.signal("apiToken", seal("crm", new, deployment=deployment("default", worker.task_queue)))

        async def all_rotated():
            t = await tree(client, root)
            assert {s["tokens"]["crm"] for s in t.values()} == {fingerprint(new)}

        await assert_eventually(all_rotated, timeout=60, interval=0.5)
        put_user(http_api, uid, listings[:10])
        await handle.signal("update", {})

        async def the_rest_cancelled():
            assert len((await query(client, root))["children"]) == 10
            gone = [await execution_status(client, f"Listing-{x['id']}") for x in listings[10::40]]
            assert set(gone) == {WorkflowExecutionStatus.CANCELED}

        await assert_eventually(the_rest_cancelled, timeout=60, interval=0.5)
