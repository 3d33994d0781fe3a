"""The signals a workflow accepts, as a `name → handler` table. Pure.

Stage: the workflow queues each signal as it arrives and applies it here from its main
loop. A handler validates its argument, changes the state and returns the effects to carry
out (signals to forward, nothing else). A bad argument or an unknown name is a recorded
error (`Ctx.error`), never an exception: a signal can not fail a workflow task. Error texts
never echo the payload (it may hold a secret sent to the wrong signal).
"""

from __future__ import annotations

from typing import Any, Callable

from runtime.ir import origin_of
from runtime.normalize import InvalidData, digest, merge_stores, normalize
from runtime.sealing import is_sealed_token
from runtime.selectors import can_match, valid_selector
from runtime.state import Ctx, Effect, Send

Handler = Callable[[Ctx, Any], list[Effect]]


def apply_signal(ctx: Ctx, name: str, arg: Any) -> list[Effect]:
    """Apply one queued signal; returns the effects it asks for."""
    handler = HANDLERS.get(name)
    if handler is None:
        ctx.error("signal", f"unknown signal {name!r} (accepted: {', '.join(sorted(HANDLERS))})")
        return []
    return handler(ctx, arg)


def on_api_token(ctx: Ctx, arg: Any) -> list[Effect]:
    """Set this workflow's token for an api; forward it down edges that carry that api."""
    if not is_sealed_token(arg):
        ctx.error("signal", "apiToken refused: the argument is not a sealed token (seal it with `swfc token set`)")
        return []
    api = arg["api"]
    if api not in ctx.wf.needs:
        ctx.error("signal", f"apiToken refused: {ctx.wf.name} does not use api {api!r}")
        return []
    s = ctx.state
    uses = ctx.wf.source is not None and ctx.wf.source.api == api
    if s.tokens.get(api) == arg:
        # Already held: not forwarded (that stops a cascade going round a cycle), but a
        # workflow waiting for a token tries it again (the API may have refused it briefly).
        if uses and s.status == "waiting_for_token":
            s.stale, s.status = True, "loading"
        return []
    s.tokens[api] = arg
    if uses and (s.status in ("waiting_for_token", "error") or not s.loaded):
        # Only a workflow the old token failed (or that never loaded) reloads: a rotation
        # of a healthy hierarchy costs one signal per workflow, not a reload each.
        s.stale, s.status = True, "loading"
    return [
        Send(wid, "apiToken", arg)
        for wid, child in s.children.items()
        if api in _edge_tokens(ctx, child["field"])
    ]


def _edge_tokens(ctx: Ctx, field_name: str) -> tuple[str, ...]:
    edge = ctx.wf.edge(field_name)
    return edge.tokens if edge else ()


def on_api_url(ctx: Ctx, arg: Any) -> list[Effect]:
    """Point this workflow (only) at another base URL for an api, if its origin is allowed.
    A bare URL means the api of this workflow's own source."""
    if isinstance(arg, str) and ctx.wf.source is not None:
        arg = {"api": ctx.wf.source.api, "url": arg}
    if not (isinstance(arg, dict) and isinstance(arg.get("api"), str) and isinstance(arg.get("url"), str)):
        ctx.error("signal", 'apiUrl refused: expected {"api": NAME, "url": "http(s)://..."}')
        return []
    api = ctx.ir.apis.get(arg["api"])
    if api is None:
        ctx.error("signal", f"apiUrl refused: unknown api {arg['api']!r}")
        return []
    origin = origin_of(arg["url"])
    if origin not in api.allow:
        ctx.error("signal", f"apiUrl refused: origin {origin or arg['url']!r} is not in {api.name}'s allow list {list(api.allow)}")
        return []
    ctx.state.api_urls[api.name] = arg["url"]
    if ctx.wf.source is not None and ctx.wf.source.api == api.name:
        ctx.state.stale = True
    return []


def on_update(ctx: Ctx, arg: Any) -> list[Effect]:
    """Merge a record sent by a parent or a child; `{}` marks this workflow's data stale.
    For a record the workflow holds, the record sent is a patch: the fields it gives are
    checked (with the held record standing in for those it leaves out) and merged."""
    if arg == {} or arg is None:
        # An explicit reload request; it also retries a workflow waiting for a token.
        ctx.state.stale = ctx.wf.source is not None
        if ctx.state.stale and ctx.state.status == "waiting_for_token":
            ctx.state.status = "loading"
        return []
    entity = _entity_ref(ctx, arg, "update")
    if entity is None:
        return []
    record = arg.get("record")
    if not isinstance(record, dict):
        ctx.error("signal", "update refused: `record` must be an object")
        return []
    key = ctx.ir.entities[entity].key
    sent = {key: arg["id"], **record}
    held = ctx.state.store.get(entity, {}).get(arg["id"], {})
    try:
        rid, store = normalize(ctx.ir, entity, {**held, **sent})
    except InvalidData as exc:
        ctx.error("signal", f"update refused: record {entity} {arg['id']} is invalid at {exc.path}: {exc.reason}")
        return []
    if rid != arg["id"]:
        ctx.error("signal", f"update refused: the record's {key} is not {arg['id']!r}")
        return []
    # The sender holds what it sent: the digest of that, as before patches, so that the
    # updates planned from it (and the commands an older history replays) stay the same.
    _note_sender(ctx, arg.get("from"), entity, rid, {k: v for k, v in store[entity][rid].items() if k in sent})
    merge_stores(ctx.state.store, store)
    if ctx.record is not None and ctx.wf.source is None:
        ctx.state.loaded = True
    return []


