"""The `deliver_effects` activity: one round's starts, signals and cancellations, at once.

Stage: runs on the worker (as a local activity of the workflow), with the worker's Temporal
client. Takes `{"items": [...]}` (`DeliveryItem`s) from the interpreter (`runtime.interpreter`); gives one
`DeliveryResult` per item.

Why an activity and not `start_child_workflow` / external signal handles: the server
completes the commands a workflow issues on *its own* history one at a time — about 50–90 ms
each on the dev server, so a 50-child rotation took 2.5 s and a 50-child start 4.5 s even
with every command issued concurrently. Sent from the client, 50 signals land in ~0.1 s.
The started workflows are independent executions tracked by id (as `ParentClosePolicy.ABANDON`
children would be): a parent's continue-as-new, completion or cancellation never touches them.

Items and results are `runtime.protocol.DeliveryItem` / `DeliveryResult`. A start whose id
is already running (another parent, or an earlier attempt of this one) sends the item's
`attach` signals instead; `memo.started_by` tells whether it is ours. An item with `attach`
alone sends them to the running workflow. Either way, one that runs for another deployment
(`memo.deployment`, the spec's name) is never adopted: nothing is sent to it, and the result
names its deployment in `foreign`; else the result says which deployment it runs for.
Learning that takes a `describe` (a refused start does not say who started the running
workflow); the parent keeps the answer in its `ChildRef`, so it asks once per child.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from rules.names import DELIVER_ACTIVITY, UPGRADE_UPDATE
from runtime.normalize import cut
from runtime.protocol import WORKFLOW_TASK_TIMEOUT, DeliveryItem, DeliveryResult, Signal, StartRequest, task_timeout
from runtime.search_attributes import SETTLING_WAITS, not_yet_known, typed


@activity.defn(name=DELIVER_ACTIVITY)
async def deliver_effects(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """Carry out every item of `{"items": [DeliveryItem]}` concurrently; one
    `DeliveryResult` for each, in order (see the module docstring)."""
    client = activity.client()
    items = [DeliveryItem.from_json(item) for item in batch["items"]]
    return [r.to_json() for r in await asyncio.gather(*(_one(client, item) for item in items))]


async def _one(client: Client, item: DeliveryItem) -> DeliveryResult:
    wid = item.workflow_id
    handle = client.get_workflow_handle(wid)
    try:
        if item.start is not None:
            return await _start(client, handle, item.start, item.attach)
        if item.attach:
            return await _attach(handle, item.attach, item.deployment)
        if item.cancel:
            await handle.cancel()
        elif item.upgrade is not None:
            await handle.execute_update(UPGRADE_UPDATE, item.upgrade)
        else:
            await signal_unless_closing(handle, item.signal, item.arg)
    except RPCError as exc:
        # INVALID_ARGUMENT: the request itself is wrong (a workflow id made of an API's key
        # over the server's 1,000 bytes); search attributes the server does not know yet are
        # waited for, and then tried again later, not refused for good.
        refused = exc.status == RPCStatusCode.INVALID_ARGUMENT and not not_yet_known(exc)
        return DeliveryResult(wid, ok=False, gone=exc.status == RPCStatusCode.NOT_FOUND, error=exc.message,
                              refused=refused)
    except UnicodeEncodeError:  # an id holding a lone surrogate (an API's key): never UTF-8
        return DeliveryResult(wid, ok=False, error="the workflow id is not valid UTF-8", refused=True)
    except WorkflowUpdateFailedError as exc:  # the child's validator said why it cannot
        return DeliveryResult(wid, ok=False, error=f"upgrade refused: {refusal(exc)}")
    return DeliveryResult(wid, ok=True)


CLOSING_WAITS = (0.2, 0.5, 1.0, 2.0, 4.0)  # seconds between tries while a run is closing


async def signal_unless_closing(handle: WorkflowHandle, name: str, arg: Any) -> None:
    """Signal, trying again while the workflow's run is closing: a run that continues as
    new refuses signals for a moment ("workflow is closing"), and its next run takes them
    (a subscribed parent of 10,000 continues as new while its children's `update`s arrive;
    3 of them were lost this way)."""
    waits = list(CLOSING_WAITS)
    while True:
        try:
            await handle.signal(name, arg)
            return
        except RPCError as exc:
            if not waits or "workflow is closing" not in exc.message:
                raise
            await asyncio.sleep(waits.pop(0))


def refusal(exc: WorkflowUpdateFailedError) -> str:
    """Why a workflow's update validator refused (its ApplicationError's message)."""
    return getattr(exc.cause, "message", None) or str(exc.cause or exc)


async def start_unless_running(client: Client, workflow: str, arg: Any, *, workflow_id: str,
                               task_queue: str, memo: dict[str, Any],
                               search_attributes: dict[str, str] | None = None,
                               timeout: timedelta = WORKFLOW_TASK_TIMEOUT) -> bool:
    """Start `workflow` as `workflow_id` (with `search_attributes`, see
    `runtime.search_attributes`; waiting while the server does not know attributes created
    a moment ago, and with `timeout` as its workflow task timeout); False when that id
    already runs (one workflow per entity: the caller attaches to the running one instead).

    Asks for an eager start: when a worker of `task_queue` shares this client (the delivery
    activity's starts) and has a free slot, the server hands the new workflow's first task
    back in its answer, and it runs at once, without a trip through the task queue and a
    worker's poll. Elsewhere (the CLI's client) it is asked for and not granted: nothing
    changes. The history is the same either way."""
    waits = list(SETTLING_WAITS)
    while True:
        try:
            await client.start_workflow(workflow, arg, id=workflow_id, task_queue=task_queue, memo=memo,
                                        search_attributes=typed(search_attributes), task_timeout=timeout,
                                        id_conflict_policy=WorkflowIDConflictPolicy.FAIL, request_eager_start=True)
            return True
        except WorkflowAlreadyStartedError:
            return False
        except RPCError as exc:  # attributes created a moment ago: see SETTLING_WAITS
            if not waits or not not_yet_known(exc):
                raise
            await asyncio.sleep(waits.pop(0))


async def _start(client: Client, handle: WorkflowHandle, start: StartRequest, attach: list[Signal]) -> DeliveryResult:
    wid = handle.id
    if await start_unless_running(client, start.workflow, start.arg, workflow_id=wid, task_queue=start.task_queue,
                                  memo=start.memo, search_attributes=start.search_attributes,
                                  timeout=task_timeout(start.leaf)):
        return DeliveryResult(wid, ok=True, owned=True, deployment=start.memo.get("deployment"))
    # One workflow per entity: attach to the running one (subscribe, hand over the data).
    return await _attach(handle, attach, start.memo.get("deployment"), start.memo["started_by"])


async def _attach(handle: WorkflowHandle, signals: list[Signal], ours: str | None,
                  started_by: str | None = None) -> DeliveryResult:
    """Send `signals` to the running workflow unless it runs for another deployment than
    `ours`; `owned` when it was `started_by` this parent (an earlier attempt of the start)."""
    wid = handle.id
    description = await handle.describe()
    if description.status != WorkflowExecutionStatus.RUNNING:
        return DeliveryResult(wid, ok=False, gone=True, error=f"{cut(wid)} is not running")
    memo = await description.memo()
    theirs = memo.get("deployment")
    if ours and theirs and ours != theirs:
        error = f"{cut(wid)} runs for deployment {theirs!r}, not {ours!r}: not adopted"
        return DeliveryResult(wid, ok=False, error=error, foreign=theirs)
    for signal in signals:
        await signal_unless_closing(handle, signal.signal, signal.arg)
    owned = started_by is not None and memo.get("started_by") == started_by
    return DeliveryResult(wid, ok=True, owned=owned, deployment=theirs or ours)
