"""The worker's HTTP proxy (issue 9 item 5): none unless the worker is given one; with one,
every load goes through it, each workflow's `status` shows the proxy's origin (never its
credentials), and a token still goes only to its api's `allow` origins — the origin check is on
the target URL, not on the proxy. Real loopback APIs, a real loopback forward proxy.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from rules.proxies import fixed_proxy
from runtime import ir as ir_mod
from runtime import registry
from runtime.activities import LoadActivities
from runtime.routes import Routes
from runtime.sealing import deployment, seal
from sample_api import SampleAPI
from tests.helpers import assert_eventually, compile_text, decoded_payloads, free_port, new_worker, unique
from tests.helpers.proxy import ForwardProxy
from tests.runtime.util import query

SPEC = """
api crm    { base "{crm}"  auth bearer }
api vendor { base "{vendor}"  auth none }
entity User    { id string  name string  invoices [Invoice] }
entity Invoice { id string  total number }
workflow UserWorkflow manages User {
  source crm get "/users/{id}"
  child invoices -> InvoiceWorkflow { autostart }
}
workflow InvoiceWorkflow manages Invoice { source vendor get "/invoices/{id}" }
"""
PROXY_PASSWORD = "proxy-pw-" + unique("secret")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def apis() -> Iterator[tuple[SampleAPI, SampleAPI, SampleAPI]]:
    with SampleAPI().start() as crm, SampleAPI().start() as vendor, SampleAPI().start() as evil:
        yield crm, vendor, evil


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy().start() as running:
        yield running


def _spec(tmp_path, crm: SampleAPI, vendor: SampleAPI) -> dict:
    return compile_text(SPEC.replace("{crm}", crm.url).replace("{vendor}", vendor.url), tmp_path)


async def _hierarchy(client, ir: dict, queue: str, crm: SampleAPI, vendor: SampleAPI, token: str) -> tuple[str, str]:
    """A loaded UserWorkflow holding the crm `token`, with one loaded InvoiceWorkflow below it."""
    uid, iid = unique("u"), unique("i")
    crm.require_auth("/", token)
    crm.set_entity(f"/users/{uid}", {"id": uid, "name": "Ann", "invoices": [iid]})
    vendor.set_entity(f"/invoices/{iid}", {"id": iid, "total": 3})
    sealed = seal("crm", token, deployment=deployment("default", queue))
    await client.start_workflow("UserWorkflow", {"ir_hash": ir["hash"], "entity_id": uid, "tokens": {"crm": sealed}},
                                id=f"User-{uid}", task_queue=queue)
    for wid in (f"User-{uid}", f"Invoice-{iid}"):
        await assert_eventually(lambda wid=wid: _loaded(client, wid))
    return f"User-{uid}", f"Invoice-{iid}"


async def _loaded(client, wid: str) -> None:
    st = await query(client, wid)
    assert st["loaded"], (st["status"], st["last_error"])


async def test_with_a_proxy_every_load_goes_through_it_and_status_shows_its_origin(client, apis, proxy, tmp_path):
    crm, vendor, _ = apis
    ir = _spec(tmp_path, crm, vendor)
    token = "crm-" + unique("token")
    with_credentials = proxy.url.replace("http://", f"http://ops:{PROXY_PASSWORD}@")
    async with new_worker(client, ir, proxy=fixed_proxy(with_credentials)) as worker:
        user, invoice = await _hierarchy(client, ir, worker.task_queue, crm, vendor, token)
        shown = [await query(client, wid, name) for wid in (user, invoice) for name in ("status", "state")]
        histories = [await client.get_workflow_handle(wid).fetch_history() for wid in (user, invoice)]
    assert [s["proxy"] for s in shown[::2]] == [proxy.url, proxy.url]
    passed = proxy.passed()
    assert {p.target.split("/")[3] for p in passed} == {"users", "invoices"}
    # The crm token went, through the proxy, to crm only; the vendor api (no auth) got none.
    assert {p.target.rsplit("/", 2)[0] for p in passed if p.authorization} == {crm.url}
    assert all(p.authorization == f"Bearer {token}" for p in passed if p.target.startswith(crm.url))
    assert all(p.authorization is None for p in passed if p.target.startswith(vendor.url))
    assert {p.proxy_authorization for p in passed} == {"Basic " + base64.b64encode(f"ops:{PROXY_PASSWORD}".encode()).decode()}
    # The proxy's credentials, like the token, are nowhere in queries or history.
    for text in [json.dumps(shown)] + [payload.decode("utf-8", "replace") for h in histories
                                        for payload in decoded_payloads(json.loads(h.to_json()))]:
        assert PROXY_PASSWORD not in text and token not in text and "ops:" not in text


async def test_without_a_proxy_option_the_proxy_variables_are_ignored(client, apis, proxy, tmp_path, monkeypatch):
    crm, vendor, _ = apis
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    ir = _spec(tmp_path, crm, vendor)
    async with new_worker(client, ir) as worker:
        user, invoice = await _hierarchy(client, ir, worker.task_queue, crm, vendor, "crm-" + unique("token"))
        assert [(await query(client, wid))["proxy"] for wid in (user, invoice)] == [None, None]
    assert proxy.passed() == [] and crm.log() and vendor.log()


async def test_an_api_url_outside_allow_is_refused_before_the_proxy_sees_it(client, apis, proxy, tmp_path):
    crm, vendor, evil = apis
    ir = _spec(tmp_path, crm, vendor)
    token = "crm-" + unique("token")
    async with new_worker(client, ir, proxy=fixed_proxy(proxy.url)) as worker:
        user, _ = await _hierarchy(client, ir, worker.task_queue, crm, vendor, token)
        await client.get_workflow_handle(user).signal("apiUrl", {"api": "crm", "url": evil.url})

        async def refused() -> None:
            st = await query(client, user, "state")
            assert any("apiUrl refused" in e["message"] for e in st["errors"]), st["errors"]

        await assert_eventually(refused)
        assert (await query(client, user, "apiUrl"))["crm"] == crm.url
    assert not any(p.target.startswith(evil.url) for p in proxy.passed()) and evil.log() == []


async def test_the_activity_checks_the_target_origin_not_the_proxy(apis, proxy, tmp_path):
    """Where a request goes is the target's origin; the proxy's (outside `allow`) does not
    matter, and a target outside `allow` gets no token and no request, proxy or not."""
    crm, vendor, evil = apis
    doc = _spec(tmp_path, crm, vendor)
    registry.register(ir_mod.load(doc))
    token = "crm-" + unique("token")
    crm.require_auth("/", token)
    crm.set_entity("/users/u1", {"id": "u1", "name": "Ann", "invoices": []})
    evil.set_entity("/users/u1", {"id": "u1", "name": "Ann", "invoices": []})
    key = os.urandom(32)
    sealed = seal("crm", token, key, deployment=deployment("default", "test"))  # where ActivityEnvironment runs
    async with httpx.AsyncClient() as direct:
        routes = Routes(direct, fixed_proxy(proxy.url))
        activities = LoadActivities(routes, key)

        async def load(base: str) -> dict:
            request = {"ir_hash": doc["hash"], "workflow": "UserWorkflow", "entity_id": "u1",
                       "base_url": base, "values": {"id": "u1"}, "token": sealed}
            return await ActivityEnvironment().run(activities.load_entity, request)

        result = await load(crm.url)
        with pytest.raises(ApplicationError) as refused:
            await load(evil.url)
        await routes.aclose()
    assert result["status"] == "ok" and result["proxy"] == proxy.url
    assert refused.value.type == "OriginNotAllowed" and refused.value.non_retryable
    assert [p.target for p in proxy.passed()] == [f"{crm.url}/users/u1"] and evil.log() == []


async def test_a_proxy_that_cannot_be_reached_is_named_by_its_origin_only(http_api, tmp_path):
    doc = _spec(tmp_path, http_api, http_api)
    registry.register(ir_mod.load(doc))
    key, token, port = os.urandom(32), "crm-" + unique("token"), free_port()
    sealed = seal("crm", token, key, deployment=deployment("default", "test"))
    async with httpx.AsyncClient() as direct:
        routes = Routes(direct, fixed_proxy(f"http://ops:{PROXY_PASSWORD}@127.0.0.1:{port}"))
        request = {"ir_hash": doc["hash"], "workflow": "UserWorkflow", "entity_id": "u1",
                   "base_url": http_api.url, "values": {"id": "u1"}, "token": sealed}
        with pytest.raises(ApplicationError) as failed:
            await ActivityEnvironment().run(LoadActivities(routes, key).load_entity, request)
        await routes.aclose()
    text = str(failed.value) + repr(failed.value.__cause__) + repr(failed.value.__context__)
    assert failed.value.type == "HttpTransportError" and not failed.value.non_retryable
    assert f"through proxy http://127.0.0.1:{port}" in text
    assert PROXY_PASSWORD not in text and token not in text and "ops:" not in text
    assert http_api.log() == []
