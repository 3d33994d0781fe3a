"""Children and subscribers: what to start, update, cancel and notify. Pure.

Stage: called by the workflow after each change of its state. `plan(ctx)` compares the
relations in the own record with the children index (`state.children`, by workflow id, so
continue-as-new keeps it) and returns the effects of one round; `publish(ctx)` returns the
`update` signals that tell subscribers of a change to the own record; `cleanup(ctx)` the
effects of this entity going away. The workflow carries out each round's effects
concurrently.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from runtime.ir import Child
from runtime.normalize import nested
from runtime.selectors import any_match, changed_paths
from runtime.protocol import Attach, Cancel, ChildRef, Effect, Send, Start, Subscription, WorkflowInput
from runtime.state import Ctx, PlanBasis


def child_id(entity: str, rid: str) -> str:
    """Every workflow's id: `<Entity>-<id>`."""
    return f"{entity}-{rid}"


def wanted(ctx: Ctx) -> dict[str, tuple[Child, str]]:
    """The children the own record asks for: `{workflow_id: (edge, id)}`, minus this
    workflow and its ancestors (that is where a relation cycle stops)."""
    s = ctx.state
    out: dict[str, tuple[Child, str]] = {}
    for edge in ctx.wf.children:
        for rid in ctx.related_ids(edge.field):
            wid = child_id(edge.entity, rid)
            if wid != s.workflow_id and wid not in s.ancestors and wid not in s.foreign and wid not in s.unstartable:
                out.setdefault(wid, (edge, rid))
    return out


def plan(ctx: Ctx, adopt_limit: int | None = None) -> list[Effect]:
    """One round of child management: start/attach new, update changed, drop removed.

    At most `adopt_limit` new children are started or attached in one round (a first round
    of 10,000 would be one workflow task of 10,000 starts); `ctx.backlog` says how many
    wait for the next rounds. A subscribed child started without a record is `awaiting` its
    first `update` from then on (generation 3 on: the interpreter's window).
    """
    # A round that may start nothing (a full window) takes the quick path too, backlog or not:
    # a full plan walks every wanted child (10,000), and such rounds come with every `update`.
    quick = _updated_children(ctx) if adopt_limit == 0 or not ctx.backlog else None
    ctx.changed = None  # until the caller, which knows every change it makes, tracks them
    if quick is not None:
        return quick
    s = ctx.state
    want = wanted(ctx)
    effects: list[Effect] = []
    gone = [w for w in s.children if w not in want]
    referenced = _referenced_ids(ctx) if gone else set()
    for wid in gone:
        effects += _drop(ctx, wid, referenced)
    budget = len(want) if adopt_limit is None else adopt_limit
    ctx.backlog = 0
    for wid, (edge, rid) in want.items():
        record = s.store.get(edge.entity, {}).get(rid)
        entry = s.children.get(wid)
        if entry is None:
            if budget <= 0:
                ctx.backlog += 1
                continue
            budget -= 1
            effects += _adopt(ctx, wid, edge, rid, record)
        elif record is not None and ctx.digest(edge.entity, rid, record) != entry.known:
            entry.known = ctx.digest(edge.entity, rid, record)
            effects.append(to_child(ctx, wid, entry, Send(wid, "update", _child_update(ctx, edge.entity, rid, record))))
    ctx.planned = PlanBasis(
        ctx.record, ctx.index_sizes(), {wid: (i, edge, rid) for i, (wid, (edge, rid)) in enumerate(want.items())})
    return effects


