"""Children and subscriptions on a real dev server: start/update/cancel follow the parent's
data, child changes flow up without echo, cycles stop, continue-as-new keeps children,
a second parent attaches."""

from __future__ import annotations

import asyncio
import time

from temporalio.client import WorkflowExecutionStatus

from tests.helpers import assert_eventually, new_worker, unique
from tests.runtime.irs import listing, marketplace_ir, put_user
from tests.runtime.util import execution_status, query, start_root, tree, try_query


async def _settled(client, root: str, count: int, timeout: float = 30) -> dict:
    async def check():
        t = await tree(client, root)
        assert len(t) == count, sorted(t)
        assert all(s["loaded"] for s in t.values()), {w: (s["status"], s["last_error"]) for w, s in t.items()}
        return t

    return await assert_eventually(check, timeout=timeout)


async def _signal_count(client, wid: str, name: str) -> int:
    history = await client.get_workflow_handle(wid).fetch_history()
    return sum(
        1 for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
        and e.workflow_execution_signaled_event_attributes.signal_name == name
    )


async def _quiet(client, wids: list[str], for_secs: float = 1.0, timeout: float = 20) -> None:
    """Wait until none of `wids` gains history events for `for_secs` (no ping-pong)."""
    async def lengths():
        hs = await asyncio.gather(*(client.get_workflow_handle(w).fetch_history() for w in wids))
        return [len(h.events) for h in hs]

    deadline = time.monotonic() + timeout
    last, since = await lengths(), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        now = await lengths()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= for_secs:
            return
    raise AssertionError(f"histories still growing after {timeout}s: {dict(zip(wids, last))}")


async def test_children_start_update_and_cancel_as_the_parent_data_changes(client, http_api):
    uid = unique("u")
    l1, l2, l3 = (listing(unique("l"), uid) for _ in range(3))
    put_user(http_api, uid, [l1, l2], nested=True)
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "t")
        await _settled(client, root, 1 + 2 + 2)
        # l2 leaves, l3 arrives, l1 changes its title in the parent's data
        l1 = {**l1, "title": "renamed"}
        put_user(http_api, uid, [l1, l3], nested=True)
        await handle.signal("update", {})

        async def followed():
            st = await query(client, root)
            assert st["children"] == sorted([f"Listing-{l1['id']}", f"Listing-{l3['id']}"])
            assert await execution_status(client, f"Listing-{l2['id']}") == WorkflowExecutionStatus.CANCELED
            child = await query(client, f"Listing-{l1['id']}", "state")
            assert child["store"]["Listing"][l1["id"]]["title"] == "renamed"
            assert (await try_query(client, f"Listing-{l3['id']}")) is not None
            store = (await query(client, root, "state"))["store"]
            assert set(store["Listing"]) == {l1["id"], l3["id"]}  # l2's record left with it

        await assert_eventually(followed)
        # `delete` of a related record: the reference goes, and the child with it
        await handle.signal("delete", {"entity": "Listing", "id": l3["id"]})

        async def deleted():
            assert (await query(client, root))["children"] == [f"Listing-{l1['id']}"]
            assert await execution_status(client, f"Listing-{l3['id']}") == WorkflowExecutionStatus.CANCELED

        await assert_eventually(deleted)
        # the cancelled listing cancelled its own `cancel on delete` photo child too
        photo = f"Photo-{l2['photos'][0]['id']}"
        await assert_eventually(
            lambda: _is(execution_status(client, photo), WorkflowExecutionStatus.CANCELED))


async def _is(coro, value) -> None:
    assert await coro == value


async def test_child_changes_flow_up_to_the_subscriber_without_echo(client, http_api):
    uid = unique("u")
    l1 = listing(unique("l"), uid)
    put_user(http_api, uid, [l1])
    ir = marketplace_ir(http_api)
    root, child = f"User-{uid}", f"Listing-{l1['id']}"
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        await _settled(client, root, 3)
        assert (await query(client, child, "subscriptions"))["subscribers"] == [{"workflow_id": root, "selectors": ["*"]}]
        assert (await query(client, root, "subscriptions"))["subscribed_to"] == [child]
        await _quiet(client, [root, child])
        updates_to_child = await _signal_count(client, child, "update")
        updates_to_root = await _signal_count(client, root, "update")
        # the listing changes at the API; the child reloads and tells its subscriber
        http_api.set_entity(f"/listings/{l1['id']}", {**l1, "price": 99.5})
        await client.get_workflow_handle(child).signal("update", {})

        async def arrived():
            st = await query(client, root, "state")
            assert st["store"]["Listing"][l1["id"]]["price"] == 99.5

        await assert_eventually(arrived)
        await _quiet(client, [root, child])
        # exactly one update went up, none came back down (the `update {}` was ours)
        assert await _signal_count(client, root, "update") == updates_to_root + 1
        assert await _signal_count(client, child, "update") == updates_to_child + 1


