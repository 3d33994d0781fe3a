"""The attacks of issue 9, each replayed against a real dev server and loopback servers that
record every credential they receive: a token goes only where the spec allows, and a bad
signal, start or upgrade is a recorded (or refused) request, never a leak or a failed task.

Two apis, two servers: `crm` (the victim's origin) and `vendor` (another api's origin, and the
place an attacker wants the crm token to go). `evil` is a third server no spec allows now.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from runtime.sealing import deployment, seal
from sample_api import SampleAPI
from tests.helpers import assert_eventually, compile_text, new_worker, unique
from tests.runtime.util import error_recorded, query

SPEC = """
api crm    { base "{crm}"  auth bearer  {allow} }
api vendor { base "{vendor}"  auth bearer }
entity User    { id string  name string  invoices [Invoice] }
entity Invoice { id string  total number }
workflow UserWorkflow manages User {
  source crm get "/users/{id}"
  child invoices -> InvoiceWorkflow { autostart }
}
workflow InvoiceWorkflow manages Invoice { source vendor get "/invoices/{id}" }
"""


@pytest.fixture
def servers() -> Iterator[tuple[SampleAPI, SampleAPI, SampleAPI]]:
    with SampleAPI().start() as crm, SampleAPI().start() as vendor, SampleAPI().start() as evil:
        yield crm, vendor, evil


def _spec(tmp_path, crm: SampleAPI, vendor: SampleAPI, *, base: str | None = None, also_allow: str = "",
          name: str = "spec.swf") -> dict:
    allow = f'allow "127.0.0.1:{crm.port}"' + (f', "{also_allow}"' if also_allow else "")
    text = SPEC.replace("{crm}", base or crm.url).replace("{vendor}", vendor.url).replace("{allow}", allow)
    return compile_text(text, tmp_path, name)


def _secret_seen(token: str, *servers: SampleAPI) -> list[str]:
    """Every request, on any of `servers`, that carried `token` anywhere in its headers."""
    return [f"{s.port}{r.path}" for s in servers for r in s.log() if token in json.dumps(r.headers)]


async def _user(client, ir: dict, queue: str, crm: SampleAPI, token: str, invoices: list[str] = ()) -> tuple[str, dict]:
    """A running, loaded UserWorkflow holding the crm `token`; returns its id and sealed token."""
    uid = unique("u")
    crm.require_auth("/", token)
    crm.set_entity(f"/users/{uid}", {"id": uid, "name": "Ann", "invoices": list(invoices)})
    sealed = seal("crm", token, deployment=deployment("default", queue))
    await client.start_workflow("UserWorkflow", {"ir_hash": ir["hash"], "entity_id": uid, "tokens": {"crm": sealed}},
                                id=f"User-{uid}", task_queue=queue)
    await assert_eventually(lambda: _loaded(client, f"User-{uid}"))
    return f"User-{uid}", sealed


async def _loaded(client, wid: str) -> None:
    st = await query(client, wid)
    assert st["loaded"], (st["status"], st["last_error"])


# -- 1. a sealed token for one api, given for another -------------------------------------

async def test_a_crm_token_given_as_the_vendor_token_never_reaches_the_vendor(client, servers, tmp_path):
    crm, vendor, _ = servers
    ir = _spec(tmp_path, crm, vendor)
    secret = "crm-" + unique("secret")
    async with new_worker(client, ir) as worker:
        _, crm_sealed = await _user(client, ir, worker.task_queue, crm, secret)
        iid = unique("i")
        vendor.set_entity(f"/invoices/{iid}", {"id": iid, "total": 1})
        # What the attacker does: a hand-started workflow whose vendor token is the crm one.
        await client.start_workflow("InvoiceWorkflow", {"ir_hash": ir["hash"], "entity_id": iid,
                                                        "tokens": {"vendor": crm_sealed}},
                                    id=f"Invoice-{iid}", task_queue=worker.task_queue)
        st = await error_recorded(client, f"Invoice-{iid}", "vendor token", "sealed for another api")
        assert (await query(client, f"Invoice-{iid}"))["status"] == "waiting_for_token"
        # ... and the same through an apiToken signal: the api is the token's own field, so
        # it can only ever be set as the crm token, which an invoice does not use.
        await client.get_workflow_handle(f"Invoice-{iid}").signal("apiToken", crm_sealed)
        await error_recorded(client, f"Invoice-{iid}", "apiToken refused")
    assert _secret_seen(secret, vendor) == [] and vendor.log() == []
    assert secret not in json.dumps(st)


# -- 2. upgrade: no rollback to a kept registration, no base outside allow -----------------

async def test_upgrade_refuses_a_kept_older_spec_and_bases_outside_allow(client, servers, tmp_path):
    crm, vendor, evil = servers
    older = _spec(tmp_path, crm, vendor, also_allow=f"127.0.0.1:{evil.port}", name="old.swf")
    current = _spec(tmp_path, crm, vendor, name="new.swf")
    secret = "crm-" + unique("secret")
    async with new_worker(client, current, also=[older]) as worker:
        root, crm_sealed = await _user(client, current, worker.task_queue, crm, secret)
        handle = client.get_workflow_handle(root)
        attacks = [
            {"ir_hash": older["hash"], "api_bases": {"crm": evil.url}},  # roll back to a wider allow
            {"ir_hash": older["hash"]},
            {"ir_hash": current["hash"], "api_bases": {"crm": evil.url}},  # same spec, base outside allow
        ]
        for attack in attacks:
            with pytest.raises((WorkflowUpdateFailedError, RPCError)) as refused:
                await handle.execute_update("upgrade", attack)
            assert "refused" in str(refused.value.cause or refused.value) or refused.value

        # A workflow still running under the older spec may move up, but not with a base
        # outside the new spec's allow, nor with a token for another api.
        uid = unique("u")
        crm.set_entity(f"/users/{uid}", {"id": uid, "name": "Bo", "invoices": []})
        old_root = await client.start_workflow("UserWorkflow", {"ir_hash": older["hash"], "entity_id": uid,
                                                                "tokens": {"crm": crm_sealed}},
                                               id=f"User-{uid}", task_queue=worker.task_queue)
        await assert_eventually(lambda: _loaded(client, f"User-{uid}"))
        for attack in [{"ir_hash": current["hash"], "api_bases": {"crm": evil.url}},
                       {"ir_hash": current["hash"], "tokens": {"vendor": crm_sealed}}]:
            with pytest.raises(WorkflowUpdateFailedError):
                await old_root.execute_update("upgrade", attack)
        await old_root.execute_update("upgrade", {"ir_hash": current["hash"]})  # the legitimate move
        await handle.signal("update", {})
        await client.get_workflow_handle(f"User-{uid}").signal("update", {})
        await assert_eventually(lambda: _loaded(client, f"User-{uid}"))
    assert evil.log() == [] and _secret_seen(secret, evil, vendor) == []


# -- 3. a token the HTTP layer would refuse (and quote) ------------------------------------

@pytest.mark.parametrize("bad", ["secret\n", "sec ret", "secr\u00e9t", "\tsecret"])
def test_a_token_that_cannot_go_into_a_header_is_refused_without_being_echoed(bad):
    from runtime.sealing import TokenError

    with pytest.raises(TokenError) as refused:
        seal("crm", bad, deployment="default/swfc")
    assert "secr" not in str(refused.value) and "visible ASCII" in str(refused.value)


def test_errors_are_scrubbed_of_the_token_in_every_spelling():
    from runtime.fetch import scrub as _scrub

    token = "it's\\a-token"
    for spelling in (token, repr(token)[1:-1], repr(token.encode())[2:-1], "it%27s%5Ca-token"):
        assert _scrub(f"Illegal header value b'Bearer {spelling}'", token) == "Illegal header value b'Bearer ***'"


# -- 4. https never downgrades ---------------------------------------------------------------

async def test_an_https_api_never_sends_its_token_over_plain_http(client, servers, tmp_path):
    crm, vendor, _ = servers
    ir = _spec(tmp_path, crm, vendor, base=f"https://127.0.0.1:{crm.port}")
    secret = "crm-" + unique("secret")
    uid = unique("u")
    crm.set_entity(f"/users/{uid}", {"id": uid, "name": "Ann", "invoices": []})
    async with new_worker(client, ir) as worker:
        sealed = seal("crm", secret, deployment=deployment("default", worker.task_queue))
        await client.start_workflow("UserWorkflow", {"ir_hash": ir["hash"], "entity_id": uid, "tokens": {"crm": sealed}},
                                    id=f"User-{uid}", task_queue=worker.task_queue)
        wid = f"User-{uid}"
        await client.get_workflow_handle(wid).signal("apiUrl", {"api": "crm", "url": crm.url})  # http://, same host:port
        await error_recorded(client, wid, "apiUrl refused", "over https only")
        assert (await query(client, wid, "apiUrl")) != crm.url
    assert _secret_seen(secret, crm) == []


# -- 5. proxies from the environment ----------------------------------------------------------

async def test_the_worker_ignores_proxy_variables(client, servers, tmp_path, monkeypatch):
    crm, vendor, proxy = servers
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    ir = _spec(tmp_path, crm, vendor)
    secret = "crm-" + unique("secret")
    async with new_worker(client, ir) as worker:
        await _user(client, ir, worker.task_queue, crm, secret)
    assert proxy.log() == [] and _secret_seen(secret, crm)


# -- 6. update signals that would wedge a workflow ---------------------------------------------

async def test_updates_for_unrelated_or_huge_records_are_refused_and_the_workflow_lives_on(client, servers, tmp_path):
    crm, vendor, _ = servers
    ir = _spec(tmp_path, crm, vendor)
    async with new_worker(client, ir) as worker:
        root, _ = await _user(client, ir, worker.task_queue, crm, "t-" + unique("t"), invoices=["i1"])
        handle = client.get_workflow_handle(root)
        big = {"total": 1, "junk": "x" * 1_200_000}
        for n in range(4):
            await handle.signal("update", {"entity": "Invoice", "id": f"stranger-{n}", "record": {"total": n}})
            await handle.signal("update", {"entity": "Invoice", "id": "i1", "record": big})
        st = await error_recorded(client, root, "update refused", "at most")
        assert "stranger-0" not in json.dumps(st["store"]) and len(json.dumps(st)) < 100_000
        await handle.signal("update", {"entity": "Invoice", "id": "i1", "record": {"total": 7}})

        async def merged():
            assert (await query(client, root, "state"))["store"]["Invoice"]["i1"]["total"] == 7

        await assert_eventually(merged)


# -- 7. refusals never echo what was sent -------------------------------------------------------

async def test_refused_signals_never_echo_the_payload(client, servers, tmp_path):
    crm, vendor, _ = servers
    ir = _spec(tmp_path, crm, vendor)
    marker = "MARK" + unique("x")
    async with new_worker(client, ir) as worker:
        root, _ = await _user(client, ir, worker.task_queue, crm, "t-" + unique("t"))
        handle = client.get_workflow_handle(root)
        for name, arg in [("apiUrl", {"api": "crm", "url": f"http://{marker}.example/"}),
                          ("apiUrl", {"api": marker, "url": crm.url}),
                          ("update", {"entity": marker, "id": "1", "record": {}}),
                          ("update", {"entity": "User", "id": root.removeprefix("User-"), "record": {"name": 1, marker: marker}}),
                          ("delete", {"entity": "Invoice", "id": marker}),
                          (marker, {}),
                          ("apiToken", {"api": "crm", "token": marker})]:
            await handle.signal(name, arg)

        async def all_refused():
            st = await query(client, root, "state")
            assert len(st["errors"]) >= 7, st["errors"]
            return st

        st = await assert_eventually(all_refused)
        status = await query(client, root)
    assert marker not in json.dumps(st) and marker not in json.dumps(status)


async def test_a_cookie_an_api_sets_never_goes_out_with_another_request(http_api):
    # One httpx client serves every workflow of a worker, each with its own token: a session
    # cookie set in answer to one token must not ride along with another's requests.
    from runtime.routes import http_client

    http_api.set_entity("/users/a", {"id": "a"})
    http_api.set_entity("/users/b", {"id": "b"})
    http_api.set_headers("/users/a", {"Set-Cookie": "session=for-token-a; Path=/"})
    client = http_client()
    try:
        first = await client.get(f"{http_api.url}/users/a", headers={"Authorization": "Bearer a"})
        assert first.headers["set-cookie"].startswith("session=")
        await client.get(f"{http_api.url}/users/b", headers={"Authorization": "Bearer b"})
    finally:
        await client.aclose()
    [second] = http_api.requests_to("/users/b")
    assert not any(name.lower() == "cookie" for name in second.headers), second.headers
