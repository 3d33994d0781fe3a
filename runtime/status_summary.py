"""What a hierarchy looks like in numbers: counts by workflow type and status, and the
workflows that need attention, from Temporal's visibility store rather than a walk.

Stage: the caller's side of the runtime (``swfc status`` without ``--tree``, ``--status``,
the waiting of ``swfc deploy --until-loaded``). Takes a client and a workflow id; gives a
``Summary`` (or a ``Filtered`` list), asking the visibility store with the swfc search
attributes (``runtime.search_attributes``: ``SwfcRoot``, ``SwfcParent``, ``SwfcStatus``,
``SwfcProblem``) and querying only the workflows listed by name (those that need attention,
at most ``shown``) for their errors. So it costs a few dozen small requests at 10,000
workflows where a walk (``runtime.status_tree``) costs one query per workflow.

Needing attention is what ``runtime.status_tree.needs_attention`` says of a workflow's
answer: a status of error or waiting for a token, or a recorded problem it keeps running
with (a refused signal). The visibility store finds the first by ``SwfcStatus`` and the
second by ``SwfcProblem`` (not ``none``), at any size. A hierarchy started without
``SwfcProblem`` (a namespace that has only the other four) has its running workflows with
a recorded problem found only where every workflow is asked (``ask_all_up_to``).

What the visibility store says is eventually consistent: a workflow's ``SwfcStatus`` is the
status it last settled in (upserted when that changes), and the store shows a change about a
second later on the dev server (a refresh interval later on a cluster with Elasticsearch).
``loaded`` is not recorded there: a summary from visibility does not count it. A workflow
started without the attributes (the namespace did not have them then) is not counted; when
the workflow asked about has none, the functions answer None and the caller walks instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from runtime.protocol import Status, StatusNode
from runtime.search_attributes import KEYS, NO_PROBLEM, PARENT, PROBLEM, ROOT, STARTING, STATUS
from runtime.status_tree import (CONCURRENCY, NEEDS_ATTENTION, collect_all, distinct, failed_for_good,
                                 needs_attention, not_loaded, query_status)

ATTENTION_STATUSES = tuple(s for s in NEEDS_ATTENTION if s != Status.UNREACHABLE)  # settled, with an error to read
UNSETTLED = (STARTING, Status.LOADING, Status.UPGRADING)  # not settled since its last (re)start
PAGE_SIZE = 1000
MAX_GROUPS = 200  # (type, status) pairs counted at most: a guard, a spec has far fewer


@dataclass
class Summary:
    """``roots``: the workflows asked about (without children); ``workflows``: how many in
    their hierarchies, each once; ``loaded``: how many have loaded (None when not known: the
    visibility store does not record it); ``by_type``: ``{workflow type: {status: count}}``;
    ``attention``: workflows that need attention (without children, the first ones only when
    ``attention_total`` is larger); ``from_visibility``: counted by Temporal's visibility
    store (eventually consistent), not by a walk."""

    roots: list[StatusNode]
    workflows: int
    loaded: int | None
    by_type: dict[str, dict[str, int]]
    attention: list[StatusNode]
    attention_total: int
    from_visibility: bool


@dataclass
class Filtered:
    """The workflows of a hierarchy with one ``status`` (each with its children's ids),
    out of ``total``."""

    status: str
    total: int
    matches: list[tuple[StatusNode, list[str]]]


def summarize(trees: list[StatusNode]) -> Summary:
    """The summary of walked trees (each workflow counted once)."""
    nodes = distinct(trees)
    counts: dict[tuple[str, str], int] = {}
    for node in nodes:
        pair = (node.workflow_type or "?", node.status)
        counts[pair] = counts.get(pair, 0) + 1
    attention = [_bare(n) for n in nodes if needs_attention(n)]
    return Summary([_bare(t) for t in trees], len(nodes), sum(1 for n in nodes if n.loaded), _by_type(counts),
                   attention, len(attention), from_visibility=False)


def filter_trees(trees: list[StatusNode], status: str) -> Filtered:
    """The workflows of walked trees with ``status``."""
    nodes = distinct(trees)
    return Filtered(status, len(nodes), [(_bare(n), [c.workflow_id for c in n.children])
                                         for n in nodes if n.status == status])


def _bare(node: StatusNode) -> StatusNode:
    return replace(node, children=[])


def _by_type(counts: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (wtype, status), n in sorted(counts.items()):
        out.setdefault(wtype, {})[status] = n
    return out


# -- from the visibility store --------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """One workflow as the visibility store lists it."""

    workflow_id: str
    workflow_type: str
    status: str
    problem: str | None  # the kind of error it holds; None when not recorded (`none`, or no attribute)

    @property
    def needs_attention(self) -> bool:
        return self.status in ATTENTION_STATUSES or self.problem is not None


@dataclass(frozen=True)
class _Scope:
    """The hierarchy below a workflow in the visibility store: ``query`` finds its root's
    running workflows; for a workflow that is not a root, ``rows`` are those below it
    (found level by level through ``SwfcParent``), since a count cannot follow parents.
    ``problems``: the workflow carries ``SwfcProblem``, so the namespace knows it and its
    hierarchy records it."""

    query: str
    rows: tuple[_Row, ...] | None
    problems: bool

    def attention_query(self) -> str:
        """The workflows of the hierarchy that need attention by what they record."""
        statuses = f"{STATUS} IN {_statuses(ATTENTION_STATUSES)}"
        if not self.problems:
            return f"{self.query} AND {statuses}"
        # `IS NOT NULL` too: on Elasticsearch `!=` also matches a workflow without the attribute.
        return f'{self.query} AND ({statuses} OR ({PROBLEM} != "{NO_PROBLEM}" AND {PROBLEM} IS NOT NULL))'


PARENTS_PER_LISTING = 100  # parent ids in one `SwfcParent IN (...)` listing


async def _scope(client: Client, workflow_id: str, description: Any) -> _Scope | None:
    """None when the workflow carries no swfc attributes, or its ids cannot be written in a query."""
    root = description.typed_search_attributes.get(KEYS[ROOT])
    if root is None or _literal(root) is None or _literal(workflow_id) is None:
        return None
    query = f'{ROOT} = {_literal(root)} AND ExecutionStatus = "Running"'
    problems = description.typed_search_attributes.get(KEYS[PROBLEM]) is not None
    if root == workflow_id:
        return _Scope(query, None, problems)
    return _Scope(query, tuple(await _rows_below(client, query, workflow_id)), problems)


async def _rows_below(client: Client, query: str, workflow_id: str) -> list[_Row]:
    """The workflow and those below it, by the parent that started each: one listing per
    level (per ``PARENTS_PER_LISTING`` parents), so the cost follows the subtree's size."""
    rows = [_row(w) async for w in client.list_workflows(f"{query} AND WorkflowId = {_literal(workflow_id)}",
                                                         limit=1)]
    seen, frontier = {workflow_id}, [workflow_id]
    while frontier:
        batch, frontier = frontier[:PARENTS_PER_LISTING], frontier[PARENTS_PER_LISTING:]
        parents = ", ".join(quoted for quoted in map(_literal, batch) if quoted is not None)
        if not parents:
            continue
        async for w in client.list_workflows(f"{query} AND {PARENT} IN ({parents})", page_size=PAGE_SIZE):
            if w.id not in seen:  # a cycle of parents cannot happen, a listing twice can
                seen.add(w.id)
                rows.append(_row(w))
                frontier.append(w.id)
    return rows


def _row(execution: Any) -> _Row:
    recorded = execution.typed_search_attributes
    problem = recorded.get(KEYS[PROBLEM])
    return _Row(execution.id, execution.workflow_type, recorded.get(KEYS[STATUS]) or "?",
                None if problem in (None, NO_PROBLEM) else problem)


def _literal(value: str) -> str | None:
    """``value`` as a visibility-query string, or None if it holds a quote or backslash
    (the query languages of SQL and Elasticsearch visibility escape differently)."""
    return None if any(c in value for c in "\"'\\") else f'"{value}"'


async def _count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def _group_counts(client: Client, query: str) -> dict[tuple[str, str], int]:
    """Counts by (workflow type, status). The dev server's visibility groups only by
    ``ExecutionStatus``, so each pair present is found with a one-row listing that excludes
    the pairs found so far, then counted: two small requests per pair."""
    counts: dict[tuple[str, str], int] = {}
    while len(counts) < MAX_GROUPS:
        others = "".join(f" AND (WorkflowType != {_literal(t)} OR {STATUS} != {_literal(s)})" for t, s in counts)
        first = [w async for w in client.list_workflows(query + others, limit=1)]
        if not first:
            break
        pair = (first[0].workflow_type, first[0].typed_search_attributes.get(KEYS[STATUS]) or "")
        if _literal(pair[0]) is None or _literal(pair[1]) is None:
            break  # cannot be excluded in a query (never so for swfc's types and statuses)
        counts[pair] = await _count(client, f"{query} AND WorkflowType = {_literal(pair[0])} "
                                            f"AND {STATUS} = {_literal(pair[1])}")
    return counts


def _statuses(statuses: Iterable[str]) -> str:
    return "(" + ", ".join(f'"{s}"' for s in statuses) + ")"


async def _query_all(client: Client, workflow_ids: list[str]) -> list[tuple[StatusNode, list[str]]]:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(wid: str) -> tuple[StatusNode, list[str]]:
        async with limit:
            return await query_status(client, wid)

    return list(await asyncio.gather(*(one(wid) for wid in workflow_ids)))


async def visible_count(client: Client, root_id: str) -> int | None:
    """How many running workflows the visibility store records in the hierarchy of the root
    ``root_id``; None when it cannot tell (a namespace without the attributes)."""
    if _literal(root_id) is None:
        return None
    try:
        return await _count(client, f'{ROOT} = {_literal(root_id)} AND ExecutionStatus = "Running"')
    except RPCError:
        return None


async def visible_summary(client: Client, workflow_id: str, description: Any, *, shown: int,
                          ask_all_up_to: int = 0) -> Summary | None:
    """The summary of the hierarchy below ``workflow_id`` (``description``: its
    ``describe()``) from the visibility store, with the first ``shown`` workflows that need
    attention queried for their errors; None when the workflow carries no swfc attributes.
    A hierarchy of at most ``ask_all_up_to`` workflows has every one asked: their answers
    show a running workflow's recorded problem (a refused signal) before the visibility
    store does, and where the hierarchy does not record ``SwfcProblem`` at all."""
    scope = await _scope(client, workflow_id, description)
    if scope is None:
        return None
    # Asked alongside the counts: a root too busy to answer costs its query's timeout once.
    root_answer = asyncio.ensure_future(query_status(client, workflow_id))
    ask_all = False
    if scope.rows is None:
        counts = await _group_counts(client, scope.query)
        if sum(counts.values()) <= ask_all_up_to:
            ask_all, attention_total = True, 0
            named = [w.id async for w in client.list_workflows(scope.query, limit=ask_all_up_to)]
        else:
            attention_total = await _count(client, scope.attention_query())
            named = [w.id async for w in client.list_workflows(scope.attention_query(), limit=shown)]
    else:
        counts = {}
        for row in scope.rows:
            counts[(row.workflow_type, row.status)] = counts.get((row.workflow_type, row.status), 0) + 1
        ask_all = len(scope.rows) <= ask_all_up_to
        attention_rows = [row.workflow_id for row in scope.rows if ask_all or row.needs_attention]
        attention_total, named = len(attention_rows), attention_rows if ask_all else attention_rows[:shown]
    answers = [node for node, _ in await _query_all(client, named)]
    attention = sorted((node for node in answers if needs_attention(node)), key=lambda n: n.workflow_id)
    if ask_all:  # every workflow was asked: what needs attention is what they answered
        attention_total, attention = len(attention), attention[:shown]
    root, _ = await root_answer
    return Summary([root], sum(counts.values()), None, _by_type(counts), attention, attention_total,
                   from_visibility=True)


async def visible_with_status(client: Client, workflow_id: str, description: Any, status: str) -> Filtered | None:
    """The workflows below ``workflow_id`` that the visibility store records with
    ``status``, each queried (the ones whose answer has moved on meanwhile are left out;
    those that do not answer are kept, as ``unreachable``); None when the workflow carries
    no swfc attributes or the status is not one a workflow records (``unreachable`` is the
    caller's word: only a walk finds those)."""
    if status == Status.UNREACHABLE or _literal(status) is None:
        return None
    scope = await _scope(client, workflow_id, description)
    if scope is None:
        return None
    if scope.rows is None:
        total = await _count(client, scope.query)
        ids = [w.id async for w in client.list_workflows(f"{scope.query} AND {STATUS} = {_literal(status)}",
                                                         page_size=PAGE_SIZE)]
    else:
        total, ids = len(scope.rows), [row.workflow_id for row in scope.rows if row.status == status]
    answers = await _query_all(client, sorted(ids))
    return Filtered(status, total, [(node, children) for node, children in answers
                                    if node.status in (status, Status.UNREACHABLE)])


# -- waiting until everything has loaded ------------------------------------------------------


async def _unsettled(client: Client, workflow_ids: list[str]) -> bool:
    """Whether the visibility store still records a workflow of these hierarchies as not
    settled since its (re)start; False when it cannot tell (no attributes: walk)."""
    for wid in workflow_ids:
        if _literal(wid) is None:
            return False
        try:
            if await _count(client, f'{ROOT} = {_literal(wid)} AND ExecutionStatus = "Running" '
                                    f"AND {STATUS} IN {_statuses(UNSETTLED)}"):
                return True
        except RPCError:  # a namespace without the attributes refuses the query
            return False
    return False


async def wait_until_loaded(client: Client, workflow_ids: list[str], timeout: float, *,
                            interval: float = 0.5) -> tuple[list[StatusNode], bool]:
    """Wait until every workflow of the hierarchies below ``workflow_ids`` has loaded, every
    one that has not has failed for good, or ``timeout`` seconds pass. The hierarchies are
    walked only when the visibility store records none of their workflows as still
    starting or loading (a cheap count), and at the deadline: the walk decides.

    Returns:
        The last walked trees, and whether everything had loaded.
    """
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() >= deadline or not await _unsettled(client, workflow_ids):
            trees = await collect_all(client, workflow_ids)
            waiting = not_loaded(trees)
            if not waiting:
                return trees, True
            if failed_for_good(waiting) or time.monotonic() >= deadline:
                return trees, False
        await asyncio.sleep(interval)
