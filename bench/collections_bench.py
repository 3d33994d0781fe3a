"""Collections: what one refresh of a 1 + N hierarchy costs, in requests and history events.

Measured in one run on a real dev server and a real loopback API, for a parent with N
children listed over N / PAGE pages (default 1 + 1,000 over 10 pages of 100):

  (a) collection, all 200: `child items -> W { from api get "/parents/{id}/items" paginate
      page ... }`; a refresh re-lists every page, the API answers each in full; the items
      are unchanged, so no child hears of it.
  (b) collection, all 304: the same, the API answering every page `304 Not Modified`
      (the worker sends the ETag it got for each page URL; the parent's own record is
      answered in full).
  (c) one request per child: the v1 way, the parent's record lists the ids and every child
      loads its own record (`source api get "/items/{id}"`); a refresh reloads all of them.

For each: the requests the API saw, and the history events and history bytes added to all
workflows during one refresh cycle (a parent's `update {}` for (a) and (b); `update {}` to the parent and
every child for (c)), after the first load has settled; and the ratios to (c).
Usage: python bench/collections_bench.py [--children 1000] [--page 100]
"""

from __future__ import annotations

import os
import sys

# This file's name is the issue's; run as a script, its folder comes first on sys.path and
# the name would shadow the standard library's `collections` for everything imported below.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from temporalio.client import Client  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from cli.process import exit_process  # noqa: E402  (ends past the temporalio runtime's teardown)

from cli.devserver import find_temporal_binary  # noqa: E402
from compiler import compile_files  # noqa: E402
from runtime.worker import build_worker  # noqa: E402
from sample_api import SampleAPI  # noqa: E402
from tests.helpers import gather_bounded  # noqa: E402

API = """
api items {{
  base "{base}"
}}

entity Parent {{
  id    string
  name  string
  items [Item]
}}

entity Item {{
  id    string
  title string
  size  integer
}}
"""

COLLECTION = API + """
workflow ParentWorkflow manages Parent {{
  source items get "/parents/{{id}}"
  child items -> ItemWorkflow {{
    from items get "/parents/{{id}}/items"
    paginate page "page" size "per_page" {page}
    autostart
  }}
}}

workflow ItemWorkflow manages Item {{
  source items get "/items/{{id}}"
}}
"""

PER_CHILD = API + """
workflow ParentWorkflow manages Parent {{
  source items get "/parents/{{id}}"
  child items -> ItemWorkflow {{ autostart }}
}}

workflow ItemWorkflow manages Item {{
  source items get "/items/{{id}}"
}}
"""


def compile_text(text: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.swf"
        path.write_text(text)
        ir, diags = compile_files([str(path)])
    assert ir is not None, diags
    return ir


async def history(client: Client, wid: str) -> tuple[int, int]:
    """(events, bytes) of a workflow's history."""
    info = (await client.get_workflow_handle(wid).describe()).raw_description.workflow_execution_info
    return info.history_length, info.history_size_bytes


async def totals(client: Client, wids: list[str]) -> tuple[int, int]:
    sizes = await gather_bounded((history(client, w) for w in wids), limit=32)
    return sum(e for e, _ in sizes), sum(b for _, b in sizes)


async def settled(client: Client, wids: list[str], api: SampleAPI, timeout: float = 600) -> None:
    """Every workflow loaded, then no request and no history event for 2 s."""
    async def loaded(wid: str) -> bool:
        try:
            return (await client.get_workflow_handle(wid).query("status"))["loaded"]
        except Exception:  # noqa: BLE001 - not started yet
            return False

    deadline = time.monotonic() + timeout
    while not all(await gather_bounded((loaded(w) for w in wids), limit=32)):
        if time.monotonic() > deadline:
            raise TimeoutError("the hierarchy did not load")
        await asyncio.sleep(0.5)
    last: tuple = ()
    while True:
        now = (len(api.log()), await totals(client, wids))
        if now == last:
            return
        last = now
        await asyncio.sleep(2)


async def measure(client: Client, api: SampleAPI, ir: dict, parent: str, children: list[str],
                  signal_children: bool) -> tuple[int, int, int]:
    """(requests, history events, history bytes) of one refresh cycle of a settled hierarchy."""
    wids = [f"Parent-{parent}", *children]
    # The SDK caches 1,000 runs by default: a 1 + 1,000 hierarchy would evict its parent in
    # the middle of its first round, over and over (helper `scale` raises the worker's default).
    async with build_worker(client, ir, task_queue=f"bench-{uuid.uuid4().hex[:6]}",
                            max_cached_workflows=4 * len(wids), seal_key=os.urandom(32)) as worker:
        await client.start_workflow("ParentWorkflow", {"ir_hash": ir["hash"], "entity_id": parent, "data": None,
                                                       "tokens": {}, "api_bases": {}, "ancestors": [], "subscribers": [],
                                                       "carried": None},
                                    id=f"Parent-{parent}", task_queue=worker.task_queue)
        await settled(client, wids, api)
        requests, (events, size) = len(api.log()), await totals(client, wids)
        targets = wids if signal_children else wids[:1]
        await asyncio.gather(*(client.get_workflow_handle(w).signal("update", {}) for w in targets))
        await settled(client, wids, api)
        events_after, size_after = await totals(client, wids)
        return len(api.log()) - requests, events_after - events, size_after - size


def serve(api: SampleAPI, parent: str, n: int, page: int, *, listed: bool, etag: bool = False) -> list[str]:
    ids = [f"{parent}-{i}" for i in range(n)]
    items = [{"id": i, "title": f"item {i}", "size": 3, "extra": "x" * 200} for i in ids]
    api.set_entity(f"/parents/{parent}", {"id": parent, "name": parent, **({} if listed else {"items": ids})})
    # validators on: unchanged pages answer 304 to a conditional request; off: every answer is a 200
    api.validators = {"etag", "last-modified"} if etag else set()
    api.set_list(f"/parents/{parent}/items", items, style="page", page_size=page)
    for item in items:
        api.set_entity(f"/items/{item['id']}", item)
    return [f"Item-{i}" for i in ids]


async def main(n: int, page: int) -> int:
    api = SampleAPI().start()
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(find_temporal_binary()),
                                                dev_server_log_level="error")
    rows = []
    print(f"one refresh cycle of 1 + {n} over {-(-n // page)} pages of {page}:", flush=True)
    print(f"{'':28} {'requests':>9} {'events':>9} {'history KB':>11}", flush=True)
    try:
        client = env.client
        collection = compile_text(COLLECTION.format(base=api.url, page=page))
        per_child = compile_text(PER_CHILD.format(base=api.url))
        for name, ir, listed, etag in (("(a) collection, all 200", collection, True, False),
                                       ("(b) collection, all 304", collection, True, True),
                                       ("(c) one request per child", per_child, False, False)):
            parent = uuid.uuid4().hex[:8]
            children = serve(api, parent, n, page, listed=listed, etag=etag)
            row = (name, *await measure(client, api, ir, parent, children, not listed))
            print(f"{name:28} {row[1]:9d} {row[2]:9d} {row[3] / 1024:11.1f}", flush=True)
            rows.append(row)
    finally:
        await env.shutdown()
        api.stop()
    _, base_requests, base_events, base_bytes = rows[-1]
    print("against (c):", flush=True)
    for name, requests, events, size in rows[:-1]:
        print(f"{name:28} requests {requests / base_requests:.3f}, events {events / base_events:.3f}, "
              f"history bytes {size / base_bytes:.3f}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--page", type=int, default=100)
    args = parser.parse_args()
    sys.exit(exit_process(asyncio.run(main(args.children, args.page))))
