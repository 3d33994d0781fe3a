"""What real HTTP APIs do, against a real loopback server and the real dev server: rate
limits (GitHub's 403 with `X-RateLimit-Reset`, 429 with `Retry-After`, an api's own `rate`),
conditional refreshes (ETag / 304), tokens in a header with a prefix or in the query string,
and never adopting another deployment's workflow."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

from temporalio.api.enums.v1 import EventType

from runtime.status_summary import wait_until_loaded
from runtime.status_tree import failed_for_good, not_loaded
from tests.helpers import assert_eventually as eventually, decoded_payloads, new_worker, unique
from tests.runtime.irs import listing, marketplace_ir, put_user, rehash, root_input
from tests.runtime.util import error_recorded, query, start_root, try_query


async def _status(client, wid: str, **expected) -> dict:
    async def check():
        st = await try_query(client, wid)
        assert st is not None and all(st[k] == v for k, v in expected.items()), st
        return st

    return await eventually(check)


async def _events(client, wid: str) -> list[dict]:
    history = await client.get_workflow_handle(wid).fetch_history()
    return history.to_json_dict()["events"]


def _holding(events: list[dict], text: str) -> list[dict]:
    """The events with a payload that contains `text`."""
    return [e for e in events if any(text.encode() in p for p in decoded_payloads(e))]


def _signals(events: list[dict]) -> list[dict]:
    return [e for e in events if e["eventType"] in ("EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
                                                    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)]


# ------------------------------------------------------------------ rate limits


async def test_a_rate_limit_403_waits_for_the_reset_without_a_request_or_a_new_token(client, http_api):
    uid = unique("u")
    put_user(http_api, uid, [])
    path = f"/users/{uid}"
    http_api.rate_limit(path, status=403, retry_after=None, reset_in=5)  # GitHub's primary limit
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "t")
        limited = await _status(client, root, status="rate_limited", loaded=False)
        first = http_api.requests_to(path)[0]
        assert first.status == 403 and "rate limited" in limited["last_error"]
        assert datetime.fromisoformat(limited["next_try"]).timestamp() >= first.epoch + 4.99
        await handle.signal("update", {})  # a reason to reload is no reason to ask before the reset
        await _status(client, root, status="running", loaded=True)
    requests = http_api.requests_to(path)
    assert [r.status for r in requests] == [403, 200]
    assert requests[1].epoch >= first.epoch + 4.99  # the server's own clock: not before its reset
    # nobody sent a token: the one from the start did it
    assert [r.auth for r in requests] == ["Bearer t", "Bearer t"]


async def test_a_plain_403_is_a_refused_token(client, http_api):
    uid = unique("u")
    put_user(http_api, uid, [])
    http_api.fail(f"/users/{uid}", status=403)
    ir = marketplace_ir(http_api)
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        st = await _status(client, f"User-{uid}", status="waiting_for_token")
    assert st["next_try"] is None and "token was refused" in st["last_error"]


async def test_an_api_rate_is_kept_by_the_server_on_a_task_queue_of_the_api(client, http_api):
    uid = unique("u")
    put_user(http_api, uid, [listing(unique("l"), uid, photos=0) for _ in range(6)])
    ir = marketplace_ir(http_api)
    ir["apis"]["crm"]["rate"] = {"requests": 2, "per_ms": 1000}
    rehash(ir)
    queue = unique("tq")
    # the server, not the worker, keeps the rate of a task queue: every worker polling the
    # api's queue shares it (one process may run only one worker per queue, hence one here)
    async with new_worker(client, ir, task_queue=queue):
        await start_root(client, ir, queue, uid, "t")
        child = f"Listing-{http_api.entity(f'/users/{uid}')['data']['listings'][0]}"
        await _status(client, child, loaded=True)
        scheduled = [e for e in await _events(client, child) if "activityTaskScheduledEventAttributes" in e]
        assert {e["activityTaskScheduledEventAttributes"]["taskQueue"]["name"] for e in scheduled} == {f"{queue}/api/crm"}
        await eventually(lambda: len(http_api.log()) == 7)
    arrivals = [r.at for r in http_api.log()]
    # 7 requests at 2 a second, a burst of 2 allowed: at least 2.5 s from first to last
    assert arrivals[-1] - arrivals[0] >= 2.0, arrivals


# ------------------------------------------------------------- conditional refresh


async def test_a_refresh_answered_by_304_adds_no_record_to_history_and_signals_no_child(client, http_api):
    uid = unique("u")
    listings = [listing(unique("l"), uid, photos=0, title=unique("title")) for _ in range(2)]
    put_user(http_api, uid, listings, nested=True, name=unique("name"))
    ir = marketplace_ir(http_api)
    root, children = f"User-{uid}", [f"Listing-{x['id']}" for x in listings]
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "t")
        loaded = await _status(client, root, loaded=True)
        for wid in children:
            await _status(client, wid, loaded=True)
        root_before = await _events(client, root)
        children_before = [await _events(client, w) for w in children]

        await handle.signal("update", {})  # refresh: the api answers 304
        await eventually(lambda: [r.status for r in http_api.requests_to(f"/users/{uid}")] == [200, 304])
        checked = await _status(client, root, status="running", loaded=True)
        assert checked["checked_at"] > loaded["checked_at"]
        after_304 = (await _events(client, root))[len(root_before):]
        assert not _holding(after_304, listings[0]["title"]) and not _holding(after_304, "name")
        assert [len(await _events(client, w)) for w in children] == [len(e) for e in children_before]

        changed = {**listings[0], "title": unique("retitled")}  # refresh: the api answers 200
        put_user(http_api, uid, [changed, listings[1]], nested=True)
        mark = len(await _events(client, root))
        await handle.signal("update", {})
        await eventually(lambda: [r.status for r in http_api.requests_to(f"/users/{uid}")] == [200, 304, 200])
        await eventually(lambda: _signals_since(client, children[0], len(children_before[0])))
        after_200 = (await _events(client, root))[mark:]
        assert _holding(after_200, changed["title"])
    assert len(after_304) < len(after_200), (len(after_304), len(after_200))
    assert [len(await _events(client, w)) for w in children[1:]] == [len(e) for e in children_before[1:]]


async def _signals_since(client, wid: str, mark: int) -> bool:
    return bool(_signals((await _events(client, wid))[mark:]))


async def test_an_update_of_the_own_record_makes_the_next_load_unconditional(client, http_api):
    uid = unique("u")
    put_user(http_api, uid, [], name="Ann")
    ir = marketplace_ir(http_api)
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, "t")
        await _status(client, root, loaded=True)
        own = {"entity": "User", "id": uid, "record": {"name": "Bea", "tags": [], "listings": []}}
        await handle.signal("update", own)
        await handle.signal("update", {})
        await eventually(lambda: len(http_api.requests_to(f"/users/{uid}")) == 2)
        await eventually(lambda: _name_is(client, root, uid, "Ann"))  # the api's data, not a 304 keeping Bea
    second = http_api.requests_to(f"/users/{uid}")[1]
    assert second.status == 200 and "If-None-Match" not in second.headers


async def _name_is(client, root: str, uid: str, name: str) -> None:
    assert (await query(client, root, "state"))["store"]["User"][uid]["name"] == name


# ----------------------------------------------------------------- where the token goes


def _with_auth(ir: dict, **auth) -> dict:
    ir["apis"]["crm"]["auth"] = {"scheme": "header", "header": None, "prefix": None, "query": None, **auth}
    return rehash(ir)


async def test_auth_header_with_a_prefix(client, http_api):
    token = unique("gh")
    http_api.require_auth("/", token, scheme="token")  # GitHub's `Authorization: token T`
    uid = unique("u")
    put_user(http_api, uid, [])
    ir = _with_auth(marketplace_ir(http_api), header="Authorization", prefix="token ")
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, token)
        await _status(client, f"User-{uid}", loaded=True)
    assert http_api.log()[0].auth == f"token {token}"


async def test_a_query_token_is_masked_in_every_url_shown_logged_or_recorded(client, http_api, caplog):
    caplog.set_level(logging.DEBUG)
    token = unique("qtok")
    http_api.require_auth("/", token, query="api_key")
    uid = unique("u")
    put_user(http_api, uid, [])
    http_api.fail(f"/users/{uid}", status=404)
    ir = _with_auth(marketplace_ir(http_api), scheme="query", query="api_key")
    root = f"User-{uid}"
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, token)
        st = await _status(client, root, status="error", failed=True)
        await handle.signal("update", {})
        await _status(client, root, loaded=True)
        recorded = json.dumps(await _events(client, root)) + json.dumps(await query(client, root, "state"))
        recorded += "".join(p.decode(errors="replace") for p in decoded_payloads(await _events(client, root)))
    assert f"GET {http_api.url}/users/{uid}?api_key=***: HTTP 404" in st["last_error"]
    assert [r.auth for r in http_api.log()] == [token, token] and "Authorization" not in http_api.log()[0].headers
    assert "api_key=***" in caplog.text  # httpx's own request log line
    assert token not in recorded and token not in caplog.text and token not in st["last_error"]


# ------------------------------------------------------------------ another deployment


async def test_a_workflow_of_another_deployment_is_never_adopted(client, http_api):
    shared = listing(unique("l"), "someone", photos=0)
    alice, bob = unique("u"), unique("u")
    put_user(http_api, alice, [shared])
    put_user(http_api, bob, [shared])
    ir = marketplace_ir(http_api)
    async with new_worker(client, ir) as worker:
        for uid, deployment in ((alice, "alpha"), (bob, "beta")):
            await client.start_workflow(
                "UserWorkflow", root_input(ir, uid, "t", worker.task_queue, deployment=deployment), id=f"User-{uid}",
                task_queue=worker.task_queue, memo={"entity": "User", "id": uid, "deployment": deployment})
            if uid == alice:
                await _status(client, f"Listing-{shared['id']}", loaded=True)
        st = await _status(client, f"User-{bob}", loaded=True)
        state = await query(client, f"User-{bob}", "state")
        await error_recorded(client, f"User-{bob}", "'alpha'", "'beta'", "not adopted")
        child = await query(client, f"Listing-{shared['id']}", "subscriptions")
    assert st["children"] == [] and state["store"]["User"][bob]["listings"] == [shared["id"]]
    assert f"User-{bob}" not in json.dumps(child)  # bob's root neither subscribed nor sent it anything


async def test_an_edge_that_does_not_autostart_never_attaches_to_another_deployment(client, http_api):
    """A listing's owner, attached (subscribed to) by an edge without `autostart`, runs for
    another deployment: the listing neither subscribes to it nor sends it anything."""
    bob = unique("u")
    shared = listing(unique("l"), bob, photos=0)
    alice = unique("u")
    put_user(http_api, bob, [])
    put_user(http_api, alice, [shared])
    ir = marketplace_ir(http_api, cycle=True)
    owner = ir["workflows"]["ListingWorkflow"]["children"][-1]
    owner.update(autostart=False, subscribe=["*"], tokens=[])
    rehash(ir)
    async with new_worker(client, ir) as worker:
        for uid, deployment in ((bob, "beta"), (alice, "alpha")):
            await client.start_workflow(
                "UserWorkflow", root_input(ir, uid, "t", worker.task_queue, deployment=deployment), id=f"User-{uid}",
                task_queue=worker.task_queue, memo={"entity": "User", "id": uid, "deployment": deployment})
            await _status(client, f"User-{uid}", loaded=True)
        listing_id = f"Listing-{shared['id']}"
        await _status(client, listing_id, loaded=True)
        await error_recorded(client, listing_id, "'alpha'", "'beta'", "not adopted")
        subscriptions = await query(client, f"User-{bob}", "subscriptions")
        st = await query(client, listing_id)
    assert subscriptions["subscribers"] == [] and st["children"] == []


# ------------------------------------------------------------------ --until-loaded


async def test_waiting_until_loaded_ends_once_everything_not_loaded_failed_for_good(client, http_api):
    uid = unique("u")  # no such user: a 404, which no retry cures
    ir = marketplace_ir(http_api)
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        # far sooner than the 600 s it may wait for workflows that could still load
        trees, loaded = await asyncio.wait_for(wait_until_loaded(client, [f"User-{uid}"], 600), 60)
    assert not loaded and failed_for_good(not_loaded(trees))
    assert trees[0].status == "error" and "HttpClientError" in trees[0].last_error
