"""The example specs, compiled by the real compiler, run end to end against the sample API's
demo data: every workflow of each hierarchy loads, and each holds exactly the tokens the
compiler routed to it. Each spec runs in its own fresh namespace, so the demo data's fixed
ids (`User-u1`, `Listing-l1`, …) cannot meet another test's workflows."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client

from runtime.sealing import deployment as sealed_for, fingerprint, seal
from tests.conftest import MARKETPLACE_TOKEN
from tests.helpers import assert_eventually, compile_spec, copy_specs, new_worker
from tests.runtime.util import tree

DEMO_TOKENS = {"CRM_TOKEN": MARKETPLACE_TOKEN, "DESK_TOKEN": "demo-desk-token",
               "NOTES_API_KEY": "demo-notes-key", "CI_TOKEN": "demo-ci-token"}


async def _fresh_namespace(client: Client) -> Client:
    name = "swfc-" + uuid.uuid4().hex[:8]
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=Duration(seconds=86400)))
    return await Client.connect(client.service_client.config.target_host, namespace=name)


@pytest.mark.parametrize("spec, expect", [
    ("marketplace.swf", {"User": {"crm"}, "Listing": {"crm"}, "Photo": set()}),
    ("support_desk.swf", {"Organisation": {"desk", "notes"}, "Ticket": {"desk", "notes"}, "Comment": {"notes"}}),
    ("build_system.swf", {"Repository": {"ci"}, "Build": {"ci"}, "Job": {"ci"}, "Artifact": set()}),
])
async def test_example_spec_runs_with_least_privilege(client, marketplace_api, tmp_path, spec, expect):
    ir = compile_spec(copy_specs(tmp_path, marketplace_api) / spec)
    ns_client = await _fresh_namespace(client)
    deployment = ir["deployments"][0]
    tokens = {api: DEMO_TOKENS[ref["env"]] for api, ref in deployment["tokens"].items()}
    async with new_worker(ns_client, ir) as worker:
        await ns_client.start_workflow(deployment["workflow"], {
            "ir_hash": ir["hash"],
            "entity_id": deployment["id"],
            "tokens": {api: seal(api, t, deployment=sealed_for(ns_client.namespace, worker.task_queue))
                       for api, t in tokens.items()},
            "api_bases": {name: api["base"] for name, api in ir["apis"].items()},
        }, id=deployment["workflow_id"], task_queue=worker.task_queue)

        async def all_loaded():
            t = await tree(ns_client, deployment["workflow_id"])
            assert {s["entity"] for s in t.values()} == set(expect)
            assert all(s["loaded"] for s in t.values()), {w: (s["status"], s["last_error"]) for w, s in t.items()}
            return t

        t = await assert_eventually(all_loaded, timeout=30)
        states = {w: await ns_client.get_workflow_handle(w).query("state") for w in t}
    assert {w: st["errors"] for w, st in states.items() if st["errors"]} == {}
    for wid, st in t.items():
        held = {api for api, fp in st["tokens"].items() if fp}
        assert held == expect[st["entity"]], wid
        assert all(st["tokens"][api] == fingerprint(tokens[api]) for api in held), wid
    # the API saw each credential only on its own paths, and never a token on public ones
    for r in marketplace_api.log():
        assert r.status == 200, r
        if r.path.startswith("/ci/artifacts/"):
            assert not any(v in DEMO_TOKENS.values() for v in r.headers.values())
