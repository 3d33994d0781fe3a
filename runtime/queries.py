"""The queries a workflow answers, as a `name → function` table. Pure, read-only.

Stage: called by the workflow's dynamic query handler with its `Ctx` and the names of the
signals still queued. Shapes are docs/runtime.md "Queries". Tokens appear as fingerprints only.
"""

from __future__ import annotations

from typing import Any, Callable

from runtime.state import Ctx

Query = Callable[[Ctx, list[str]], Any]


def status(ctx: Ctx, queued: list[str]) -> dict[str, Any]:
    """What `swfc status` shows of one workflow; it walks `children`."""
    s, source = ctx.state, ctx.wf.source
    return {
        "workflow_id": s.workflow_id,
        "workflow_type": s.workflow_type,
        "entity": s.entity,
        "id": s.entity_id,
        "status": s.status,
        "loaded": s.loaded,
        "last_error": s.last_error,
        "api_url": ctx.api_url(source.api) if source else None,
        "tokens": fingerprints(ctx, queued),
        "children": sorted(s.children),
    }


def fingerprints(ctx: Ctx, queued: list[str]) -> dict[str, str | None]:
    """Every api with auth: the fingerprint of the token held, or None (never the token)."""
    held = ctx.state.tokens
    return {name: (held.get(name) or {}).get("fingerprint") for name, api in sorted(ctx.ir.apis.items()) if api.needs_token}


def state(ctx: Ctx, queued: list[str]) -> dict[str, Any]:
    s = ctx.state
    return {"store": s.store, "status": s.status, "loaded": s.loaded, "last_error": s.last_error, "errors": s.errors}


def pending_changes(ctx: Ctx, queued: list[str]) -> list[dict[str, Any]]:
    """Signals queued but not applied yet, and a pending reload."""
    s = ctx.state
    reload = [{"kind": "reload", "waiting_for_token": s.status == "waiting_for_token"}] if s.stale else []
    return [{"kind": "signal", "name": name} for name in queued] + reload


def subscriptions(ctx: Ctx, queued: list[str]) -> dict[str, Any]:
    s = ctx.state
    subscribing = {e.field for e in ctx.wf.children if e.subscribe}
    return {
        "subscribers": [{"workflow_id": w, "selectors": sub["selectors"]} for w, sub in sorted(s.subscribers.items())],
        "subscribed_to": sorted(w for w, c in s.children.items() if c["field"] in subscribing),
    }


def managed_paths(ctx: Ctx, queued: list[str]) -> list[dict[str, Any]]:
    """Per child edge: the relation field, its workflow and entity, and the children on it."""
    return [
        {
            "field": e.field,
            "workflow": e.workflow,
            "entity": e.entity,
            "children": sorted(w for w, c in ctx.state.children.items() if c["field"] == e.field),
        }
        for e in ctx.wf.children
    ]


QUERIES: dict[str, Query] = {
    "id": lambda ctx, queued: ctx.state.entity_id,
    "entityName": lambda ctx, queued: ctx.state.entity,
    "state": state,
    "pendingChanges": pending_changes,
    "subscriptions": subscriptions,
    "managedPaths": managed_paths,
    "apiUrl": lambda ctx, queued: {api: ctx.api_url(api) for api in sorted(ctx.ir.apis)},
    "apiToken": fingerprints,
    "status": status,
}
