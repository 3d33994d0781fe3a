"""The queries a workflow answers, as a `name → function` table. Pure, read-only.

Stage: called by the workflow's dynamic query handler with its `Ctx` and the names of the
signals still queued. Shapes are docs/runtime.md "Queries". Tokens appear as fingerprints only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from runtime.protocol import Status, StatusAnswer
from runtime.state import Ctx

Query = Callable[..., Any]  # (ctx, queued signal names, *query args) -> answer


def status(ctx: Ctx, queued: list[str], *_: Any) -> StatusAnswer:
    """What `swfc status` shows of one workflow; it walks `children`."""
    s, source = ctx.state, ctx.wf.source
    return StatusAnswer(
        workflow_id=s.workflow_id,
        workflow_type=s.workflow_type,
        entity=s.entity,
        id=s.entity_id,
        status=s.status,
        loaded=s.loaded,
        last_error=s.last_error,
        failed=s.failed,
        checked_at=s.checked_at,
        next_try=iso_time(s.rate_limited_until_ms) if s.rate_limited_until_ms is not None else None,
        deployment=s.deployment,
        api_url=ctx.api_url(source.api) if source else None,
        proxy=s.proxy,
        tokens=fingerprints(ctx, queued),
        needs=list(ctx.wf.needs),
        children=sorted(s.children),
    )


def iso_time(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC text."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat()


def fingerprints(ctx: Ctx, queued: list[str]) -> dict[str, str | None]:
    """Every api with auth: the fingerprint of the token held, or None (never the token)."""
    held = ctx.state.tokens
    return {name: (held.get(name) or {}).get("fingerprint") for name, api in sorted(ctx.ir.apis.items()) if api.needs_token}


WHOLE_STORE_RECORDS = 1000  # `state` without a page answers the whole store up to this size
PAGE_LIMIT = 1000  # records per page at most (1,000 records of 2 KB: 2 MB, Temporal's limit)


def state(ctx: Ctx, queued: list[str], page: Any = None) -> dict[str, Any]:
    """The store with status and errors; one page of one table when asked for one.

    Without an argument: the whole store while it holds at most `WHOLE_STORE_RECORDS`
    records; beyond that only the own record, and `paged: true` (ask for pages). `tables`
    counts the records of every table. With `{"table": ENTITY, "offset": N, "limit": M}`
    (offset 0 and limit 100 by default, limit at most `PAGE_LIMIT`): that table's records
    ordered by id, from the offset, under `records`, with `total` and `next_offset` (None
    after the last page).
    """
    s = ctx.state
    answer = {"status": s.status, "loaded": s.loaded, "last_error": s.last_error, "errors": s.errors,
              "tables": {entity: len(table) for entity, table in sorted(s.store.items())}}
    if page is not None:
        return {**answer, **_page(s.store, page)}
    if sum(answer["tables"].values()) <= WHOLE_STORE_RECORDS:
        return {**answer, "store": s.store, "paged": False}
    own = {s.entity: {s.entity_id: ctx.record}} if ctx.record is not None else {}
    return {**answer, "store": own, "paged": True}


def _page(store: dict[str, Any], page: Any) -> dict[str, Any]:
    if not isinstance(page, dict) or not isinstance(page.get("table"), str):
        raise ValueError('state takes {"table": ENTITY, "offset": N, "limit": M} (offset and limit optional)')
    offset, limit = page.get("offset", 0), page.get("limit", 100)
    if not (_count(offset) and _count(limit) and 0 < limit <= PAGE_LIMIT):
        raise ValueError(f"state: offset must be a whole number >= 0 and limit 1..{PAGE_LIMIT}")
    table = store.get(page["table"], {})
    ids = sorted(table)[offset:offset + limit]
    following = offset + limit if offset + limit < len(table) else None
    return {"table": page["table"], "offset": offset, "limit": limit, "total": len(table),
            "records": {rid: table[rid] for rid in ids}, "next_offset": following}


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def pending_changes(ctx: Ctx, queued: list[str], *_: Any) -> list[dict[str, Any]]:
    """Signals queued but not applied yet, and a pending reload."""
    s = ctx.state
    reload = [{"kind": "reload", "waiting_for_token": s.status == Status.WAITING_FOR_TOKEN}] if s.stale else []
    return [{"kind": "signal", "name": name} for name in queued] + reload


def subscriptions(ctx: Ctx, queued: list[str], *_: Any) -> dict[str, Any]:
    s = ctx.state
    subscribing = {e.field for e in ctx.wf.children if e.subscribe}
    return {
        "subscribers": [{"workflow_id": w, "selectors": sub.selectors} for w, sub in sorted(s.subscribers.items())],
        "subscribed_to": sorted(w for w, c in s.children.items() if c.field in subscribing),
    }


def managed_paths(ctx: Ctx, queued: list[str], *_: Any) -> list[dict[str, Any]]:
    """Per child edge: the relation field, its workflow and entity, and the children on it."""
    return [
        {
            "field": e.field,
            "workflow": e.workflow,
            "entity": e.entity,
            "children": sorted(w for w, c in ctx.state.children.items() if c.field == e.field),
        }
        for e in ctx.wf.children
    ]


def api_token(ctx: Ctx, queued: list[str], api: str | None = None) -> Any:
    """The fingerprint of the token held for `api`, or None. Without `api`: for a spec with
    one api that has auth, that api's (DESIGN.md: "a fingerprint or null"); with several,
    `{api: fingerprint or None}`."""
    return _one_or_all(fingerprints(ctx, queued), api)


def api_url(ctx: Ctx, queued: list[str], api: str | None = None) -> Any:
    """This workflow's base URL for `api` (its override, else the deployment's base).
    Without `api`: for a spec with one api, that api's; with several, `{api: url}`."""
    return _one_or_all({name: ctx.api_url(name) for name in sorted(ctx.ir.apis)}, api)


def _one_or_all(by_api: dict[str, Any], api: str | None) -> Any:
    if api is not None:
        if api not in by_api:
            raise ValueError(f"unknown api {api!r} (known: {', '.join(by_api) or 'none'})")
        return by_api[api]
    if len(by_api) <= 1:
        return next(iter(by_api.values()), None)
    return by_api


QUERIES: dict[str, Query] = {
    "id": lambda ctx, queued, *_: ctx.state.entity_id,
    "entityName": lambda ctx, queued, *_: ctx.state.entity,
    "state": state,
    "pendingChanges": pending_changes,
    "subscriptions": subscriptions,
    "managedPaths": managed_paths,
    "apiUrl": api_url,
    "apiToken": api_token,
    "status": status,
}