async def test_a_relation_cycle_terminates(client, http_api):
    u1, u2 = unique("u"), unique("u")
    la, lb, lc = listing(unique("l"), u1), listing(unique("l"), u2), listing(unique("l"), u2)
    put_user(http_api, u1, [la, lb])  # lb belongs to u2: Listing-lb -> owner User-u2
    put_user(http_api, u2, [lb, lc])
    ir = marketplace_ir(http_api, cycle=True)
    root = f"User-{u1}"
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, u1, "t")
        want = {root, f"User-{u2}", *(f"Listing-{x['id']}" for x in (la, lb, lc)),
                *(f"Photo-{x['photos'][0]['id']}" for x in (la, lb, lc))}

        async def complete():
            t = await tree(client, root)
            assert set(t) == want
            assert all(s["loaded"] for s in t.values())
            return t

        t = await assert_eventually(complete)
        await _quiet(client, sorted(want))
        t = await tree(client, root)
    # la's owner is the root: an ancestor, so no child; lb's owner u2 is started once, and
    # u2's own lb is its ancestor, so u2 only manages lc
    assert t[f"Listing-{la['id']}"]["children"] == [f"Photo-{la['photos'][0]['id']}"]
    assert f"User-{u2}" in t[f"Listing-{lb['id']}"]["children"]
    assert t[f"User-{u2}"]["children"] == [f"Listing-{lc['id']}"]
    lc_status = t[f"Listing-{lc['id']}"]
    assert f"User-{u2}" not in lc_status["children"]  # its owner is an ancestor


async def test_continue_as_new_keeps_state_and_children(client, http_api):
    uid = unique("u")
    listings = [listing(unique("l"), uid, photos=0) for _ in range(3)]
    put_user(http_api, uid, listings)
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "tok", history_limit=60)
        await _settled(client, root, 4)
        first_run = (await handle.describe()).run_id
        kids = [f"Listing-{x['id']}" for x in listings]
        kid_runs = {k: (await client.get_workflow_handle(k).describe()).run_id for k in kids}
        before = await query(client, root, "state")

        async def continued():
            await handle.signal("update", {})
            desc = await client.get_workflow_handle(root).describe()
            assert desc.run_id != first_run

        await assert_eventually(continued, timeout=30, interval=0.3)
        await _settled(client, root, 4)
        after = await query(client, root, "state")
        assert after["store"] == before["store"]
        assert (await query(client, root, "apiToken")) == (await query(client, kids[0], "apiToken"))
        for k in kids:
            d = await client.get_workflow_handle(k).describe()
            assert d.run_id == kid_runs[k] and d.status == WorkflowExecutionStatus.RUNNING, k


async def test_second_parent_attaches_instead_of_duplicating(client, http_api):
    ua, ub = unique("u"), unique("u")
    shared = listing(unique("l"), ua)
    put_user(http_api, ua, [shared])
    put_user(http_api, ub, [shared])
    ir = marketplace_ir(http_api)
    child = f"Listing-{shared['id']}"
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, ua, "t")
        await _settled(client, f"User-{ua}", 3)
        run_id = (await client.get_workflow_handle(child).describe()).run_id
        await start_root(client, ir, worker.task_queue, ub, "t")

        async def attached():
            st = await query(client, f"User-{ub}")
            assert st["loaded"] and st["children"] == [child]
            subs = await query(client, child, "subscriptions")
            assert {s["workflow_id"] for s in subs["subscribers"]} == {f"User-{ua}", f"User-{ub}"}
            # the attached parent heard the listing's current record
            state = await query(client, f"User-{ub}", "state")
            assert state["store"]["Listing"][shared["id"]]["title"] == shared["title"]

        await assert_eventually(attached)
        assert (await client.get_workflow_handle(child).describe()).run_id == run_id
        count = 0
        async for _ in client.list_workflows(f"WorkflowId = '{child}'"):
            count += 1
        assert count == 1


async def test_an_attached_parent_lets_go_when_the_owner_cancels_and_restarts_on_reload(client, http_api):
    ua, ub = unique("u"), unique("u")
    shared = listing(unique("l"), ua, photos=0)
    put_user(http_api, ua, [shared])
    put_user(http_api, ub, [shared])
    ir = marketplace_ir(http_api)
    child = f"Listing-{shared['id']}"
    async with new_worker(client, ir) as worker:
        a = await start_root(client, ir, worker.task_queue, ua, "t")
        await _settled(client, f"User-{ua}", 2)
        b = await start_root(client, ir, worker.task_queue, ub, "t")

        async def attached():
            subs = await query(client, child, "subscriptions")
            assert len(subs["subscribers"]) == 2

        await assert_eventually(attached)
        first_run = (await client.get_workflow_handle(child).describe()).run_id
        put_user(http_api, ua, [])  # the owner's data lets go: it cancels its child
        await a.signal("update", {})

        async def b_let_go():
            assert (await query(client, f"User-{ub}"))["children"] == []

        await assert_eventually(b_let_go)
        await b.signal("update", {})  # b's data still has it: b starts it again, as owner

        async def restarted():
            desc = await client.get_workflow_handle(child).describe()
            assert desc.run_id != first_run and desc.status == WorkflowExecutionStatus.RUNNING
            assert (await desc.memo())["started_by"] == f"User-{ub}"

        await assert_eventually(restarted)
