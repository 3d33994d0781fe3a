"""The worker: registers an IR and runs the interpreter and the HTTP activity.

Stage: the last step of `swfc deploy`/`swfc worker`. Takes a Temporal client and an IR
document (already schema-validated by the caller); gives a `temporalio.worker.Worker`
polling `task_queue`. Any number of worker processes built from the same IR (and the same
seal key) can share one task queue.
"""

from __future__ import annotations

import asyncio
import gc
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from rules.names import DEFAULT_TASK_QUEUE
from rules.proxies import ProxyChoice
from runtime import ir as ir_mod
from runtime import registry
from runtime.activities import LoadActivities
from runtime.carried import defers_encoding, with_carried_parsed
from runtime.delivery import deliver_effects
from runtime.routes import Routes, http_client
from runtime.sealing import load_key
from runtime.workflow import StatefulWorkflow
MAX_CACHED_WORKFLOWS = 12_000  # a 1 + 10,000 hierarchy and room (DESIGN.md §7)
# The cyclic garbage collector's thresholds in a process that runs a worker (CPython's: 700,
# 10, 10). A worker caching 10,000 workflows holds millions of objects, and a full collection
# walks them all (~1 s) to free next to nothing: with CPython's thresholds, one every few
# seconds late in a 1 + 10,000 load (18 s of its 270 s), and a parent's task that met one
# took seconds (its continue-as-new tasks: median 2.6 s, long enough for a child's `update`
# to land during one and have it refused). With these: 1.6 s in all, those tasks 0.17 s.
# Young garbage is still collected every 50,000 new objects; RSS grew 4%.
GC_THRESHOLDS = (50_000, 20, 20)


