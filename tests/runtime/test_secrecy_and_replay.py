"""A token's plain text appears nowhere in Temporal (histories of every run, memo, search
attributes, query results) nor in logs; the histories of that run replay deterministically,
and so do the stored histories in tests/runtime/histories/ (recorded from an earlier
interpreter: a change that breaks their replay is a bug)."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from runtime import ir as ir_mod
from runtime import registry, search_attributes
from runtime.sealing import deployment, seal
from runtime.queries import QUERIES
from runtime.workflow import StatefulWorkflow
from tests.helpers import assert_eventually, decoded_payloads, new_worker, unique
from tests.runtime.irs import listing, marketplace_ir, put_user
from tests.runtime.util import query, start_root, tree

HISTORIES = Path(__file__).parent / "histories"
HISTORIES_GEN3 = Path(__file__).parent / "histories_gen3"
HISTORIES_GEN4 = Path(__file__).parent / "histories_gen4"


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


async def _all_runs(client: Client, wid: str) -> list[WorkflowHistory]:
    histories = []
    async for execution in client.list_workflows(f"WorkflowId = '{wid}'"):
        histories.append(await client.get_workflow_handle(wid, run_id=execution.run_id).fetch_history())
    return histories


async def test_no_token_in_histories_memo_search_attributes_queries_or_logs(client, http_api, caplog):
    caplog.set_level(logging.DEBUG)
    first, second = "first-" + unique("secret"), "second-" + unique("secret")
    secrets = [first, second, base64.b64encode(first.encode()).decode(), base64.b64encode(second.encode()).decode()]
    http_api.require_auth("/", first, second)
    uid = unique("u")
    listings = [listing(unique("l"), uid, photos=1) for _ in range(2)]
    put_user(http_api, uid, listings)
    ir = marketplace_ir(http_api, retry=(2, 50, 100))
    root = f"User-{uid}"
    assert await search_attributes.ensure_registered(client) is None
    attributes = search_attributes.typed(search_attributes.for_root(root, "marketplace"))
    async with new_worker(client, ir) as worker:
        handle = await start_root(client, ir, worker.task_queue, uid, first, history_limit=30,
                                  search_attributes=attributes)

        async def loaded():
            t = await tree(client, root)
            assert len(t) == 5 and all(s["loaded"] for s in t.values())
            return t

        await assert_eventually(loaded)
        # the error paths: a refused token, a 500, a rotation that cascades
        http_api.unauthorized(f"/listings/{listings[0]['id']}")
        await client.get_workflow_handle(f"Listing-{listings[0]['id']}").signal("update", {})
        http_api.fail(f"/users/{uid}", times=None)
        await handle.signal("update", {})
        await assert_eventually(lambda: _status(client, root, "error"))
        http_api.clear_faults()
        await handle.signal("apiToken", seal("crm", second, deployment=deployment("default", worker.task_queue)))
        t = await assert_eventually(loaded)
        answers = [await query(client, w, q) for w in t for q in QUERIES]

    async def every_run():
        hs = [h for w in t for h in await _all_runs(client, w)]
        assert len(hs) > len(t)  # the root continued as new at least once (visibility lags)
        return hs

    histories = await assert_eventually(every_run)

    for h in histories:
        text = h.to_json()
        assert not _leaks(text, secrets), h.workflow_id
        assert not _leaks(b"\n".join(decoded_payloads(json.loads(text))).decode("utf-8", "replace"), secrets), h.workflow_id
    for w in t:
        desc = await client.get_workflow_handle(w).describe()
        memo = await desc.memo()
        assert {k: memo[k] for k in ("entity", "id")} == dict(zip(("entity", "id"), w.split("-", 1)))
        assert set(memo) <= {"entity", "id", "started_by"}
        found = {k.name: v for k, v in ((p.key, p.value) for p in desc.typed_search_attributes)}
        assert (found["SwfcRoot"], found["SwfcSpec"], found["SwfcStatus"]) == (root, "marketplace", "running")
        assert not _leaks(repr(await desc.memo()) + repr(desc.typed_search_attributes) + repr(desc.raw_description), secrets)
    assert not _leaks(json.dumps(answers), secrets)
    assert not _leaks(caplog.text, secrets)
    assert not _leaks(json.dumps(ir), secrets)

    # the same histories replay against the current interpreter
    result = await Replayer(workflows=[StatefulWorkflow]).replay_workflows(_each(histories), raise_on_replay_failure=False)
    failures = {k: v for k, v in result.replay_failures.items() if v is not None}
    assert not failures, failures
    if os.environ.get("SWFC_RECORD_HISTORIES"):
        _record(ir, histories)


async def _each(items):
    for item in items:
        yield item


async def _status(client, wid: str, status: str) -> None:
    assert (await query(client, wid))["status"] == status


def _record(ir: dict, histories: list[WorkflowHistory]) -> None:
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / "ir.json").write_text(json.dumps(ir, indent=1, sort_keys=True) + "\n")
    for i, h in enumerate(histories):
        (HISTORIES / f"{i:03d}-{h.workflow_id}.json").write_text(h.to_json())


@pytest.mark.parametrize("stored", [HISTORIES, HISTORIES_GEN3, HISTORIES_GEN4],
                         ids=["generation-1", "generation-3", "generation-4"])
async def test_stored_histories_replay(stored: Path):
    # `histories_gen3`: a subscribed parent of 12 (history limit 20) winding down and
    # continuing as new, with its children, recorded under runtime generation 3;
    # `histories_gen4`: the same under generation 4, deployed (no patch markers).
    files = sorted(stored.glob("*-*.json"))
    # They are in the repo: none found means they were lost, not that all is well
    # (SWFC_RECORD_HISTORIES=1 pytest ... records the first set again).
    assert files and (stored / "ir.json").is_file(), f"no stored histories in {stored}"
    registry.register(ir_mod.load(json.loads((stored / "ir.json").read_text())))
    histories = [WorkflowHistory.from_json(f.stem.split("-", 1)[1], f.read_text()) for f in files]
    replayer = Replayer(workflows=[StatefulWorkflow])
    for history in histories:
        await replayer.replay_workflow(history)  # raises on any nondeterminism
