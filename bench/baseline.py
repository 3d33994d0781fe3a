"""The hand-written temporalio baseline that bench/perf.py measures swfc against.

What a competent temporalio user would write by hand for the same hierarchies, doing the
same Temporal work as swfc: the same workflow starts, one activity per load making the
same HTTP GET (same URL, same `Authorization: Bearer` header from the same AES-GCM sealed
token, opened inside the activity), the same JSON parse and JSON Schema validation (one
validator compiled per entity, from the same IR schemas), and the same `apiToken` signals
cascading down the tree.

- `BaselineParent`: loads its entity, starts one child per id in its relation field (the
  next level), and forwards every `apiToken` signal to all its children concurrently.
  One class serves the root and the middle level: `levels` in its input says which
  entity, path and relation it manages (a hand-written `OrgWorkflow`/`TeamWorkflow`
  would hard-code them; the Temporal work is the same).
- `BaselineLeaf`: loads its entity and holds its token (updated by `apiToken`).
- `BaselineRefresh`: reloads every `every_ms`, continuing as new when history is long.

Children are started and signalled in one of two ways (`mode` in the input):
- `"client"` (the default, and the faster on the dev server): a local activity starts or
  signals them all concurrently through the worker's Temporal client — the same trick
  swfc uses; the children are then independent executions.
- `"child"`: `workflow.start_child_workflow` (ParentClosePolicy.ABANDON) for every child
  under one `asyncio.gather`, and external-workflow signals, also gathered. The server
  completes a workflow's own child-start and external-signal commands one at a time.

Each workflow class has a module of its own in `bench/baseline_workflows/`, importing this
module (activities, the `load` helper) passed through: Temporal's sandbox re-imports the
module that defines a workflow for every workflow it runs, so a competent user keeps that
module small. Run a worker with `build_baseline_worker(client, ir, task_queue, seal_key)`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from runtime.sealing import deployment, open_sealed

LOAD_TIMEOUT = timedelta(seconds=15)
LOAD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10),
                         maximum_attempts=4, backoff_coefficient=2.0)


# ---------------------------------------------------------------------------- activities


class BaselineActivities:
    """One httpx client per worker, one compiled validator per entity."""

    def __init__(self, http: httpx.AsyncClient, schemas: dict[str, dict], seal_key: bytes) -> None:
        self._http = http
        self._validators = {name: Draft202012Validator(schema) for name, schema in schemas.items()}
        self._key = seal_key

    @activity.defn(name="baseline_load")
    async def load(self, req: dict[str, Any]) -> dict[str, Any]:
        """GET base_url + path with the opened token; parse and validate the record."""
        info = activity.info()
        token = open_sealed(req["token"], self._key, deployment=deployment(info.workflow_namespace, info.task_queue))
        url = req["base_url"].rstrip("/") + req["path"]
        response = await self._http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if response.status_code >= 500:
            raise ApplicationError(f"GET {url}: HTTP {response.status_code}", type="HttpServerError")
        if response.status_code != 200:
            raise ApplicationError(f"GET {url}: HTTP {response.status_code}", non_retryable=True)
        record = json.loads(response.content)
        error = next(iter(self._validators[req["entity"]].iter_errors(record)), None)
        if error is not None:
            raise ApplicationError(f"GET {url}: invalid: {error.message}", non_retryable=True)
        return record


@activity.defn(name="baseline_start")
async def start_children(batch: dict[str, Any]) -> None:
    """Start every child of `batch["children"]` concurrently from the worker's client."""
    client = activity.client()
    queue = batch["task_queue"]
    await asyncio.gather(*(client.start_workflow(c["workflow"], c["arg"], id=c["id"], task_queue=queue)
                           for c in batch["children"]))


@activity.defn(name="baseline_signal")
async def signal_children(batch: dict[str, Any]) -> None:
    """Send one signal to every workflow of `batch["ids"]` concurrently."""
    client = activity.client()
    await asyncio.gather(*(client.get_workflow_handle(wid).signal(batch["signal"], batch["arg"])
                           for wid in batch["ids"]))


# ---------------------------------------------------------------------------- workflows


async def load(level: dict[str, Any], entity_id: str, token: dict, base_url: str) -> dict[str, Any]:
    """From workflow code: the `baseline_load` activity for `level`'s entity `entity_id`."""
    return await workflow.execute_activity(
        "baseline_load",
        {"entity": level["entity"], "path": level["path"].replace("{id}", entity_id), "token": token,
         "base_url": base_url},
        result_type=dict, start_to_close_timeout=LOAD_TIMEOUT, retry_policy=LOAD_RETRY,
    )


# ---------------------------------------------------------------------------- the worker


def build_baseline_worker(client: Client, ir: dict, task_queue: str, seal_key: bytes,
                          **worker_kwargs: Any) -> tuple[Worker, httpx.AsyncClient]:
    """A plain temporalio worker for the baseline; close the httpx client after it."""
    http = httpx.AsyncClient(follow_redirects=False, limits=httpx.Limits(max_connections=100))
    schemas = {name: entity["schema"] for name, entity in ir["entities"].items()}
    acts = BaselineActivities(http, schemas, seal_key)
    from bench.baseline_workflows.leaf import BaselineLeaf
    from bench.baseline_workflows.parent import BaselineParent
    from bench.baseline_workflows.refresh import BaselineRefresh

    worker = Worker(client, task_queue=task_queue,
                    workflows=[BaselineParent, BaselineLeaf, BaselineRefresh],
                    activities=[acts.load, start_children, signal_children], **worker_kwargs)
    return worker, http
