"""A hierarchy unlike the examples: integer and non-`id` keys, a nested `select`, a
one-to-one child, a middle workflow without a source (its data comes from its parent),
two APIs with different auth, and a `token none` leaf. Each workflow holds exactly the
tokens below it, and each API only ever sees its own credential."""

from __future__ import annotations

import os
import uuid

from runtime.ir import load
from runtime.roots import prepare_roots, start_roots
from runtime.sealing import deployment, fingerprint
from tests.helpers import assert_eventually, compile_text, new_worker, unique
from tests.runtime.util import tree

SPEC = """
api inv { base "{url}" auth header "X-Inv-Key" }
api cat { base "{url}" auth bearer retry 2 times backoff 100ms .. 200ms }

entity Warehouse { code integer key  name string  bins [Bin]  manager Person? }
entity Bin       { id integer  label string  product Product }
entity Product   { sku string key  title string }
entity Person    { id string  name string }

workflow WarehouseWorkflow manages Warehouse {
  source inv get "/wh/{code}"
  select "payload.item"
  child bins -> BinWorkflow { autostart cancel on delete }
  child manager -> PersonWorkflow { autostart }
}
workflow BinWorkflow manages Bin {
  child product -> ProductWorkflow { autostart subscribe update "title" }
}
workflow ProductWorkflow manages Product { source cat get "/products/{sku}" }
workflow PersonWorkflow manages Person { token none }

deploy WarehouseWorkflow "{code}" {
  token inv from env "INV_KEY"
  token cat from env "CAT_TOKEN"
}
"""


async def test_integer_keys_nested_select_one_to_one_and_two_apis(client, http_api, tmp_path):
    code, sku, person = _unique_code(), unique("sku"), unique("p")
    inv_key, cat_token = unique("invkey"), unique("cattok")
    http_api.set_entity(f"/wh/{code}", {"payload": {"item": {
        "code": code, "name": "North", "manager": {"id": person, "name": "Pat"},
        "bins": [{"id": 1, "label": "A1", "product": sku}, {"id": 2, "label": "A2", "product": sku}],
    }}})
    http_api.set_entity(f"/products/{sku}", {"sku": sku, "title": "Widget"})
    http_api.require_auth("/wh/", inv_key, header="X-Inv-Key")
    http_api.require_auth("/products/", cat_token)
    ir = compile_text(SPEC.replace("{url}", http_api.url).replace("{code}", str(code)), tmp_path)
    root = f"Warehouse-{code}"

    async with new_worker(client, ir) as worker:
        roots = prepare_roots(load(ir), {**os.environ, "INV_KEY": inv_key, "CAT_TOKEN": cat_token},
                              deployment=deployment("default", worker.task_queue))
        await start_roots(client, roots, worker.task_queue, ir["hash"])

        async def settled():
            t = await tree(client, root)
            assert set(t) == {root, "Bin-1", "Bin-2", f"Product-{sku}", f"Person-{person}"}, sorted(t)
            assert all(s["loaded"] and s["last_error"] is None for s in t.values()), t
            return t

        statuses = await assert_eventually(settled, timeout=45)

    inv, cat = fingerprint(inv_key), fingerprint(cat_token)
    assert statuses[root]["tokens"] == {"inv": inv, "cat": cat}
    assert statuses["Bin-1"]["tokens"] == {"inv": None, "cat": cat}  # passes `cat` down, never `inv`
    assert statuses[f"Product-{sku}"]["tokens"] == {"inv": None, "cat": cat}
    assert statuses[f"Person-{person}"]["tokens"] == {"inv": None, "cat": None}
    # The product is shared by both bins: one workflow, attached to by the second parent.
    assert statuses["Bin-1"]["children"] == statuses["Bin-2"]["children"] == [f"Product-{sku}"]
    for request in http_api.log():
        own, other = (inv_key, cat_token) if request.path.startswith("/wh/") else (f"Bearer {cat_token}", inv_key)
        assert request.auth == own, (request.path, request.auth)
        assert other not in str(request.headers), request.path



async def test_api_queries_answer_one_api_by_name_and_every_api_without(client, http_api, tmp_path):
    """`apiToken`/`apiUrl` with an api name answer for that api; without one, a spec with
    several apis gets one entry per api (a spec with a single api gets the bare value)."""
    code, key, token = _unique_code(), unique("invkey"), unique("cattok")
    http_api.set_entity(f"/wh/{code}", {"payload": {"item": {"code": code, "name": "N", "bins": []}}})
    http_api.require_auth("/wh/", key, header="X-Inv-Key")
    ir = compile_text(SPEC.replace("{url}", http_api.url).replace("{code}", str(code)), tmp_path)
    async with new_worker(client, ir) as worker:
        roots = prepare_roots(load(ir), {**os.environ, "INV_KEY": key, "CAT_TOKEN": token},
                              deployment=deployment("default", worker.task_queue))
        await start_roots(client, roots, worker.task_queue, ir["hash"])
        handle = client.get_workflow_handle(f"Warehouse-{code}")

        async def answered():
            assert await handle.query("apiToken", "inv") == fingerprint(key)
            assert await handle.query("apiToken") == {"cat": fingerprint(token), "inv": fingerprint(key)}
            assert await handle.query("apiUrl", "cat") == http_api.url
            assert await handle.query("apiUrl") == {"cat": http_api.url, "inv": http_api.url}

        await assert_eventually(answered)


def _unique_code() -> int:
    """An integer key no other test uses (workflow ids are global on the shared server)."""
    return int(uuid.uuid4().hex[:12], 16)
