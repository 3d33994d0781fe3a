"""`rate N/s` on an api holds across every worker (DESIGN.md §6): two worker processes on one
task queue share one api's rate, counted where it matters, at the loopback API's door."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.helpers import REPO, assert_eventually as eventually, compile_text, new_worker, swfc_env, unique
from tests.runtime.test_collections import SPEC, all_children_loaded, github_issue, put_repo, start_repo
from tests.runtime.irs import listing, marketplace_ir, put_user, rehash
from tests.runtime.util import start_root, try_query

# A second worker process, as `swfc worker` on another machine would be: same IR, same
# task queue, same seal key (inherited from the test run's environment).
WORKER = """
import asyncio, json, sys
from temporalio.client import Client
from runtime.worker import build_worker

async def main():
    client = await Client.connect(sys.argv[1])
    worker = build_worker(client, json.loads(open(sys.argv[2]).read()), sys.argv[3])
    async with worker:
        print("polling", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


# The server keeps a task queue's rate per partition (4 by default), each with a burst of at
# least one task: at a rate below the partition count, up to 4 tasks may go at once.
BURST = 4
JITTER_S = 0.5  # between a task leaving the server and its request reaching the API, under load


@asynccontextmanager
async def two_workers(client, ir: dict, address: str, tmp_path, processes) -> AsyncIterator[str]:
    """This test's worker and a worker process of its own on one fresh task queue (yielded)."""
    queue = unique("tq")
    (tmp_path / "ir.json").write_text(json.dumps(ir))
    log = tmp_path / "worker.log"
    with open(log, "w") as sink:
        processes.append(subprocess.Popen([sys.executable, "-c", WORKER, address, str(tmp_path / "ir.json"), queue],
                                          env=swfc_env(), cwd=REPO, stdout=sink, stderr=subprocess.STDOUT,
                                          text=True, start_new_session=True))
    await eventually(lambda: "polling" in log.read_text(), timeout=60)
    async with new_worker(client, ir, task_queue=queue):
        yield queue


async def started_by(client, workflow_ids: list[str]) -> set[str]:
    """The identities of the workers that ran the activities of these workflows."""
    workers: set[str] = set()
    for wid in workflow_ids:
        events = (await client.get_workflow_handle(wid).fetch_history()).to_json_dict()["events"]
        workers |= {e["activityTaskStartedEventAttributes"]["identity"] for e in events
                    if "activityTaskStartedEventAttributes" in e}
    return workers


def assert_within_rate(arrivals: list[float], per_s: float) -> None:
    """No stretch of the arrivals holds more requests than `per_s` allows, with the server's
    burst and the jitter between a task's dispatch and its request's arrival."""
    arrivals = sorted(arrivals)
    for i, first in enumerate(arrivals):
        for j in range(i + 1, len(arrivals)):
            allowed = BURST + per_s * (arrivals[j] - first + JITTER_S)
            assert j - i + 1 <= allowed, f"{j - i + 1} requests in {arrivals[j] - first:.2f} s: {arrivals}"


async def test_two_workers_on_one_task_queue_share_one_api_rate(client, http_api, temporal_address, tmp_path, processes):
    uid = unique("u")
    listings = [listing(unique("l"), uid, photos=0) for _ in range(16)]
    put_user(http_api, uid, listings)
    ir = marketplace_ir(http_api)
    ir["apis"]["crm"]["rate"] = {"requests": 2, "per_ms": 1000}
    rehash(ir)
    children = [f"Listing-{x['id']}" for x in listings]
    async with two_workers(client, ir, temporal_address, tmp_path, processes) as queue:
        await start_root(client, ir, queue, uid, "t")

        async def all_loaded():
            answers = [await try_query(client, wid) for wid in children]
            assert all(a is not None and a["loaded"] for a in answers), answers
        await eventually(all_loaded, timeout=60)
        workers = await started_by(client, [f"User-{uid}", *children])
    assert len(workers) == 2, workers  # both workers sent requests
    arrivals = [r.at for r in http_api.log()]
    assert len(arrivals) == 17, [(r.path, r.status) for r in http_api.log()]
    assert_within_rate(arrivals, 2)  # two workers at 2/s each would take half the time


async def test_a_collection_on_a_rate_limited_api_lists_its_pages_at_that_rate(client, http_api, temporal_address, tmp_path, processes):
    repo = f"octo/{unique('r')}"
    issues = [github_issue(http_api, repo, n) for n in range(1, 31)]
    put_repo(http_api, repo, issues, style="link", page_size=3)  # 10 pages
    text = SPEC.replace("BASE", http_api.url).replace("ORIGIN", http_api.origin).replace("PAGINATE", "paginate link")
    ir = compile_text(text.replace("auth  bearer", "auth  bearer\n  rate  2/s"), tmp_path)
    async with two_workers(client, ir, temporal_address, tmp_path, processes) as queue:
        await start_repo(client, ir, queue, repo)
        await all_children_loaded(client, f"Repo-{repo}", 30)
    pages = http_api.requests_to(f"/repos/{repo}/issues")
    assert len(pages) == 10 and http_api.requests_to(f"/repos/{repo}/issues/*") == []
    assert_within_rate([r.at for r in http_api.log()], 2)