def _note_sender(ctx: Ctx, sender: Any, entity: str, rid: str, record: dict[str, Any]) -> None:
    """Remember what the sender holds, so its own change is not sent back to it (no echo)."""
    s = ctx.state
    child = s.children.get(sender) if isinstance(sender, str) else None
    if child is not None and (child["entity"], child["id"]) == (entity, rid):
        child["known"] = digest(record)
    sub = s.subscribers.get(sender) if isinstance(sender, str) else None
    if sub is not None and (entity, rid) == (s.entity, s.entity_id):
        sub["known"] = digest(record)


def on_delete(ctx: Ctx, arg: Any) -> list[Effect]:
    """Remove a record (and references to it); `{}` or the own record: this entity is gone."""
    s = ctx.state
    if arg == {} or arg is None or (isinstance(arg, dict) and (arg.get("entity"), arg.get("id")) == (s.entity, s.entity_id)):
        s.status = "deleted"
        return []
    entity = _entity_ref(ctx, arg, "delete")
    if entity is None:
        return []
    rid, record = arg["id"], ctx.record
    from_itself = arg.get("from") == f"{entity}-{rid}"
    rest = _without(ctx, record, entity, rid) if record is not None else None
    if rid not in s.store.get(entity, {}) and rest == record and f"{entity}-{rid}" not in s.children:
        if not from_itself:  # a child that ended after we let go of it is no news
            ctx.error("signal", f"delete refused: there is no {entity} {rid!r} in this workflow's state")
        return []
    s.store.get(entity, {}).pop(rid, None)
    if from_itself:
        s.children.pop(arg["from"], None)  # it ended itself: nothing to cancel
    if rest is not None:
        s.store[s.entity][s.entity_id] = rest
    return []


def _without(ctx: Ctx, record: dict[str, Any], entity: str, rid: str) -> dict[str, Any]:
    """The own record with every reference to `entity` `rid` removed (a new dict)."""
    out = dict(record)
    for rel in ctx.ir.entities[ctx.state.entity].relations:
        if rel.type != entity or rel.name not in out:
            continue
        value = out[rel.name]
        out[rel.name] = [v for v in value if v != rid] if isinstance(value, list) else (None if value == rid else value)
    return out


def on_subscribe(ctx: Ctx, arg: Any) -> list[Effect]:
    """Notify `workflow_id` of changes to this workflow's record that match `selectors`."""
    if not (isinstance(arg, dict) and isinstance(arg.get("workflow_id"), str) and arg["workflow_id"]):
        ctx.error("signal", 'subscribe refused: expected {"workflow_id": ID, "selectors": [...]}')
        return []
    selectors = arg.get("selectors", ["*"])
    if not (isinstance(selectors, list) and selectors and all(valid_selector(x) for x in selectors)):
        ctx.error("signal", "subscribe refused: `selectors` must be a non-empty list of selectors such as \"*\" or \"photos.*\"")
        return []
    fields = [f.name for f in ctx.ir.entities[ctx.state.entity].fields]
    unmatched = [f"selectors[{i}]" for i, sel in enumerate(selectors) if not can_match(sel, fields)]
    if unmatched:  # named by position: a selector is payload, and is not echoed
        shown = ", ".join(unmatched[:5]) + (f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else "")
        ctx.error("signal", f"subscribe refused: {shown} can never match: a selector starts with "
                            f"\"*\", \"**\" or a field of {ctx.state.entity} ({', '.join(fields)})")
        return []
    old = ctx.state.subscribers.get(arg["workflow_id"])
    ctx.state.subscribers[arg["workflow_id"]] = {"selectors": selectors, "known": old["known"] if old else None}
    return []


def on_unsubscribe(ctx: Ctx, arg: Any) -> list[Effect]:
    """Stop notifying `workflow_id`."""
    if not (isinstance(arg, dict) and isinstance(arg.get("workflow_id"), str)):
        ctx.error("signal", 'unsubscribe refused: expected {"workflow_id": ID}')
        return []
    ctx.state.subscribers.pop(arg["workflow_id"], None)
    return []


def _entity_ref(ctx: Ctx, arg: Any, signal: str) -> str | None:
    """The entity named by `{"entity", "id"}`, or None after recording why not."""
    if not (isinstance(arg, dict) and isinstance(arg.get("entity"), str) and isinstance(arg.get("id"), str) and arg["id"]):
        ctx.error("signal", f'{signal} refused: expected {{"entity": NAME, "id": ID, ...}} or {{}}')
        return None
    if arg["entity"] not in ctx.ir.entities:
        ctx.error("signal", f"{signal} refused: unknown entity {arg['entity']!r}")
        return None
    return arg["entity"]


HANDLERS: dict[str, Handler] = {
    "apiToken": on_api_token,
    "apiUrl": on_api_url,
    "update": on_update,
    "delete": on_delete,
    "subscribe": on_subscribe,
    "unsubscribe": on_unsubscribe,
}
