"""The live hierarchy below a workflow as a tree of ``StatusNode`` (DESIGN.md §5), walked by
each workflow's ``status`` query, and what the tree says: what has not loaded, what needs
attention, the workflows with a given status.

Stage: the caller's side of the runtime (``swfc status --tree`` and ``--format json``, the
live view and ``--until-loaded`` of ``swfc deploy``). Takes a client and workflow ids;
gives ``runtime.protocol.StatusNode`` trees. A walk queries every workflow once: at
thousands of workflows ``runtime.status_summary`` answers from Temporal's visibility instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio.client import Client

from runtime.protocol import Status, StatusNode
from runtime.temporal_client import first_line

QUERY_TIMEOUT = timedelta(seconds=10)  # generous: a busy 2-core machine is still "answering"
CONCURRENCY = 32  # status queries in flight at once


async def query_status(client: Client, workflow_id: str) -> tuple[StatusNode, list[str]]:
    """One workflow's node (without children) and the ids of its children, from its
    ``status`` query; a workflow that does not answer is ``unreachable`` with the reason."""
    try:
        answer = await client.get_workflow_handle(workflow_id).query("status", rpc_timeout=QUERY_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - not started, no worker, a timeout: shown as the reason
        return StatusNode.unreachable(workflow_id, _reason(exc)), []
    if not isinstance(answer, dict):
        return StatusNode.unreachable(workflow_id, "its status query answered something else than an object"), []
    return StatusNode.from_answer(workflow_id, answer), [c for c in answer.get("children") or [] if isinstance(c, str)]


def _reason(exc: Exception) -> str:
    reason = first_line(exc)
    if "not found" in reason.lower():
        return "not started yet (or not found)"
    if "timeout" in reason.lower() or "deadline" in reason.lower():
        return "no worker answered the status query (is a worker running on its task queue?)"
    return reason


async def collect_status(client: Client, workflow_id: str, *, concurrency: int = CONCURRENCY) -> StatusNode:
    """The hierarchy below ``workflow_id``, querying each workflow's ``status`` once,
    siblings concurrently. A relation cycle stops where it closes; a workflow reached twice
    (a diamond) appears under each parent."""
    limit = asyncio.Semaphore(concurrency)
    answers: dict[str, asyncio.Future[tuple[StatusNode, list[str]]]] = {}

    async def query(wid: str) -> tuple[StatusNode, list[str]]:
        async with limit:
            return await query_status(client, wid)

    async def node(wid: str, path: tuple[str, ...]) -> StatusNode:
        if wid not in answers:
            answers[wid] = asyncio.ensure_future(query(wid))
        own, child_ids = await answers[wid]
        below = [c for c in child_ids if c not in path]  # a cycle stops here
        children = list(await asyncio.gather(*(node(c, path + (c,)) for c in below)))
        return replace(own, children=children)

    return await node(workflow_id, (workflow_id,))


async def collect_all(client: Client, workflow_ids: list[str]) -> list[StatusNode]:
    """``collect_status`` of each workflow, concurrently, in order."""
    return list(await asyncio.gather(*(collect_status(client, wid) for wid in workflow_ids)))


def distinct(trees: list[StatusNode]) -> list[StatusNode]:
    """Every workflow of ``trees`` once (a workflow attached under two parents is one)."""
    seen: dict[str, StatusNode] = {}
    for tree in trees:
        for node in tree.walk():
            seen.setdefault(node.workflow_id, node)
    return list(seen.values())


def not_loaded(trees: list[StatusNode]) -> list[StatusNode]:
    """The distinct workflows of ``trees`` that have not loaded yet."""
    return [n for n in distinct(trees) if not n.loaded]


def failed_for_good(nodes: list[StatusNode]) -> bool:
    """Whether every one of ``nodes`` failed in a way it will not retry by itself (a bad
    body, a 404): waiting longer cannot help."""
    return bool(nodes) and all(n.failed for n in nodes)


# `runtime.status_summary.ATTENTION_STATUSES` (what the visibility store is asked for) is
# this without `unreachable`, a status no workflow records: a summary's count of workflows
# needing attention and its list of them are the same workflows.
NEEDS_ATTENTION = (Status.ERROR, Status.WAITING_FOR_TOKEN, Status.RATE_LIMITED, Status.UNREACHABLE)


def needs_attention(node: StatusNode) -> bool:
    """A workflow in error, waiting for a token or for an api's rate limit, or not
    answering, or one that recorded a problem it is still running with (a refused signal)."""
    return node.status in NEEDS_ATTENTION or bool(node.last_error)


def with_status(trees: list[StatusNode], status: str) -> list[StatusNode]:
    """The workflows of ``trees`` whose status is ``status``, each once."""
    return [n for n in distinct(trees) if n.status == status]
