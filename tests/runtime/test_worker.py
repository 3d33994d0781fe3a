"""Workers: two processes share one task queue; a registration a worker lacks fails the
task, not the workflow; `every` reloads on the workflow clock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from temporalio.client import WorkflowExecutionStatus

from tests.helpers import REPO, assert_eventually, new_worker, stop_process, swfc_env, unique
from tests.runtime.irs import listing, marketplace_ir, put_user
from tests.runtime.util import start_root, tree, try_query

_WORKER = textwrap.dedent("""
    import asyncio, json, sys
    from temporalio.client import Client
    from runtime.worker import run_worker

    async def main():
        client = await Client.connect(sys.argv[1])
        print("ready", flush=True)
        await run_worker(client, json.load(open(sys.argv[2])), sys.argv[3])

    asyncio.run(main())
""")


async def _identities(client, wids: list[str]) -> set[str]:
    out: set[str] = set()
    for w in wids:
        history = await client.get_workflow_handle(w).fetch_history()
        for e in history.events:
            if e.HasField("workflow_task_started_event_attributes"):
                out.add(e.workflow_task_started_event_attributes.identity)
            if e.HasField("activity_task_started_event_attributes"):
                out.add(e.activity_task_started_event_attributes.identity)
    return out


async def test_two_worker_processes_share_one_task_queue(client, http_api, tmp_path, temporal_address):
    uid = unique("u")
    put_user(http_api, uid, [listing(unique("l"), uid, photos=2) for _ in range(6)])
    ir = marketplace_ir(http_api)
    (tmp_path / "ir.json").write_text(json.dumps(ir))
    queue = unique("tq")
    proc = subprocess.Popen([sys.executable, "-c", _WORKER, temporal_address, str(tmp_path / "ir.json"), queue],
                            env=swfc_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        async with new_worker(client, ir, task_queue=queue):
            await start_root(client, ir, queue, uid, "t")

            async def loaded():
                t = await tree(client, f"User-{uid}")
                assert len(t) == 1 + 6 + 12 and all(s["loaded"] for s in t.values())
                return t

            t = await assert_eventually(loaded, timeout=30)
            identities = await _identities(client, sorted(t))
    finally:
        stop_process(proc)
    assert len(identities) >= 2, identities


async def test_a_registration_the_worker_lacks_fails_the_task_not_the_workflow(client, http_api):
    uid = unique("u")
    put_user(http_api, uid, [])
    held, other = marketplace_ir(http_api), marketplace_ir(http_api, timeout_ms=4000)
    assert held["hash"] != other["hash"]
    queue = unique("tq")
    root = f"User-{uid}"
    async with new_worker(client, held, task_queue=queue):
        handle = await start_root(client, other, queue, uid, "t")

        async def task_retried():
            desc = await handle.describe()
            assert desc.status == WorkflowExecutionStatus.RUNNING
            assert desc.raw_description.pending_workflow_task.attempt >= 2

        await assert_eventually(task_retried)
    # a worker that holds the registration picks the same workflow up
    async with new_worker(client, other, task_queue=queue):
        async def loaded():
            assert ((await try_query(client, root)) or {}).get("loaded")

        await assert_eventually(loaded, timeout=30)


async def test_every_reloads_on_the_workflow_clock(client, http_api):
    uid = unique("u")
    put_user(http_api, uid, [])
    ir = marketplace_ir(http_api, every_ms=300)
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        await assert_eventually(lambda: len(http_api.requests_to(f"/users/{uid}")) >= 3)


async def test_a_worker_keeps_serving_earlier_registrations(client, http_api):
    uid = unique("u")
    put_user(http_api, uid, [])
    old, new = marketplace_ir(http_api, timeout_ms=4100), marketplace_ir(http_api, timeout_ms=4200)
    queue = unique("tq")
    async with new_worker(client, new, task_queue=queue, also=[old]):
        await start_root(client, old, queue, uid, "t")

        async def loaded():
            assert ((await try_query(client, f"User-{uid}")) or {}).get("loaded")

        await assert_eventually(loaded)


async def test_a_worker_leaves_open_the_http_client_it_was_lent(client, http_api):
    import httpx

    async with httpx.AsyncClient() as lent:
        async with new_worker(client, marketplace_ir(http_api), http=lent):
            pass
        assert not lent.is_closed
        async with new_worker(client, marketplace_ir(http_api)) as worker:
            own = worker._owned_http
        assert own is not None and own.is_closed
