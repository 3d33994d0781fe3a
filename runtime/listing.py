"""Collections: when a relation filled from its own list endpoint is listed again, where
its first page is, and what a finished listing changes. Pure.

Stage: called by the interpreter, which reads the pages (one `list_page` activity each)
between `first_page` and `finish`. Each collection has an entry in `state.listings`
(by field): `due` (list it at the next round), `listed` (a listing has finished once),
`next_ms` (workflow-clock time of its `every` re-list, or None), and `pages`: for each page
URL of the last listing that came with an `ETag` or `Last-Modified`, those validators, the
keys it gave and the URL after it. The next listing sends them (`If-None-Match`,
`If-Modified-Since`); a `304` stands for the page as it was: no record enters history.

A collection is listed at start, after each load of the parent's own record (its
template may name fields that changed), on an `update {}` signal, and every `every_ms`.
Only a listing that read every page (or stopped at `max N pages`) changes the relation:
one that failed half-way leaves the relation, and so the children, as they were.
"""

from __future__ import annotations

from typing import Any

from rules.origins import url_origin
from runtime.ir import Child
from runtime.normalize import Store, merge_stores
from runtime.paging import first_url
from runtime.protocol import Status
from runtime.state import Ctx
from runtime.templates import expand, template_values


def entry(ctx: Ctx, edge: Child) -> dict[str, Any]:
    return ctx.state.listings.setdefault(edge.field, {"due": True, "listed": False, "next_ms": None, "pages": {}})


def due_edges(ctx: Ctx) -> list[Child]:
    """The collections to list now: due, the parent's own record at hand (its template
    names the parent's fields), and a token for the api when it needs one (else the
    workflow waits for one, as a load does)."""
    s = ctx.state
    if s.status == Status.WAITING_FOR_TOKEN or (ctx.wf.source is not None and ctx.record is None):
        return []
    out = []
    for edge in ctx.wf.collections:
        if not entry(ctx, edge)["due"]:
            continue
        api = ctx.ir.apis[edge.collection.api]
        if api.needs_token and not s.tokens.get(api.name):
            s.status = Status.WAITING_FOR_TOKEN
            return []
        out.append(edge)
    return out


def mark_all_due(ctx: Ctx) -> None:
    for edge in ctx.wf.collections:
        entry(ctx, edge)["due"] = True


def wake(ctx: Ctx, now_ms: int) -> None:
    """Collections whose `every` has come round become due."""
    for edge in ctx.wf.collections:
        e = entry(ctx, edge)
        if e["next_ms"] is not None and now_ms >= e["next_ms"]:
            e["due"] = True


def next_deadline(ctx: Ctx) -> int | None:
    """The earliest `every` re-list time of a collection not yet due."""
    times = [e["next_ms"] for e in (entry(ctx, c) for c in ctx.wf.collections)
             if not e["due"] and e["next_ms"] is not None]
    return min(times) if times else None


def all_listed(ctx: Ctx) -> bool:
    return all(entry(ctx, c)["listed"] for c in ctx.wf.collections)


def first_page(ctx: Ctx, edge: Child) -> str | None:
    """The URL of the collection's first page, from the parent's record (and its `with`
    values); None after recording why it cannot be built."""
    col = edge.collection
    s = ctx.state
    key = ctx.ir.entities[s.entity].key
    record = {**s.given, **(ctx.record or {}), key: (ctx.record or {}).get(key, s.entity_id)}
    values, missing = template_values(ctx.ir, s.entity, record, s.store, col.variables)
    if missing:
        failed(ctx, edge, f"cannot build {col.template}: no value for {', '.join(missing)}")
        return None
    return first_url(expand(ctx.api_url(col.api), col.template, values), col.paginate)


def allowed(ctx: Ctx, edge: Child, url: str, *, followed: bool) -> bool:
    """Whether a page URL goes to an origin in the api's `allow`; records a refusal."""
    api = ctx.ir.apis[edge.collection.api]
    if api.allows(url):
        return True
    origin = url_origin(url)
    what = "the next page link" if followed else "the collection URL"
    where = str(origin) if origin else repr(url)
    failed(ctx, edge, f"refusing to follow {what} to {where}: not in {api.name}'s allow list "
                      f"{list(api.allow)} (over {api.scheme} only)")
    return False


def failed(ctx: Ctx, edge: Child, message: str) -> None:
    """A listing that could not finish: recorded; the relation stays as it was."""
    ctx.error("list", f"{edge.field}: {message}")
    ctx.state.status = Status.ERROR
    _done(ctx, edge)


def remember(page: dict[str, Any], *, whole: bool) -> dict[str, Any] | None:
    """What to keep of a page read in one piece with validators; None otherwise (a page
    read in slices, or without validators, is read in full again next time)."""
    if not whole or not page.get("validators"):
        return None
    return {"validators": page["validators"], "ids": list(page["ids"]), "next": page["next"]}


def known_page(ctx: Ctx, edge: Child, url: str) -> dict[str, Any] | None:
    """What the last listing kept of the page at `url`, if the records of all its items
    are still held (a 304 then stands for them)."""
    known = entry(ctx, edge).setdefault("pages", {}).get(url)
    if known is None:
        return None
    table = ctx.state.store.get(edge.entity, {})
    return known if all(rid in table for rid in known["ids"]) else None


def unchanged_page(known: dict[str, Any]) -> dict[str, Any]:
    """A page answered `304 Not Modified`: as it was last read, with no records to merge."""
    return {"ids": list(known["ids"]), "store": {}, "errors": [], "next": known["next"], "skip": None,
            "validators": known["validators"]}


def finish(ctx: Ctx, edge: Child, ids: list[str], store: Store, read: dict[str, Any]) -> None:
    """A listing read to its end: its items' records enter the store and their keys, in
    list order, become the relation (the next round of `children.plan` starts, updates
    and drops the children); `read` (page URL -> `remember`) is kept for the next one."""
    s = ctx.state
    merge_stores(s.store, store)
    entry(ctx, edge)["pages"] = {url: known for url, known in read.items() if known is not None}
    key = ctx.ir.entities[s.entity].key
    own = s.store.setdefault(s.entity, {}).setdefault(s.entity_id, {key: s.entity_id})
    own[edge.field] = list(dict.fromkeys(ids))
    entry(ctx, edge)["listed"] = True
    _done(ctx, edge)
    last_failed = bool(s.errors) and s.errors[-1]["kind"] == "list"
    if s.status == Status.LOADING or (s.status == Status.ERROR and last_failed):
        s.status = Status.RUNNING
    if last_failed:
        s.last_error = None  # a good listing answers a failed one
    # Loaded: every collection listed, and the own record too (a source's is stale until then).
    s.loaded = all_listed(ctx) and (ctx.wf.source is None or not s.stale)


def _done(ctx: Ctx, edge: Child) -> None:
    e = entry(ctx, edge)
    e["due"] = False
    every = edge.collection.every_ms
    e["next_ms"] = ctx.now_ms + every if every else None
