"""Scale on a real dev server (DESIGN.md §7): a parent with more children than the worker's
workflow cache holds, a first round's starts spread over bounded rounds, and a big store
read a page at a time."""

from __future__ import annotations

import json

import runtime.interpreter
from tests.helpers import assert_eventually, new_worker, unique
from tests.runtime.irs import listing, marketplace_ir, put_user
from tests.runtime.util import start_root, tree


async def _settled(client, root: str, count: int) -> None:
    async def check():
        t = await tree(client, root)
        assert len(t) == count and all(s["loaded"] for s in t.values()), {w: s["status"] for w, s in t.items()}
        assert t[root]["status"] == "running"

    await assert_eventually(check, timeout=90)


async def test_an_eviction_is_not_a_deletion(client, http_api, monkeypatch):
    # A worker whose cache holds fewer workflows than a parent has children evicts the
    # parent (to replay it later) while it runs. Before this was told apart from a
    # cancellation, every eviction ran the parent's deletion clean-up over all its
    # children: quadratic work that, at 2,000 children, outlasted the eviction's deadline
    # and left the parent wedged ("Timed out running eviction job").
    cleaned_up: list[str] = []
    real_cleanup = runtime.interpreter.cleanup

    def recording_cleanup(ctx, **kwargs):
        cleaned_up.append(ctx.state.workflow_id)
        return real_cleanup(ctx, **kwargs)

    monkeypatch.setattr(runtime.interpreter, "cleanup", recording_cleanup)
    uid = unique("u")
    put_user(http_api, uid, [listing(unique("l"), uid, photos=0) for _ in range(12)])
    ir = marketplace_ir(http_api)
    async with new_worker(client, ir, max_cached_workflows=3) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        await _settled(client, f"User-{uid}", 1 + 12)
    assert cleaned_up == []


def _delivered_batches(history) -> list[int]:
    """How many items each `deliver_effects` local activity carried, in order."""
    sizes = []
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            details = event.marker_recorded_event_attributes.details
            if "result" in details and details["result"].payloads:
                result = json.loads(details["result"].payloads[0].data)
                if isinstance(result, list):
                    sizes.append(len(result))
    return sizes


async def test_a_first_round_of_many_children_starts_them_in_bounded_batches(client, http_api, monkeypatch):
    monkeypatch.setattr(runtime.interpreter, "START_BATCH", 4)
    uid = unique("u")
    put_user(http_api, uid, [listing(unique("l"), uid, photos=0) for _ in range(10)])
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        await _settled(client, root, 1 + 10)
        batches = _delivered_batches(await client.get_workflow_handle(root).fetch_history())
        assert batches[:3] == [4, 4, 2]

        async def paged():  # the children's records flowed up: read them a page at a time
            page = await client.get_workflow_handle(root).query("state", {"table": "Listing", "limit": 4})
            assert (page["total"], len(page["records"]), page["next_offset"]) == (10, 4, 4)

        await assert_eventually(paged, timeout=30)
