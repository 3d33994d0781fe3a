"""Token rotation across 50 children: swfc's cascade vs one awaited signal at a time.

Prints, measured in one run on a real dev server and a real loopback API, the server-side
time from a parent receiving a token to the last of its N children receiving it:

  (a) swfc: `apiToken` signalled at a marketplace root with N listings; the root forwards
      it to all of them in one batch (runtime.delivery).
  (b) baseline: a workflow that forwards the same token to the same N children the way
      DESIGN.md §4 warns about, awaiting each external signal before the next.

and their ratio (a)/(b). Target: <= 0.25. Times come from the histories' event times, so
polling does not count. Usage: python bench/rotation_bench.py [--children 50]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from temporalio import workflow  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from cli.process import exit_process  # noqa: E402  (ends past the temporalio runtime's teardown)

from cli.devserver import find_temporal_binary  # noqa: E402
from compiler import compile_files  # noqa: E402
from runtime.ir import load  # noqa: E402
from runtime.roots import prepare_roots, start_roots  # noqa: E402
from runtime.sealing import deployment, fingerprint, seal  # noqa: E402
from runtime.worker import build_worker  # noqa: E402
from sample_api import SampleAPI  # noqa: E402

TARGET = 0.25


@workflow.defn(name="SequentialForwarder", sandboxed=False)  # trivial and deterministic; defined in a script
class SequentialForwarder:
    """The baseline: forward a token to each child, one awaited round trip at a time."""

    @workflow.run
    async def run(self, children: list[str], sealed: dict) -> None:
        for child in children:
            await workflow.get_external_workflow_handle(child).signal("apiToken", sealed)


def marketplace_spec(api: SampleAPI, directory: Path) -> Path:
    for spec in (REPO / "specs").glob("*.swf"):
        text = re.sub(r"(127\.0\.0\.1|localhost):8787", rf"\g<1>:{api.port}", spec.read_text())
        (directory / spec.name).write_text(text)
    return directory / "marketplace.swf"


async def signal_times(client: Client, workflow_id: str, token_fp: str) -> list:
    """Event times of the `apiToken` signals carrying the token with fingerprint `token_fp`."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    times = []
    for event in history.events:
        if event.HasField("workflow_execution_signaled_event_attributes"):
            attrs = event.workflow_execution_signaled_event_attributes
            if attrs.signal_name == "apiToken" and token_fp.encode() in attrs.input.SerializeToString():
                times.append(event.event_time.ToDatetime())
    return times


async def spread(client: Client, sent, children: list[str], token_fp: str) -> float:
    """Seconds from `sent` (the parent got the token) to the last child receiving it."""
    async def last_received(child: str):
        while not (times := await signal_times(client, child, token_fp)):
            await asyncio.sleep(0.05)
        return times[-1]

    received = await asyncio.gather(*(last_received(c) for c in children))
    return (max(received) - sent).total_seconds()


async def first_event_time(client: Client, workflow_id: str):
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return history.events[0].event_time.ToDatetime()


async def main(n: int) -> int:
    api = SampleAPI().start()
    uid = "bench-" + uuid.uuid4().hex[:8]
    listings = [f"l-{uid}-{i}" for i in range(n)]
    for lid in listings:
        api.set_entity(f"/listings/{lid}", {"id": lid, "title": lid, "price": 1, "owner": uid, "photos": []})
    api.set_entity(f"/users/{uid}", {"data": {"id": uid, "name": "B", "tags": [], "listings": listings}})
    with tempfile.TemporaryDirectory() as tmp:
        spec = marketplace_spec(api, Path(tmp))
        spec.write_text(spec.read_text().replace('deploy UserWorkflow "u1"', f'deploy UserWorkflow "{uid}"'))
        ir, _ = compile_files([str(spec)])
    assert ir is not None
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(find_temporal_binary()),
                                                dev_server_log_level="error")
    try:
        client, queue = env.client, "bench-" + uuid.uuid4().hex[:6]
        roots = prepare_roots(load(ir), {"CRM_TOKEN": "first"}, deployment=deployment("default", queue))
        children = [f"Listing-{lid}" for lid in listings]
        async with build_worker(client, ir, task_queue=queue), \
                Worker(client, task_queue=queue + "-baseline", workflows=[SequentialForwarder]):
            await start_roots(client, roots, queue, ir["hash"])
            await wait_loaded(client, [f"User-{uid}", *children])

            swfc_token = seal("crm", "second", deployment=deployment("default", queue))
            await client.get_workflow_handle(f"User-{uid}").signal("apiToken", swfc_token)
            received_at = (await signal_times(client, f"User-{uid}", fingerprint("second")))[-1]
            swfc_secs = await spread(client, received_at, children, fingerprint("second"))

            baseline_token = seal("crm", "third", deployment=deployment("default", queue))
            forwarder = f"forwarder-{uid}"
            handle = await client.start_workflow(
                SequentialForwarder.run, args=[children, baseline_token], id=forwarder,
                task_queue=queue + "-baseline",
            )
            await handle.result()
            started_at = await first_event_time(client, forwarder)
            baseline_secs = await spread(client, started_at, children, fingerprint("third"))
    finally:
        await env.shutdown()
        api.stop()
    ratio = swfc_secs / baseline_secs
    print(f"token rotation to {n} children: swfc {swfc_secs * 1000:.0f} ms, one awaited signal at a time "
          f"{baseline_secs * 1000:.0f} ms, ratio {ratio:.3f} (target <= {TARGET}) "
          f"{'PASS' if ratio <= TARGET else 'MISS'}")
    return 0 if ratio <= TARGET else 1


async def wait_loaded(client: Client, workflow_ids: list[str], timeout: float = 120) -> None:
    async def loaded(wid: str) -> bool:
        try:
            return (await client.get_workflow_handle(wid).query("status"))["loaded"]
        except Exception:  # noqa: BLE001 - not started yet
            return False

    async with asyncio.timeout(timeout):
        while not all(await asyncio.gather(*(loaded(w) for w in workflow_ids))):
            await asyncio.sleep(0.2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=50)
    sys.exit(exit_process(asyncio.run(main(parser.parse_args().children))))
