"""Small async helpers for the runtime tests: start a root, query, wait for a recorded error,
walk a hierarchy."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError

from tests.helpers import assert_eventually
from tests.runtime.irs import root_input


async def start_root(client: Client, ir: dict[str, Any], task_queue: str, uid: str, token: str | None, *,
                     search_attributes: Any = None, **extra: Any):
    """Start `UserWorkflow` for user `uid` as `swfc deploy` would; returns the handle."""
    return await client.start_workflow(
        "UserWorkflow", root_input(ir, uid, token, task_queue, **extra), id=f"User-{uid}", task_queue=task_queue,
        memo={"entity": "User", "id": uid}, search_attributes=search_attributes,
    )


async def query(client: Client, wid: str, name: str = "status") -> Any:
    return await client.get_workflow_handle(wid).query(name)


async def try_query(client: Client, wid: str, name: str = "status") -> Any:
    """The query's answer, or None while the workflow does not exist / cannot answer yet."""
    try:
        return await query(client, wid, name)
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):  # not started, or no worker has run it yet
        return None


async def error_recorded(client: Client, wid: str, *fragments: str) -> dict[str, Any]:
    """`wid`'s `state` once one of its recorded errors holds every one of `fragments`."""
    async def check():
        st = await query(client, wid, "state")
        assert any(all(f in e["message"] for f in fragments) for e in st["errors"]), st["errors"]
        return st

    return await assert_eventually(check)


async def tree(client: Client, root: str) -> dict[str, dict[str, Any]]:
    """`{workflow_id: status}` for the root and every child below it (walking `children`)."""
    seen: dict[str, dict[str, Any]] = {}
    frontier = [root]
    while frontier:
        answers = await asyncio.gather(*(try_query(client, w) for w in frontier))
        nxt: list[str] = []
        for wid, st in zip(frontier, answers):
            if st is None:
                raise AssertionError(f"{wid} does not answer yet")
            seen[wid] = st
            nxt += [c for c in st["children"] if c not in seen and c not in nxt]
        frontier = nxt
    return seen


async def execution_status(client: Client, wid: str) -> WorkflowExecutionStatus | None:
    return (await client.get_workflow_handle(wid).describe()).status
