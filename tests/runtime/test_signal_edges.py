"""Signals at the edges, on the dev server: `update` with a partial record patches a record
the workflow holds (and is refused for one it does not), and `subscribe` refuses selectors
that can never match a path of the workflow's own record."""

from __future__ import annotations

from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue

from tests.helpers import assert_eventually, new_worker, unique
from tests.runtime.irs import listing, marketplace_ir, put_user
from tests.runtime.util import query, start_root, try_query


async def _loaded_root(client, http_api, worker, ir) -> tuple[str, str]:
    uid = unique("u")
    put_user(http_api, uid, [listing(unique("l"), uid, photos=0)])
    await start_root(client, ir, worker.task_queue, uid, "t")

    async def loaded():
        assert ((await try_query(client, f"User-{uid}")) or {}).get("loaded")

    await assert_eventually(loaded)
    return uid, f"User-{uid}"


async def _errors(client, wid: str, count: int) -> list[dict]:
    async def recorded():
        errors = (await query(client, wid, "state"))["errors"]
        assert len(errors) >= count, errors
        return errors

    return await assert_eventually(recorded)


async def test_a_partial_update_of_a_held_record_is_a_patch(client, http_api):
    ir = marketplace_ir(http_api)
    async with new_worker(client, ir) as worker:
        uid, wid = await _loaded_root(client, http_api, worker, ir)
        held = (await query(client, wid, "state"))["store"]["User"][uid]
        handle = client.get_workflow_handle(wid)
        await handle.signal("update", {"entity": "User", "id": uid, "record": {"email": "ann@example.org", "plan": "free"}})

        async def patched():
            record = (await query(client, wid, "state"))["store"]["User"][uid]
            assert record == {**held, "email": "ann@example.org", "plan": "free"}

        await assert_eventually(patched)
        await handle.signal("update", {"entity": "User", "id": uid, "record": {"tags": "seller"}})
        await handle.signal("update", {"entity": "Listing", "id": unique("l"), "record": {"title": "partial"}})
        first, second = (await _errors(client, wid, 2))[-2:]
        state = await query(client, wid, "state")
    assert "update refused" in first["message"] and "$.tags" in first["message"]
    # a listing it neither holds nor refers to: refused before it is even read (issue 9)
    assert "update refused" in second["message"] and "holds no Listing record by that id" in second["message"]
    assert state["store"]["User"][uid] == {**held, "email": "ann@example.org", "plan": "free"}


async def test_subscribe_refuses_selectors_that_name_no_field_of_the_record(client, http_api):
    ir = marketplace_ir(http_api)
    async with new_worker(client, ir) as worker:
        uid, wid = await _loaded_root(client, http_api, worker, ir)
        handle = client.get_workflow_handle(wid)
        [watcher] = (await query(client, wid))["children"]  # a running workflow: a gone one is dropped
        await handle.signal("subscribe", {"workflow_id": watcher, "selectors": ["name", "Listing.*.name"]})
        await handle.signal("subscribe", {"workflow_id": watcher, "selectors": ["listings.*", "**"]})

        async def subscribed():
            subs = (await query(client, wid, "subscriptions"))["subscribers"]
            assert subs == [{"workflow_id": watcher, "selectors": ["listings.*", "**"]}]

        await assert_eventually(subscribed)
        error = (await _errors(client, wid, 1))[-1]
    assert error["kind"] == "signal"
    assert error["message"].startswith("subscribe refused: selectors[1] can never match")
    assert "a field of User (email, id, listings, name, tags)" in error["message"]
    assert "Listing.*" not in error["message"]


async def test_a_signal_whose_payload_is_not_json_is_refused_and_the_next_one_applies(client, http_api):
    # Payloads are decoded by the round that applies them, not by the handler (a parent
    # handed thousands of `update`s in one activation must get through it in time).
    ir = marketplace_ir(http_api)
    async with new_worker(client, ir) as worker:
        uid, wid = await _loaded_root(client, http_api, worker, ir)
        handle = client.get_workflow_handle(wid)
        await handle.signal("update", RawValue(Payload(metadata={"encoding": b"json/plain"}, data=b"{not json")))
        await handle.signal("update", {"entity": "User", "id": uid, "record": {"email": "ann@example.org"}})
        errors = await _errors(client, wid, 1)

        async def applied():
            assert (await query(client, wid, "state"))["store"]["User"][uid]["email"] == "ann@example.org"

        await assert_eventually(applied)
    assert errors[-1]["message"] == "update refused: the payload is not JSON"