class SwfcWorker(Worker):
    """A `Worker` that also owns the workflow threads, the proxies' httpx clients, the workers
    of the rate-limited apis' task queues (`api_workers`: it runs and stops them with itself)
    and, unless the caller lent one, the direct httpx client, and closes what it owns on
    shutdown."""

    def __init__(self, client: Client, *, owned_http: httpx.AsyncClient | None, routes: Routes,
                 api_workers: Sequence[Worker] = (), **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._owned_http = owned_http  # None: the caller's client, the caller closes it
        self._routes = routes
        self.api_workers = tuple(api_workers)
        self._executor = kwargs["workflow_task_executor"]

    async def shutdown(self) -> None:
        try:
            await asyncio.gather(super().shutdown(), *(w.shutdown() for w in self.api_workers))
        finally:
            await self._close()

    async def run(self) -> None:
        try:
            await asyncio.gather(super().run(), *(w.run() for w in self.api_workers))
        finally:
            await self._close()

    async def _close(self) -> None:
        await self._routes.aclose()
        if self._owned_http is not None:
            await self._owned_http.aclose()
        self._executor.shutdown(wait=False)


def build_worker(
    client: Client,
    ir: Mapping[str, Any] | ir_mod.IR,
    task_queue: str = DEFAULT_TASK_QUEUE,
    *,
    also: Sequence[Mapping[str, Any] | ir_mod.IR] = (),
    seal_key: bytes | None = None,
    http: httpx.AsyncClient | None = None,
    proxy: ProxyChoice | None = None,
    max_concurrent_activities: int = 50,
    max_concurrent_workflow_tasks: int | None = None,
    max_cached_workflows: int = MAX_CACHED_WORKFLOWS,
    unknown_ir_grace_s: float = registry.DEFAULT_UNKNOWN_IR_GRACE_S,
    gc_thresholds: tuple[int, int, int] | None = GC_THRESHOLDS,
    **worker_kwargs: Any,
) -> SwfcWorker:
    """Register `ir` (by its hash) and build a worker for it.

    Args:
        client: a connected Temporal client.
        ir: the IR document (dict) or an already loaded `IR`.
        task_queue: the queue to poll.
        also: earlier IRs to keep serving, so that workflows started under them (they
            keep the registration they started with) still run after a redeploy.
        seal_key: the key that opens sealed tokens (default: `SWFC_SEAL_KEY` / `.swfc/seal.key`).
        http: an httpx client to share for direct requests (default: a new one, closed with
            the worker).
        proxy: the proxy each request goes through (default: none, whatever the environment
            says; `rules.proxies`); its origin is reported with each load and shown in `status`.
        max_concurrent_workflow_tasks: activations run at once (default: 4 per CPU). The
            SDK's default lets 100s run at once, each on its own thread; they share one GIL,
            so when a few hundred workflows wake together (a refresh, a rotation) each takes
            seconds of wall time and trips the 2 s deadlock detector: failed workflow tasks
            that retry into the same crowd. A few at a time do the same work sooner.
        max_cached_workflows: runs kept in memory between their workflow tasks (default
            `MAX_CACHED_WORKFLOWS`, the SDK's is 1,000). A hierarchy larger than the cache
            keeps evicting and replaying its workflows, a parent of thousands of children
            in the middle of its rounds (its local activities cancelled, the round redone).
        unknown_ir_grace_s: how long a new workflow on `task_queue` whose registration this
            worker lacks fails its task (for a worker that holds it to take it, e.g. during
            a rolling deploy) before it fails for good, saying so.
        gc_thresholds: set as this process's garbage collector thresholds (`gc.set_threshold`;
            default `GC_THRESHOLDS`); None leaves them as they are.
        worker_kwargs: passed on to `temporalio.worker.Worker`.
    Returns:
        The worker; `async with` it or `await worker.run()`.
    """
    if gc_thresholds is not None:
        gc.set_threshold(*gc_thresholds)
    client = with_carried_parsed(client)  # a run's carried input encoded and parsed outside its tasks
    defers_encoding(task_queue)
    for doc in also:
        registry.register(doc if isinstance(doc, ir_mod.IR) else ir_mod.load(doc))
    registry.register(ir if isinstance(ir, ir_mod.IR) else ir_mod.load(ir), current=True)
    registry.set_unknown_ir_grace(task_queue, unknown_ir_grace_s)
    owned_http = None
    if http is None:
        http = owned_http = http_client()
    routes = Routes(http, proxy)
    key = seal_key if seal_key is not None else load_key(create=False)  # a fresh key opens nothing
    activities = LoadActivities(routes, key)
    slots = max_concurrent_workflow_tasks or 4 * (os.cpu_count() or 1)
    requests = [activities.load_entity, activities.list_page]  # every activity that calls an api
    api_workers = [
        Worker(client, task_queue=queue, activities=requests,
               max_concurrent_activities=max_concurrent_activities, max_task_queue_activities_per_second=rate)
        for queue, rate in rate_limited_queues([*also, ir], task_queue).items()
    ]
    return SwfcWorker(
        client,
        owned_http=owned_http,
        routes=routes,
        api_workers=api_workers,
        task_queue=task_queue,
        workflows=[StatefulWorkflow],
        activities=[*requests, deliver_effects],
        max_concurrent_activities=max_concurrent_activities,
        max_concurrent_workflow_tasks=slots,
        max_cached_workflows=max_cached_workflows,
        workflow_task_executor=ThreadPoolExecutor(max_workers=slots, thread_name_prefix="swfc_workflow_"),
        **worker_kwargs,
    )


def rate_limited_queues(irs: Sequence[Mapping[str, Any] | ir_mod.IR], task_queue: str) -> dict[str, float]:
    """`{task queue: requests a second}` of every api with a `rate` (the latest IR's rate
    wins when an earlier one differs: the server keeps one rate per task queue)."""
    loaded = [doc if isinstance(doc, ir_mod.IR) else registry.get(doc["hash"]) for doc in irs]
    return {api.task_queue(task_queue): api.rate_per_s for ir in loaded if ir is not None
            for api in ir.apis.values() if api.rate_per_s is not None}


async def run_worker(
    client: Client,
    ir: Mapping[str, Any],
    task_queue: str = DEFAULT_TASK_QUEUE,
    *,
    stop: asyncio.Event | None = None,
    **kwargs: Any,
) -> None:
    """Run a worker until `stop` is set (or forever); shuts down cleanly either way."""
    worker = build_worker(client, ir, task_queue, **kwargs)
    async with worker:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
