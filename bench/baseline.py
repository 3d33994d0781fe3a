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

Run a worker with `build_baseline_worker(client, ir, task_queue)`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import httpx
    from jsonschema import Draft202012Validator
    from temporalio.client import Client
    from temporalio.exceptions import ApplicationError
    from temporalio.worker import Worker

    from runtime.sealing import open_sealed

LOAD_TIMEOUT = timedelta(seconds=15)
LOAD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10),
                         maximum_attempts=4, backoff_coefficient=2.0)
LOCAL_TIMEOUT = timedelta(seconds=30)


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
        token = open_sealed(req["token"], self._key)
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


async def _load(level: dict[str, Any], entity_id: str, token: dict, base_url: str) -> dict[str, Any]:
    return await workflow.execute_activity(
        "baseline_load",
        {"entity": level["entity"], "path": level["path"].replace("{id}", entity_id), "token": token,
         "base_url": base_url},
        result_type=dict, start_to_close_timeout=LOAD_TIMEOUT, retry_policy=LOAD_RETRY,
    )


class _Holder:
    """Holds the token; `fingerprint` answers which one."""

    token: dict[str, str]
    loaded: bool

    def _hold(self, sealed: dict[str, str]) -> None:
        self.token = sealed


@workflow.defn(name="BaselineLeaf")
class BaselineLeaf(_Holder):
    def __init__(self) -> None:
        self.loaded = False

    @workflow.run
    async def run(self, inp: dict[str, Any]) -> None:
        self.token = inp["token"]
        await _load(inp["levels"][0], inp["id"], self.token, inp["base_url"])
        self.loaded = True
        await workflow.wait_condition(lambda: False)  # runs until cancelled/terminated

    @workflow.signal
    def apiToken(self, sealed: dict[str, str]) -> None:  # noqa: N802 - swfc's signal name
        self._hold(sealed)

    @workflow.query
    def fingerprint(self) -> str:
        return self.token["fingerprint"]


@workflow.defn(name="BaselineParent")
class BaselineParent(_Holder):
    def __init__(self) -> None:
        self.loaded = False
        self.children: list[str] = []
        self.pending: list[dict[str, str]] = []

    @workflow.run
    async def run(self, inp: dict[str, Any]) -> None:
        self.token = inp["token"]
        level, below = inp["levels"][0], inp["levels"][1:]
        record = await _load(level, inp["id"], self.token, inp["base_url"])
        self.loaded = True
        kind = "BaselineParent" if len(below) > 1 else "BaselineLeaf"
        children = [
            {"id": f"{below[0]['entity']}-{cid}", "workflow": kind,
             "arg": {**inp, "id": cid, "levels": below, "token": self.token}}
            for cid in record[level["field"]]
        ]
        self.children = [c["id"] for c in children]
        await self._start(inp["mode"], children)
        while True:
            await workflow.wait_condition(lambda: bool(self.pending))
            sealed, self.pending = self.pending[-1], []
            await self._forward(inp["mode"], sealed)

    async def _start(self, mode: str, children: list[dict[str, Any]]) -> None:
        if mode == "client":
            await workflow.execute_local_activity(
                "baseline_start", {"children": children, "task_queue": workflow.info().task_queue},
                start_to_close_timeout=LOCAL_TIMEOUT)
            return
        await asyncio.gather(*(
            workflow.start_child_workflow(c["workflow"], c["arg"], id=c["id"],
                                          parent_close_policy=workflow.ParentClosePolicy.ABANDON)
            for c in children))

    async def _forward(self, mode: str, sealed: dict[str, str]) -> None:
        if mode == "client":
            await workflow.execute_local_activity(
                "baseline_signal", {"ids": self.children, "signal": "apiToken", "arg": sealed},
                start_to_close_timeout=LOCAL_TIMEOUT)
            return
        await asyncio.gather(*(workflow.get_external_workflow_handle(wid).signal("apiToken", sealed)
                               for wid in self.children))

    @workflow.signal
    def apiToken(self, sealed: dict[str, str]) -> None:  # noqa: N802 - swfc's signal name
        self._hold(sealed)
        self.pending.append(sealed)

    @workflow.query
    def fingerprint(self) -> str:
        return self.token["fingerprint"]


@workflow.defn(name="BaselineRefresh")
class BaselineRefresh:
    """Reload every `every_ms`; continue as new at `history_limit` events (or when Temporal
    suggests it), carrying the number of loads."""

    @workflow.run
    async def run(self, inp: dict[str, Any]) -> None:
        level = inp["levels"][0]
        while True:
            await _load(level, inp["id"], inp["token"], inp["base_url"])
            inp["loads"] = inp.get("loads", 0) + 1
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() >= inp["history_limit"]:
                workflow.continue_as_new(inp)
            await workflow.sleep(timedelta(milliseconds=inp["every_ms"]))


# ---------------------------------------------------------------------------- the worker


def build_baseline_worker(client: Client, ir: dict, task_queue: str, seal_key: bytes,
                          **worker_kwargs: Any) -> tuple[Worker, httpx.AsyncClient]:
    """A plain temporalio worker for the baseline; close the httpx client after it."""
    http = httpx.AsyncClient(follow_redirects=False, limits=httpx.Limits(max_connections=100))
    schemas = {name: entity["schema"] for name, entity in ir["entities"].items()}
    acts = BaselineActivities(http, schemas, seal_key)
    worker = Worker(client, task_queue=task_queue,
                    workflows=[BaselineParent, BaselineLeaf, BaselineRefresh],
                    activities=[acts.load, start_children, signal_children], **worker_kwargs)
    return worker, http
