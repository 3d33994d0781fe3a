"""HTTP faults against a real server: retries, Retry-After, bad bodies, refused tokens,
bad signals — each visible in the state, none failing a workflow."""

from __future__ import annotations

import asyncio

from temporalio.client import WorkflowExecutionStatus

from runtime.sealing import deployment, fingerprint, seal
from tests.helpers import assert_eventually, new_worker, unique
from tests.runtime.irs import listing, marketplace_ir, put_user
from tests.runtime.util import error_recorded, query, start_root, try_query


async def _root_loaded(client, root: str, timeout: float = 30) -> dict:
    async def check():
        st = await query(client, root)
        assert st["loaded"] and st["status"] == "running", st
        return st

    return await assert_eventually(check, timeout=timeout)


def _user_only(api, uid: str) -> None:
    put_user(api, uid, [])


async def test_500s_then_success_retries(client, http_api):
    uid = unique("u")
    _user_only(http_api, uid)
    http_api.fail(f"/users/{uid}", times=2)
    ir = marketplace_ir(http_api)
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        await _root_loaded(client, f"User-{uid}")
    assert [r.status for r in http_api.requests_to(f"/users/{uid}")] == [500, 500, 200]


async def test_429_honours_retry_after(client, http_api):
    uid = unique("u")
    _user_only(http_api, uid)
    http_api.rate_limit(f"/users/{uid}", retry_after=1.5)
    ir = marketplace_ir(http_api, retry=(3, 50, 200))  # without Retry-After: ~50 ms
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        await _root_loaded(client, f"User-{uid}")
    limited, served = http_api.requests_to(f"/users/{uid}")
    assert (limited.status, served.status) == (429, 200)
    assert served.at - limited.at >= 1.5, "retried before Retry-After"


async def test_retries_exhausted_is_a_recorded_error_not_a_failed_workflow(client, http_api):
    uid = unique("u")
    _user_only(http_api, uid)
    http_api.fail(f"/users/{uid}", times=None)
    ir = marketplace_ir(http_api, retry=(2, 50, 100))
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        st = await error_recorded(client, root, "HttpServerError", "HTTP 500")
        assert st["status"] == "error" and not st["loaded"]
        assert (await client.get_workflow_handle(root).describe()).status == WorkflowExecutionStatus.RUNNING
        http_api.clear_faults()
        await client.get_workflow_handle(root).signal("update", {})
        await _root_loaded(client, root)


async def test_malformed_and_schema_invalid_bodies_leave_state_unchanged(client, http_api):
    uid = unique("u")
    lid = unique("l")
    put_user(http_api, uid, [listing(lid, uid, photos=1)], nested=True)
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "t")
        await _root_loaded(client, root)
        before = (await query(client, root, "state"))["store"]

        http_api.malformed(f"/users/{uid}")
        await handle.signal("update", {})
        st = await error_recorded(client, root, "MalformedResponse", "malformed JSON")
        assert st["store"] == before

        bad = {"data": {"id": uid, "name": "Ann", "tags": [], "listings": [
            {**listing(lid, uid), "photos": [{"id": "p0", "url": 5}]}]}}
        http_api.invalid(f"/users/{uid}", bad)
        await handle.signal("update", {})
        st = await error_recorded(client, root, "SchemaInvalid", "$.data.listings[0].photos[0].url")
        assert st["store"] == before
        assert (await query(client, root))["last_error"].startswith("SchemaInvalid")
        # only one request each: bad bodies are not retried
        assert [r.status for r in http_api.requests_to(f"/users/{uid}")] == [200, 200, 200]


async def test_401_waits_for_a_token_and_resumes_on_rotation(client, http_api):
    good = "good-" + unique()
    http_api.require_auth("/", good)
    uid = unique("u")
    _user_only(http_api, uid)
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "stale-token")

        async def waiting():
            st = await query(client, root)
            assert st["status"] == "waiting_for_token" and not st["loaded"], st
            assert "HTTP 401" in st["last_error"]

        await assert_eventually(waiting)
        assert await query(client, root, "pendingChanges") == [{"kind": "reload", "waiting_for_token": True}]
        assert [r.status for r in http_api.requests_to(f"/users/{uid}")] == [401]  # no retry storm
        await handle.signal("apiToken", seal("crm", good, deployment=deployment("default", worker.task_queue)))
        st = await _root_loaded(client, root)
        assert st["tokens"] == {"crm": fingerprint(good)}


async def test_a_transient_401_retries_with_the_same_token_on_request(client, http_api):
    uid = unique("u")
    _user_only(http_api, uid)
    http_api.unauthorized(f"/users/{uid}")
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "same")
        await assert_eventually(lambda: _status_is(client, root, "waiting_for_token"))
        await handle.signal("apiToken", seal("crm", "same", deployment=deployment("default", worker.task_queue)))
        st = await _root_loaded(client, root)
        assert st["tokens"] == {"crm": fingerprint("same")}