def _updated_children(ctx: Ctx) -> list[Effect] | None:
    """The effects of a round in which only `update` signals changed the state since the
    last plan (`Ctx.changed`, tracked by the interpreter from a plan on): the children whose
    records they merged, in the order a full plan gives; None when the round must plan in
    full (nothing tracked, a backlog, or the own record or an index changed)."""
    basis, changed = ctx.planned, ctx.changed
    if basis is None or changed is None or basis.record is not ctx.record or basis.sizes != ctx.index_sizes():
        return None
    s = ctx.state
    wids = {child_id(entity, rid) for entity, rid in changed}
    places = sorted(basis.wanted[wid] for wid in wids if wid in basis.wanted)
    if any(child_id(edge.entity, rid) not in s.children for _, edge, rid in places):
        return None  # not reached: children leave only in a full plan or where a replan is asked
    effects: list[Effect] = []
    for _, edge, rid in places:
        wid = child_id(edge.entity, rid)
        entry = s.children[wid]
        record = s.store.get(edge.entity, {}).get(rid)
        if record is not None and ctx.digest(edge.entity, rid, record) != entry.known:
            entry.known = ctx.digest(edge.entity, rid, record)
            effects.append(to_child(ctx, wid, entry, Send(wid, "update", _child_update(ctx, edge.entity, rid, record))))
    return effects


def cleanup(ctx: Ctx, *, tell_subscribers: bool = False) -> list[Effect]:
    """This entity is gone: drop every child (cancel the `cancel on delete` ones we own) and,
    on an explicit `delete`, tell subscribers so their relation lets go of it too."""
    s = ctx.state
    effects: list[Effect] = []
    referenced = _referenced_ids(ctx) if s.children else set()
    for wid in list(s.children):
        effects += _drop(ctx, wid, referenced)
    if tell_subscribers:
        gone = {"entity": s.entity, "id": s.entity_id, "from": s.workflow_id}
        effects += [Send(w, "delete", gone) for w in s.subscribers]
    return effects


def _drop(ctx: Ctx, wid: str, referenced: set[tuple[str, str]]) -> list[Effect]:
    """A child whose id left the relation: forget it and its record (unless the own record
    still refers to it, `referenced`), cancel or unsubscribe."""
    entry = ctx.state.children.pop(wid)
    if (entry.entity, entry.id) not in referenced:
        ctx.state.store.get(entry.entity, {}).pop(entry.id, None)
    edge = ctx.wf.edge(entry.field)
    if edge is None:
        return []
    if edge.cancel_on_delete and entry.owned:
        return [Cancel(wid)]
    if edge.subscribe:
        return [Send(wid, "unsubscribe", {"workflow_id": ctx.state.workflow_id})]
    return []


def _referenced_ids(ctx: Ctx) -> set[tuple[str, str]]:
    """Every `(entity, id)` the own record's relations refer to (once per round, not once
    per dropped child: a parent of 10,000 dropping them all would be quadratic)."""
    relations = ctx.ir.entities[ctx.state.entity].relations
    return {(r.type, rid) for r in relations for rid in ctx.related_ids(r.name)}


def _adopt(ctx: Ctx, wid: str, edge: Child, rid: str, record: dict[str, Any] | None) -> list[Effect]:
    """A new related id: start its workflow (autostart) or attach to a running one."""
    s = ctx.state
    known = ctx.digest(edge.entity, rid, record) if record is not None else None
    s.children[wid] = ChildRef(edge.field, edge.workflow, edge.entity, rid, known=known)
    attach: list[Send] = []
    if edge.subscribe:
        attach.append(Send(wid, "subscribe", Subscription(s.workflow_id, list(edge.subscribe))))
    if record is not None:
        attach.append(Send(wid, "update", _child_update(ctx, edge.entity, rid, record)))
    if not edge.autostart:
        return [Attach(wid, tuple(attach))] if attach and ctx.checks_deployments else list(attach)
    if edge.subscribe and known is None and s.generation >= 3:
        s.awaiting[wid] = ctx.now_ms
    memo = {"entity": edge.entity, "id": rid, "started_by": s.workflow_id}
    if s.deployment:
        memo["deployment"] = s.deployment
    leaf = ctx.ir.workflows[edge.workflow].leaf
    return [Start(wid, edge.workflow, child_input(ctx, edge, rid, record), memo, tuple(attach), leaf)]


