"""What replaying a big parent's history costs a worker (after an eviction), on a real server.

`bench/big_parent.py`'s parent (N members' 2 KB records, every child subscribed to) is
started on a Temporal dev server with that state carried in its input (External Storage in
a temporary directory carries it; the children need not run: the parent hears from them
only by signal), then sent U `update` signals, one per member, as its children send them
after each load. The history of its first run (the whole run, if the updates make it continue
as new) is then replayed by `temporalio.worker.Replayer`, as a worker does when a task of the
parent was refused (`UnhandledCommand` at continue-as-new) and the run was evicted. Prints
the run's events, its failed and timed-out workflow tasks, and the replay's seconds:

  (a) now: a round after `update`s plans only the children whose records they merged;
  (b) before: every round plans every child (`runtime.children` with its shortcut off: the
      same commands, so the same history replays);

and the ratio (b)/(a). A replay must fit in one workflow task (10 s by default), under load.

Usage: python bench/big_parent_replay.py [--members 10000] [--updates 1000] [--record-bytes 2048]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client, WorkflowHandle  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Replayer  # noqa: E402

from cli.process import exit_process  # noqa: E402  (ends past the temporalio runtime's teardown)

from big_parent import SPEC, loaded_parent, member  # noqa: E402  (this directory)
from cli.devserver import find_temporal_binary  # noqa: E402
from compiler import compile_sources  # noqa: E402
from runtime import children  # noqa: E402
from runtime import ir as ir_mod  # noqa: E402
from runtime.temporal_client import connect  # noqa: E402
from runtime.worker import build_worker  # noqa: E402
from runtime.workflow import StatefulWorkflow  # noqa: E402

SIGNALS_AT_ONCE = 2  # a few at a time: most arrive in a workflow task of their own, as children's do


async def started_parent(client: Client, doc: dict, task_queue: str, members: int, record_bytes: int) -> WorkflowHandle:
    state = loaded_parent(ir_mod.load(doc), members, record_bytes).state
    state.workflow_id = f"Group-{uuid.uuid4().hex[:8]}"
    return await client.start_workflow("GroupWorkflow", {"ir_hash": doc["hash"], "entity_id": state.entity_id,
                                                         "carried": state.to_dict()},
                                       id=state.workflow_id, task_queue=task_queue)


async def send_updates(handle: WorkflowHandle, members: int, updates: int, record_bytes: int) -> None:
    """One changed record from each of `updates` members, as their workflows send it."""
    for first in range(0, updates, SIGNALS_AT_ONCE):
        await asyncio.gather(*(
            handle.signal("update", {"entity": "Member", "id": f"m{i % members}", "from": f"Member-m{i % members}",
                                     "record": member(i % members, record_bytes, version=1)})
            for i in range(first, min(first + SIGNALS_AT_ONCE, updates))))


async def settled_first_run(client: Client, handle: WorkflowHandle):
    """The history of the parent's first run once the parent has applied every signal (no
    new event for a second): the longest run a worker may have to replay (it continues as
    new at 5,000 events or at the server's suggestion, about 4 MB of history)."""
    length = -1
    while True:
        latest = await handle.fetch_history()
        if len(latest.events) == length:
            break
        length = len(latest.events)
        await asyncio.sleep(1.0)
    return await client.get_workflow_handle(handle.id, run_id=handle.result_run_id).fetch_history()


def task_troubles(history) -> str:
    """The run's failed and timed-out workflow tasks, and how it ended."""
    kinds = [event.event_type for event in history.events]
    ended = ("continued as new" if kinds[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
             else "did not end")
    return (f"{kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)} failed and "
            f"{kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)} timed-out workflow tasks, {ended}")


async def replay_seconds(client: Client, history) -> float:
    start = time.perf_counter()
    await Replayer(workflows=[StatefulWorkflow], data_converter=client.data_converter).replay_workflow(history)
    return time.perf_counter() - start


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=10000)
    p.add_argument("--updates", type=int, default=1000)
    p.add_argument("--record-bytes", type=int, default=2048)
    args = p.parse_args()
    doc, diags = compile_sources({"bench.swf": SPEC}, ["bench.swf"])
    if doc is None:
        sys.exit(f"the bench spec does not compile: {diags[:3]}")
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(find_temporal_binary()),
                                                dev_server_log_level="error")
    try:
        with tempfile.TemporaryDirectory(prefix="swfc-replay-") as store:
            client = await connect(env.client.service_client.config.target_host, payload_store=store)
            task_queue = f"replay-{uuid.uuid4().hex[:8]}"
            async with build_worker(client, doc, task_queue=task_queue, seal_key=os.urandom(32)):  # no token here
                handle = await started_parent(client, doc, task_queue, args.members, args.record_bytes)
                await send_updates(handle, args.members, args.updates, args.record_bytes)
                history = await settled_first_run(client, handle)
                await handle.terminate()
            now = await replay_seconds(client, history)
            shortcut = children._updated_children
            children._updated_children = lambda ctx: None  # (b): every round plans in full
            try:
                before = await replay_seconds(client, history)
            finally:
                children._updated_children = shortcut
    finally:
        await env.shutdown()
    print(f"parent of {args.members:,} members ({args.record_bytes} B records), {args.updates:,} updates: "
          f"first run of {len(history.events):,} events, {task_troubles(history)}")
    print(f"(a) now:    replay {now:6.2f} s")
    print(f"(b) before: replay {before:6.2f} s")
    print(f"ratio (b)/(a): {before / now:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(exit_process(asyncio.run(main())))