async def test_missing_token_waits_without_a_request(client, http_api):
    uid = unique("u")
    _user_only(http_api, uid)
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, None)
        await assert_eventually(lambda: _status_is(client, root, "waiting_for_token"))
        assert http_api.log() == []
        await handle.signal("apiToken", seal("crm", "t", deployment=deployment("default", worker.task_queue)))
        await _root_loaded(client, root)


async def _status_is(client, wid: str, status: str) -> None:
    assert ((await try_query(client, wid)) or {}).get("status") == status


async def test_bad_and_unknown_signals_are_recorded_errors(client, http_api):
    uid = unique("u")
    _user_only(http_api, uid)
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "t")
        await _root_loaded(client, root)
        before = await query(client, root, "state")
        await handle.signal("apiToken", {"api": "crm", "token": "plain-secret-123"})
        await handle.signal("apiUrl", "http://x")
        await handle.signal("update", {"entity": "Nope", "id": "1", "record": {}})
        await handle.signal("update", {"entity": "Listing", "id": "l9", "record": {**listing("l9", uid), "title": 3}})
        await handle.signal("update", {"entity": "User", "id": uid, "record": {"name": 3}})
        await handle.signal("subscribe", {"workflow_id": "X-1", "selectors": []})
        await handle.signal("launchMissiles", {})
        st = await error_recorded(client, root, "unknown signal refused")
        messages = [e["message"] for e in st["errors"]]
        assert any(m.startswith("apiToken refused") for m in messages)
        assert any(m.startswith("apiUrl refused") for m in messages)
        assert any("not an entity of this spec" in m for m in messages)
        assert any("holds no Listing record by that id" in m for m in messages)  # l9 is not its listing
        assert any("the User record is invalid at $" in m for m in messages)
        assert any(m.startswith("subscribe refused") for m in messages)
        assert not any("plain-secret-123" in m or "launchMissiles" in m or "Nope" in m for m in messages)
        assert st["store"] == before["store"]
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        assert (await query(client, root))["status"] == "running"


async def test_a_deleted_child_leaves_its_parents_relation(client, http_api):
    uid = unique("u")
    l1, l2 = listing(unique("l"), uid, photos=0), listing(unique("l"), uid, photos=0)
    put_user(http_api, uid, [l1, l2])
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        await assert_eventually(lambda: _status_is(client, f"Listing-{l2['id']}", "running"))
        child = client.get_workflow_handle(f"Listing-{l2['id']}")
        await child.signal("delete", {})
        assert (await child.result())["status"] == "deleted"

        async def let_go():
            st = await query(client, root, "state")
            assert st["store"]["User"][uid]["listings"] == [l1["id"]]
            assert (await query(client, root))["children"] == [f"Listing-{l1['id']}"]

        await assert_eventually(let_go)


async def test_delete_of_own_entity_completes_and_cancels_children(client, http_api):
    uid = unique("u")
    l1 = listing(unique("l"), uid, photos=0)
    put_user(http_api, uid, [l1])
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "t")
        await _root_loaded(client, root)
        await assert_eventually(lambda: _status_is(client, f"Listing-{l1['id']}", "running"))
        await handle.signal("delete", {})
        result = await handle.result()
        assert result["status"] == "deleted"

        async def cancelled():
            d = await client.get_workflow_handle(f"Listing-{l1['id']}").describe()
            assert d.status == WorkflowExecutionStatus.CANCELED

        await assert_eventually(cancelled)


async def test_a_refreshing_workflow_that_waits_for_a_token_sleeps_instead_of_spinning(client, http_api):
    """Its `every` reload falls due while it waits for a token after a 401, and must not
    turn into a busy loop (which the SDK reports as a deadlock: failed workflow tasks)."""
    uid = unique("u")
    _user_only(http_api, uid)
    http_api.require_auth("/", "first")
    ir = marketplace_ir(http_api, every_ms=200)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "first")
        await _root_loaded(client, root)
        http_api.require_auth("/", "second")  # the next refresh gets a 401
        await assert_eventually(lambda: _status_is(client, root, "waiting_for_token"))
        await asyncio.sleep(3)  # 15 refresh periods; a spinning task is failed after 2 s
        events = [e async for e in handle.fetch_history_events()]
        assert not any(e.HasField("workflow_task_failed_event_attributes") for e in events)
        assert len(events) < 40, len(events)
        await handle.signal("apiToken", seal("crm", "second", deployment=deployment("default", worker.task_queue)))
        await _root_loaded(client, root)