def to_child(ctx: Ctx, wid: str, child: ChildRef, send: Send) -> Effect:
    """A signal to a child: sent as it is once the child is known to run for this
    deployment, else as an `Attach` that sends it only if so (never to another spec's)."""
    if ctx.checks_deployments and child.deployment is None:
        return Attach(wid, (send,))
    return send


def child_input(ctx: Ctx, edge: Child, rid: str, record: dict[str, Any] | None) -> WorkflowInput:
    """The input of a child started down `edge`: exactly the edge's tokens, no more. An
    item of a collection was just read from the API: the child takes it as loaded. The
    record goes with the records it refers to (`embedded`)."""
    s = ctx.state
    item = edge.collection is not None and record is not None
    if record is not None:
        record = embedded(ctx, edge.entity, rid, record)
    return WorkflowInput(
        ir_hash=s.ir_hash,
        entity_id=rid,
        data=record,
        loaded=item,
        tokens={api: s.tokens[api] for api in edge.tokens if s.tokens.get(api)},
        api_bases=dict(s.api_bases),
        ancestors=[*s.ancestors, s.workflow_id],
        subscribers=[Subscription(s.workflow_id, list(edge.subscribe))] if edge.subscribe else [],
        history_limit=s.history_limit,
        deployment=s.deployment,
        generation=s.generation,
    )


def _update_arg(ctx: Ctx, entity: str, rid: str, record: dict[str, Any]) -> dict[str, Any]:
    return {"entity": entity, "id": rid, "record": record, "from": ctx.state.workflow_id}


def _child_update(ctx: Ctx, entity: str, rid: str, record: dict[str, Any]) -> dict[str, Any]:
    """The `update` a child gets: its record with the records it refers to (`embedded`)."""
    return _update_arg(ctx, entity, rid, embedded(ctx, entity, rid, record))


EMBEDDED_BYTES = 64 * 1024  # a child's record with what it refers to, as JSON (an update carries 256 KB)


def embedded(ctx: Ctx, entity: str, rid: str, record: dict[str, Any]) -> dict[str, Any]:
    """`record` as a child gets it (at its start and in `update`s): with the related records
    this workflow holds nested in place of their keys (`normalize.nested`: a list item's
    `user`, `labels`, `milestone` and its `creator`), so that the child holds what its own
    load of the same body would give: its templates name them (`{milestone.id}`), its own
    children start with them. This workflow's own record stays a key (a relation cycle ends
    there). Past `EMBEDDED_BYTES` the child gets the bare record (it loads the rest itself)."""
    s = ctx.state
    out = nested(ctx.ir, entity, record, s.store, frozenset({(s.entity, s.entity_id), (entity, rid)}))
    if out == record or len(json.dumps(out, separators=(",", ":"))) <= EMBEDDED_BYTES:  # as the payload holds it
        return out
    return record


def publish(ctx: Ctx) -> list[Effect]:
    """`update` signals for subscribers whose selectors match the own record's change.

    A subscriber that already holds the current record (it sent it, or heard it) gets
    nothing: that is what stops echo loops between a parent and a child.
    """
    s = ctx.state
    record = ctx.record
    if record is None:
        return []
    now = ctx.digest(s.entity, s.entity_id, record)
    before = ctx.digest(None, "published", s.published) if s.published is not None else None
    effects: list[Effect] = []
    for wid, sub in s.subscribers.items():
        if sub.known == now:
            continue
        base = s.published if sub.known is not None and sub.known == before else None
        if any_match(sub.selectors, changed_paths(base, record)):
            effects.append(Send(wid, "update", _update_arg(ctx, s.entity, s.entity_id, record)))
        sub.known = now
    if now != before:  # a copy per change, not per round (the record of a big parent is big)
        s.published = copy.deepcopy(record)
    return effects
